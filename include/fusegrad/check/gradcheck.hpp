#pragma once
/// @file
/// `fg::check::gradcheck(loss, options)`: the gradient of every param leaf of a scalar loss,
/// from the engine, against central finite differences, both in double (a float model is
/// re-instantiated at double). Returns a `gradcheck_report`; see docs/gradient-checking.md.

#include <chrono>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fusegrad/check/comparison.hpp"
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

/// Throws std::invalid_argument when `wanted` names a leaf that is not a param of the graph.
inline void require_known_leaves(const std::vector<std::string>& wanted,
                                 const std::vector<std::string>& params, const char* who) {
    for (const auto& w : wanted) {
        bool found = false;
        for (const auto& p : params) found = found || p == w;
        if (!found) {
            std::string known;
            for (const auto& p : params) known += (known.empty() ? "" : ", ") + p;
            throw std::invalid_argument(std::string(who) + ": \"" + w +
                                        "\" is not a param leaf of the graph (its params: " +
                                        (known.empty() ? "none" : known) + ")");
        }
    }
}

/// A check that compares nothing must not pass: throws std::invalid_argument, naming the
/// option, for fast mode with no projections and for a graph without param leaves.
inline void require_something_to_check(const gradcheck_options& opts,
                                       const std::vector<std::string>& params) {
    if (opts.fast && opts.projections == 0)
        throw std::invalid_argument(
            "gradcheck: options.fast with options.projections = 0 compares nothing (set "
            "projections >= 1, or fast = false)");
    if (params.empty())
        throw std::invalid_argument(
            "gradcheck: the graph has no param leaf, so there is no gradient to check (leaves "
            "built with fg::input / fg::labels / constants are not differentiated)");
}

/// Throws std::invalid_argument when no (analytic, numeric) pair was compared: every leaf that
/// options.leaves selected is empty (0 entries).
inline void require_compared(const gradcheck_report& report) {
    std::size_t compared = 0;
    std::string names;
    for (const auto& l : report.leaves) {
        compared += l.result.count;
        names += (names.empty() ? "" : ", ") + l.name + " " + l.dims.str();
    }
    if (compared == 0)
        throw std::invalid_argument("gradcheck: nothing was compared: the checked param leaves (" +
                                    (names.empty() ? std::string("none") : names) +
                                    ") have no entries");
}

inline bool selected(const std::vector<std::string>& wanted, std::string_view name) {
    if (wanted.empty()) return true;
    for (const auto& w : wanted)
        if (w == name) return true;
    return false;
}

/// uᵀ·value of a graph after a forward pass (u empty: the scalar value itself).
template <class G>
double projected_value(G& g, const std::vector<double>& u) {
    g.forward();
    const auto v = g.value_view();
    if (u.empty()) return static_cast<double>(v.data[0]);
    double s = 0;
    for (std::size_t i = 0; i < v.size(); ++i) s += u[i] * static_cast<double>(v.data[i]);
    return s;
}

/// Central difference of `f` in entry p[i]: the step actually taken is (x + eps) − (x − eps),
/// which is not exactly 2·eps once rounded, so divide by that.
template <class F>
double central_difference(double* p, std::size_t i, double eps, F&& f) {
    const double old = p[i];
    const double up = old + eps, down = old - eps;
    p[i] = up;
    const double fu = f();
    p[i] = down;
    const double fd = f();
    p[i] = old;
    return (fu - fd) / (up - down);
}

/// Every param gradient of graph g, as doubles, in the order of List (after backward).
/// Every named param's gradient, as double, in the order of `names`. A loop over run-time
/// names: nothing is instantiated per param (a per-param lambda would be named after the whole
/// model, a cost quadratic in its size).
template <class G, class Names>
std::vector<std::vector<double>> gradients(const G& g, const Names& names) {
    std::vector<std::vector<double>> out;
    out.reserve(names.size());
    for (const auto name : names) {
        const auto gr = g.param_grad(name);
        out.emplace_back(gr.data, gr.data + gr.size());
    }
    return out;
}

inline bool bitwise_equal(const std::vector<std::vector<double>>& a,
                          const std::vector<std::vector<double>>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t k = 0; k < a.size(); ++k)
        if (a[k].size() != b[k].size() ||
            (!a[k].empty() &&
             std::memcmp(a[k].data(), b[k].data(), a[k].size() * sizeof(double)) != 0))
            return false;
    return true;
}

/// Backward twice, then forward and backward again: the gradients must agree bitwise.
template <class G, class Names>
bool reentrant(G& g, const std::vector<double>& seed, const Names& names) {
    using T = typename G::value_type;
    std::vector<T> s(seed.begin(), seed.end());
    auto back = [&] {
        if (s.empty()) {
            if constexpr (G::rank == 0) g.backward();
        } else {
            g.backward(cview<T>{s.data(), g.value_shape()});
        }
    };
    g.forward();
    back();
    const auto first = gradients(g, names);
    back();
    const auto second = gradients(g, names);
    g.forward();
    back();
    const auto third = gradients(g, names);
    return bitwise_equal(first, second) && bitwise_equal(first, third);
}

/// uᵀ·value of a graph after a forward pass, behind a function pointer: what check_leaf calls,
/// so that check_leaf is compiled once, not once per graph type.
struct projected_fn {
    void* graph;
    const std::vector<double>* u;
    double (*call)(void* graph, const std::vector<double>& u);

