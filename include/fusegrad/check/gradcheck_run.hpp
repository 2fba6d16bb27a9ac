#pragma once
/// @file
/// The gradient checker's logic behind `fg::check::gradcheck`, compiled once in the library
/// (src/check/gradcheck_run.cpp): `gradcheck_run` drives a compiled graph through a
/// `graph_handle`, so a model instantiates only the handle's four thunks, not the checker.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fusegrad/check/double_arrays.hpp"
#include "fusegrad/check/options.hpp"
#include "fusegrad/check/report.hpp"
#include "fusegrad/core/shape.hpp"
#include "fusegrad/core/views.hpp"

namespace fusegrad::check::detail {

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

/// A compiled graph as the checker drives it, behind function pointers: the checker's logic
/// (gradcheck_run) is compiled once, in the library, and a model instantiates only these four
/// thunks per graph type. (Written as templates over the graph, the checker was compiled anew
/// for every model, under names that spell the whole model: about a second of g++'s time for
/// a 64-layer MLP.)
struct graph_handle {
    void* graph = nullptr;
    std::size_t rank = 0;
    const std::vector<std::string>* rules_fired = nullptr;
    /// Forward pass.
    void (*forward)(void* g) = nullptr;
    /// Backward pass seeded with u, as many entries as the value (empty: with 1, for a scalar).
    void (*backward)(void* g, const std::vector<double>& u) = nullptr;
    /// The value after forward(), as doubles, and its shape.
    shape (*value)(const void* g, std::vector<double>& out) = nullptr;
    /// Param `name`'s gradient after backward(), as doubles.
    void (*param_grad)(const void* g, std::string_view name, std::vector<double>& out) = nullptr;

    template <class G>
    static graph_handle of(G& g) {
        using T = typename G::value_type;
        graph_handle h;
        h.graph = &g;
        h.rank = G::rank;
        h.rules_fired = &g.rules_fired();
        h.forward = [](void* p) { static_cast<G*>(p)->forward(); };
        h.backward = [](void* p, const std::vector<double>& u) {
            G& gr = *static_cast<G*>(p);
            if (u.empty()) {
                if constexpr (G::rank == 0) gr.backward();
            } else {
                const std::vector<T> seed(u.begin(), u.end());
                gr.backward(cview<T>{seed.data(), gr.value_shape()});
            }
        };
        h.value = [](const void* p, std::vector<double>& out) {
            const auto v = static_cast<const G*>(p)->value_view();
            out.assign(v.data, v.data + v.size());
            return v.dims;
        };
        h.param_grad = [](const void* p, std::string_view name, std::vector<double>& out) {
            const auto gr = static_cast<const G*>(p)->param_grad(name);
            out.assign(gr.data, gr.data + gr.size());
        };
        return h;
    }
};

/// uᵀ·value of graph g after a forward pass (u empty: the scalar value itself); `value` is
/// scratch for the value as doubles.
double projected_value(const graph_handle& g, const std::vector<double>& u,
                       std::vector<double>& value);

/// One gradient check, as run_gradcheck drives it: compiled once, in the library
/// (src/check/gradcheck_run.cpp), not per model.
class gradcheck_run {
  public:
    /// Validates the options against the graph's params (std::invalid_argument: a leaf that is
    /// not a param, nothing to check) and starts the report. u: the upstream vector (empty for
    /// a scalar loss); start: when the check began.
    gradcheck_run(const gradcheck_options& opts, std::vector<std::string> params,
                  std::vector<double> u, std::string expression,
                  std::chrono::steady_clock::time_point start);
    /// The analytic gradients: forward and backward of g, each param's gradient, and the
    /// reentrancy check when asked. Throws shape_error when u does not fit the value.
    void analytic(const graph_handle& g);
    /// Each selected param's analytic gradient against central differences of graph g's
    /// value, perturbing the double copies in `arrays` (which g reads).
    void numeric(const graph_handle& g, double_arrays& arrays);
    /// The report: std::invalid_argument when nothing was compared, gradcheck_error when the
    /// check failed and the options say to throw.
    gradcheck_report finish();

  private:
    const gradcheck_options& opts_;
    std::vector<std::string> params_;
    std::vector<double> u_;
    std::chrono::steady_clock::time_point start_;
    std::vector<std::vector<double>> analytic_;
    gradcheck_report report_;
};

}  // namespace fusegrad::check::detail
