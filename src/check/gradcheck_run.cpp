// The gradient checker's logic (fusegrad/check/gradcheck_run.hpp): compiled once here. A model
// reaches it through a graph_handle, so it instantiates four thunks per graph, not the checker.

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fusegrad/check/gradcheck_run.hpp"
#include "fusegrad/check/random.hpp"
#include "fusegrad/core/errors.hpp"

namespace fusegrad::check::detail {

namespace {

/// Throws std::invalid_argument when `wanted` names a leaf that is not a param of the graph.
void require_known_leaves(const std::vector<std::string>& wanted,
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
void require_something_to_check(const gradcheck_options& opts,
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
void require_compared(const gradcheck_report& report) {
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

bool selected(const std::vector<std::string>& wanted, std::string_view name) {
    if (wanted.empty()) return true;
    for (const auto& w : wanted)
        if (w == name) return true;
    return false;
}

/// Every named param's gradient, as double, in the order of `names`.
std::vector<std::vector<double>> gradients(const graph_handle& g,
                                           const std::vector<std::string>& names) {
    std::vector<std::vector<double>> out(names.size());
    for (std::size_t k = 0; k < names.size(); ++k) g.param_grad(g.graph, names[k], out[k]);
    return out;
}

bool bitwise_equal(const std::vector<std::vector<double>>& a,
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
bool reentrant(const graph_handle& g, const std::vector<double>& seed,
               const std::vector<std::string>& names) {
    g.forward(g.graph);
    g.backward(g.graph, seed);
    const auto first = gradients(g, names);
    g.backward(g.graph, seed);
    const auto second = gradients(g, names);
    g.forward(g.graph);
    g.backward(g.graph, seed);
    const auto third = gradients(g, names);
    return bitwise_equal(first, second) && bitwise_equal(first, third);
}

/// Checks one leaf (double array p of n entries, analytic gradient a of uᵀ·f) against central
/// differences of f = uᵀ·value, computed by the numeric graph.
template <class F>
leaf_report check_leaf(std::string name, shape dims, double* p, const std::vector<double>& a,
                       const F& f, const gradcheck_options& opts) {
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

}  // namespace

gradcheck_run::gradcheck_run(const gradcheck_options& opts, std::vector<std::string> params,
                             std::vector<double> u, std::string expression,
                             std::chrono::steady_clock::time_point start)
    : opts_(opts), params_(std::move(params)), u_(std::move(u)), start_(start) {
    require_known_leaves(opts.leaves, params_, "gradcheck");
    require_something_to_check(opts, params_);
    report_.expression = std::move(expression);
    report_.eps = opts.eps;
    report_.atol = opts.atol;
    report_.rtol = opts.rtol;
    report_.fast = opts.fast;
    report_.seed = opts.seed;
}

void gradcheck_run::analytic(const graph_handle& g) {
    report_.rules_fired = *g.rules_fired;
    g.forward(g.graph);
    std::vector<double> value;
    const shape dims = g.value(g.graph, value);
    if (!u_.empty() && u_.size() != dims.size())
        throw shape_error("gradcheck: the upstream vector has " + std::to_string(u_.size()) +
                          " entries but the value is " + dims.str());
    if (g.rank == 0) report_.value = value[0];
    g.backward(g.graph, u_);
    analytic_ = gradients(g, params_);
    if (opts_.check_reentrancy) {
        report_.reentrancy_checked = true;
        report_.reentrant = reentrant(g, u_, params_);
    }
}

double projected_value(const graph_handle& g, const std::vector<double>& u,
                       std::vector<double>& value) {
    g.forward(g.graph);
    g.value(g.graph, value);
    if (u.empty()) return value[0];
    double s = 0;
    for (std::size_t i = 0; i < value.size(); ++i) s += u[i] * value[i];
    return s;
}

void gradcheck_run::numeric(const graph_handle& g, double_arrays& arrays) {
    std::vector<double> value;
    const auto projected = [&] { return projected_value(g, u_, value); };
    for (std::size_t k = 0; k < params_.size(); ++k) {
        if (!selected(opts_.leaves, params_[k])) continue;
        const auto [data, dims] = arrays.view_of(params_[k]);
        report_.leaves.push_back(
            check_leaf(params_[k], dims, data, analytic_[k], projected, opts_));
    }
}

gradcheck_report gradcheck_run::finish() {
    require_compared(report_);
    report_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (opts_.throw_on_failure && !report_.passed()) throw gradcheck_error(report_);
    return std::move(report_);
}

}  // namespace fusegrad::check::detail
