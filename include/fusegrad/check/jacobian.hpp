#pragma once
/// @file
/// `fg::check::jacobian(expr, leaf)`: the full Jacobian of a value of any shape with respect
/// to one param leaf, numerically (one central difference per entry of the leaf) and
/// analytically (one vector-Jacobian product per entry of the value), and their comparison.

#include <chrono>
#include <cstddef>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "fusegrad/check/comparison.hpp"
#include "fusegrad/check/gradcheck.hpp"
#include "fusegrad/check/options.hpp"
#include "fusegrad/check/report.hpp"
#include "fusegrad/check/text_table.hpp"
#include "fusegrad/check/to_double.hpp"
#include "fusegrad/core/leaf.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/grad/compile.hpp"
#include "fusegrad/io/print.hpp"

namespace fusegrad::check {

/// Both Jacobians of a value with respect to one leaf, J[i, j] = ∂value_i / ∂leaf_j, with the
/// value and the leaf flattened row-major.
struct jacobian_report {
    std::string expression;           ///< the expression as written
    shape value_shape{};              ///< the value's shape (rows of J)
    leaf_report leaf;                 ///< the leaf, and the entrywise comparison
    xt::xtensor<double, 2> numeric;   ///< central differences, in double
    xt::xtensor<double, 2> analytic;  ///< row i: backward with seed e_i
    double seconds = 0;               ///< wall time

    /// True when every entry of J was within atol + rtol·|numeric|.
    bool passed() const noexcept { return leaf.passed(); }
};

/// Prints a matrix with aligned columns (for small Jacobians).
void print_matrix(std::ostream& os, const xt::xtensor<double, 2>& m,
                  const std::string& indent = "  ", int digits = 5);

/// The comparison as one table row, then (if J has at most 16 columns and 16 rows) both
/// matrices.
std::ostream& operator<<(std::ostream& os, const jacobian_report& r);

namespace detail {
/// The comparison of analytic and numeric entries, the time taken, and the throw on failure.
void finish_jacobian(jacobian_report& r, const gradcheck_options& opts,
                     std::chrono::steady_clock::time_point start);

template <fixed_string Name, class List>
struct param_named {
    static_assert(!std::is_same_v<List, List>,
                  "fg::check::jacobian: the expression has no param leaf with this name");
};
template <fixed_string Name, class L0, class... Ls>
struct param_named<Name, fusegrad::detail::type_list<L0, Ls...>> {
    using type =
        typename std::conditional_t<L0::name == Name, std::type_identity<L0>,
                                    param_named<Name, fusegrad::detail::type_list<Ls...>>>::type;
};
}  // namespace detail

namespace detail {
/// Both Jacobians from compiled graphs (src/check/jacobian.cpp: compiled once, not per model):
/// the analytic one row by row (backward with seed e_i), the numeric one column by column
/// (central differences of the numeric graph's value, perturbing p, the param's double copy
/// of shape dims).
jacobian_report jacobian_compute(const graph_handle& analytic, const graph_handle& numeric,
                                 double* p, shape dims, std::string_view name,
                                 std::string expression, const gradcheck_options& opts,
                                 std::chrono::steady_clock::time_point start);

/// The body of jacobian_of for the param named `name` (which the caller checked): nothing in it
/// depends on which param, so the Jacobians of every param of one expression share one
/// instantiation, and none is named after a (param, model) pair.
template <expression E, class Rules>
jacobian_report jacobian_by_name(const E& expr, const Rules& rules, std::string_view name,
                                 const gradcheck_options& opts) {
    const auto start = std::chrono::steady_clock::now();
    double_copy<E> copy(expr);
    const auto [p, dims] = copy.view_of(name);
    auto analytic_graph = detail::compile_with(copy.expr(), rules);
    auto numeric_graph = fusegrad::compile(copy.expr(), no_rewrite);

    return jacobian_compute(graph_handle::of(analytic_graph), graph_handle::of(numeric_graph), p,
                            dims, name, fusegrad::to_string(expr), opts, start);
}
}  // namespace detail

/// The Jacobian of `expr` (any shape) with respect to its param leaf called `Name`, as
/// `jacobian(expr, leaf, rules, opts)`.
template <fixed_string Name, expression E, class Rules>
jacobian_report jacobian_of(const E& expr, const Rules& rules, const gradcheck_options& opts = {}) {
    // a readable error for a name that is not a param of the expression
    using L = typename detail::param_named<Name, param_leaves_t<to_double_t<E>>>::type;
    static_assert(L::name == Name);
    return detail::jacobian_by_name(expr, rules, Name.view(), opts);
}

/// The Jacobian of `expr` (any shape) with respect to param leaf `wrt` (a leaf of `expr`),
/// rewritten by `rules` (or `fg::no_rewrite`) for the analytic side, as written for the numeric
/// side. Uses eps, atol, rtol and throw_on_failure from `opts`.
template <expression E, fixed_string Name, class T, std::size_t R, class Rules>
jacobian_report jacobian(const E& expr, const leaf<Name, param_kind, T, R>&, const Rules& rules,
                         const gradcheck_options& opts = {}) {
    return jacobian_of<Name>(expr, rules, opts);
}

/// As above, compiled with the default rules.
template <expression E, fixed_string Name, class T, std::size_t R>
jacobian_report jacobian(const E& expr, const leaf<Name, param_kind, T, R>& wrt,
                         const gradcheck_options& opts = {}) {
    return jacobian(expr, wrt, default_rules(), opts);
}

}  // namespace fusegrad::check