    template <class G>
    static projected_fn of(G& g, const std::vector<double>& u) {
        return {&g, &u, [](void* p, const std::vector<double>& v) {
                    return projected_value(*static_cast<G*>(p), v);
                }};
    }
    double operator()() const { return call(graph, *u); }
};

/// Checks one leaf (double array p of n entries, analytic gradient a of uᵀ·f) against central
/// differences of f = uᵀ·value, computed by the numeric graph.
inline leaf_report check_leaf(std::string name, shape dims, double* p, const std::vector<double>& a,
                              projected_fn f, const gradcheck_options& opts) {
    leaf_report r;
    r.name = std::move(name);
    r.dims = dims;
    r.fast = opts.fast;
    r.result.atol = opts.atol;
    r.result.rtol = opts.rtol;
    const std::size_t n = dims.size();
    if (!opts.fast) {
        for (std::size_t i = 0; i < n; ++i)
            r.result.add(i, a[i], central_difference(p, i, opts.eps, f));
        return r;
    }
    random_stream rng(splitmix64(opts.seed ^ hash_name(r.name)));
    std::vector<double> v(n), old(p, p + n);
    // (f(θ + h·v) − f(θ − h·v)) / 2h. A step along v moves every entry at once, so in a ReLU
    // model it crosses some unit's kink far more often than a one-entry step does; there the
    // difference is off by an O(1) amount while the vjp is right.
    auto directional = [&](double h) {
        for (std::size_t i = 0; i < n; ++i) p[i] = old[i] + h * v[i];
        const double fu = f();
        for (std::size_t i = 0; i < n; ++i) p[i] = old[i] - h * v[i];
        const double fd = f();
        for (std::size_t i = 0; i < n; ++i) p[i] = old[i];
        return (fu - fd) / (2 * h);
    };
    const auto within = [&](double av, double num) {
        return std::abs(av - num) <= opts.atol + opts.rtol * std::abs(num);
    };
    for (std::size_t k = 0; k < opts.projections; ++k) {
        double av = 0;
        for (std::size_t i = 0; i < n; ++i) {
            v[i] = rng.normal();
            av += a[i] * v[i];
        }
        double num = directional(opts.eps);
        // A projection that fails is measured again with steps 100 and 10 000 times smaller,
        // which cross a kink 100 and 10 000 times less often: it passes if one of them agrees.
        // A wrong vjp is off by the same amount at every step and still fails.
        if (!within(av, num) && opts.kink_retries) {
            for (const double shrink : {1e-2, 1e-4}) {
                const double again = directional(opts.eps * shrink);
                if (within(av, again)) {
                    num = again;
                    ++r.kink_retries;
                    break;
                }
            }
        }
        r.result.add(k, av, num);
    }
    return r;
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
    const std::vector<std::string> names(params.begin(), params.end());
    require_known_leaves(opts.leaves, names, "gradcheck");
    require_something_to_check(opts, names);

    gradcheck_report report;
    report.expression = fusegrad::to_string(expr);
    report.eps = opts.eps;
    report.atol = opts.atol;
    report.rtol = opts.rtol;
    report.fast = opts.fast;
    report.seed = opts.seed;

    auto run_analytic = [&](auto& g) {
        using G = std::remove_cvref_t<decltype(g)>;
        using T = typename G::value_type;
        report.rules_fired = g.rules_fired();
        g.forward();
        if (!u.empty() && u.size() != g.value_shape().size())
            throw shape_error("gradcheck: the upstream vector has " + std::to_string(u.size()) +
                              " entries but the value is " + g.value_shape().str());
        std::vector<T> seed(u.begin(), u.end());
        if constexpr (G::rank == 0) report.value = static_cast<double>(g.value());
        if (seed.empty()) {
            if constexpr (G::rank == 0) g.backward();
        } else {
            g.backward(cview<T>{seed.data(), g.value_shape()});
        }
        auto grads = gradients(g, params);
        if (opts.check_reentrancy) {
            report.reentrancy_checked = true;
            report.reentrant = reentrant(g, u, params);
        }
        return grads;
    };
    std::vector<std::vector<double>> analytic;
    if constexpr (ModelPrecision) {
        auto g = compile_with(expr, rules);  // the model at its own precision, on its own arrays
        analytic = run_analytic(g);
    } else {
        auto g = compile_with(copy.expr(), rules);
        analytic = run_analytic(g);
    }

    auto check_all = [&](auto& numeric_graph) {
        for (std::size_t k = 0; k < params.size(); ++k) {
            if (!selected(opts.leaves, params[k])) continue;
            const auto [data, dims] = copy.view_of(params[k]);
            report.leaves.push_back(check_leaf(std::string(params[k]), dims, data, analytic[k],
                                               projected_fn::of(numeric_graph, u), opts));
        }
    };
    if (opts.numeric_from_written) {
        auto numeric_graph = fusegrad::compile(copy.expr(), no_rewrite);
        check_all(numeric_graph);
    } else {
        auto numeric_graph = compile_with(copy.expr(), rules);
        check_all(numeric_graph);
    }

    require_compared(report);

    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (opts.throw_on_failure && !report.passed()) throw gradcheck_error(report);
    return report;
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
