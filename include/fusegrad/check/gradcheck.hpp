#pragma once
/// @file
/// `fg::check::gradcheck(loss, options)`: the gradient of every param leaf of a scalar loss,
/// from the engine, against central finite differences, both in double (a float model is
/// re-instantiated at double). Returns a `gradcheck_report`; see docs/gradient-checking.md.

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fusegrad/check/comparison.hpp"
#include "fusegrad/check/gradcheck_run.hpp"
#include "fusegrad/check/options.hpp"
#include "fusegrad/check/random.hpp"
#include "fusegrad/check/report.hpp"
#include "fusegrad/check/to_double.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/grad/compile.hpp"
#include "fusegrad/io/print.hpp"
#include "fusegrad/rewrite/rewrite.hpp"

namespace fusegrad::check {

namespace detail {

/// Compile with a rule set, or as written for `fg::no_rewrite`.
template <class X, class Rules>
auto compile_with(const X& x, const Rules& rules) {
    if constexpr (std::is_same_v<std::remove_cvref_t<Rules>, no_rewrite_t>)
        return fusegrad::compile(x, no_rewrite);
    else
        return fusegrad::compile(x, rules);
}

/// The shared body of gradcheck: u empty for a scalar loss, else the upstream vector.
template <bool ModelPrecision, class E, class Rules>
gradcheck_report run_gradcheck(const E& expr, const Rules& rules, const gradcheck_options& opts,
                               std::vector<double> u) {
    const auto start = std::chrono::steady_clock::now();
    double_copy<E> copy(expr);
    // The params of the graph as written, in order of first appearance (its table's order).
    using written_graph = decltype(fusegrad::compile(copy.expr(), no_rewrite));
    constexpr const auto& params = written_graph::param_names;
    gradcheck_run run(opts, std::vector<std::string>(params.begin(), params.end()), std::move(u),
                      fusegrad::to_string(expr), start);
    if constexpr (ModelPrecision) {
        auto g = compile_with(expr, rules);  // the model at its own precision, on its own arrays
        run.analytic(graph_handle::of(g));
    } else {
        auto g = compile_with(copy.expr(), rules);
        run.analytic(graph_handle::of(g));
    }
    if (opts.numeric_from_written) {
        auto numeric_graph = fusegrad::compile(copy.expr(), no_rewrite);
        run.numeric(graph_handle::of(numeric_graph), copy);
    } else {
        auto numeric_graph = compile_with(copy.expr(), rules);
        run.numeric(graph_handle::of(numeric_graph), copy);
    }
    return run.finish();
}

}  // namespace detail

/// Checks the gradient of every param leaf of the scalar `loss` (rewritten by `rules`, or
/// `fg::no_rewrite`) against central differences. Leaves the caller's arrays untouched.
template <expression E, class Rules>
gradcheck_report gradcheck(const E& loss, const Rules& rules, const gradcheck_options& opts = {}) {
    static_assert(std::remove_cvref_t<E>::rank == 0,
                  "fg::check::gradcheck checks a scalar loss; for a vector or matrix value use "
                  "fg::check::jacobian or gradcheck_vjp");
    return detail::run_gradcheck<false>(loss, rules, opts, {});
}

/// As above, compiled the way `fg::compile(loss)` does: with the default rules (fusion).
template <expression E>
gradcheck_report gradcheck(const E& loss, const gradcheck_options& opts = {}) {
    return gradcheck(loss, default_rules(), opts);
}

/// As `gradcheck(loss, rules, opts)`, but the analytic gradient comes from the graph at the
/// model's own element type (a float model's float kernels), converted to double; the numeric
/// one is still computed in double. Use float-sized tolerances (atol, rtol ~ 1e-3).
template <expression E, class Rules = decltype(default_rules())>
gradcheck_report gradcheck_model_precision(const E& loss, const gradcheck_options& opts = {},
                                           const Rules& rules = default_rules()) {
    static_assert(std::remove_cvref_t<E>::rank == 0,
                  "fg::check::gradcheck_model_precision checks a scalar loss");
    return detail::run_gradcheck<true>(loss, rules, opts, {});
}

/// For a value of any shape: checks the vector-Jacobian product uᵀ·J of every param leaf for
/// one random upstream vector u (drawn from opts.seed), i.e. the gradient of uᵀ·value.
template <expression E, class Rules = decltype(default_rules())>
gradcheck_report gradcheck_vjp(const E& expr, const gradcheck_options& opts = {},
                               const Rules& rules = default_rules()) {
    double_copy<E> probe(expr);
    auto g = fusegrad::compile(probe.expr(), no_rewrite);
    g.forward();
    random_stream rng(splitmix64(opts.seed ^ 0x7570));
    std::vector<double> u(g.value_shape().size());
    for (auto& x : u) x = rng.normal();
    return detail::run_gradcheck<false>(expr, rules, opts, std::move(u));
}

}  // namespace fusegrad::check
