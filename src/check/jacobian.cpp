// The computation behind fg::check::jacobian (fusegrad/check/jacobian.hpp): compiled once here.
// A check reaches it through two graph handles, so it instantiates the handles' thunks per graph
// type, not the loops.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <xtensor/xbuilder.hpp>

#include "fusegrad/check/jacobian.hpp"

namespace fusegrad::check::detail {

jacobian_report jacobian_compute(const graph_handle& analytic, const graph_handle& numeric,
                                 double* p, shape dims, std::string_view name,
                                 std::string expression, const gradcheck_options& opts,
                                 std::chrono::steady_clock::time_point start) {
    jacobian_report r;
    r.expression = std::move(expression);
    std::vector<double> value;
    analytic.forward(analytic.graph);
    r.value_shape = analytic.value(analytic.graph, value);
    const std::size_t m = r.value_shape.size(), n = dims.size();
    r.leaf.name = std::string(name);
    r.leaf.dims = dims;
    r.leaf.result.atol = opts.atol;
    r.leaf.result.rtol = opts.rtol;
    r.analytic = xt::zeros<double>({m, n});
    r.numeric = xt::zeros<double>({m, n});

    std::vector<double> seed(m, 0.0);  // e_i: one vector-Jacobian product per row
    std::vector<double> g;
    for (std::size_t i = 0; i < m; ++i) {
        seed[i] = 1.0;
        analytic.backward(analytic.graph, seed);
        seed[i] = 0.0;
        analytic.param_grad(analytic.graph, name, g);
        for (std::size_t j = 0; j < n; ++j) r.analytic(i, j) = g[j];
    }
    std::vector<double> fu, fd;
    for (std::size_t j = 0; j < n; ++j) {  // one central difference per column
        const double old = p[j], up = old + opts.eps, down = old - opts.eps;
        p[j] = up;
        numeric.forward(numeric.graph);
        numeric.value(numeric.graph, fu);
        p[j] = down;
        numeric.forward(numeric.graph);
        numeric.value(numeric.graph, fd);
        p[j] = old;
        for (std::size_t i = 0; i < m; ++i) r.numeric(i, j) = (fu[i] - fd[i]) / (up - down);
    }
    finish_jacobian(r, opts, start);
    return r;
}

void finish_jacobian(jacobian_report& r, const gradcheck_options& opts,
                     std::chrono::steady_clock::time_point start) {
    const std::size_t m = r.analytic.shape()[0], n = r.analytic.shape()[1];
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j)
            r.leaf.result.add(i * n + j, r.analytic(i, j), r.numeric(i, j));
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (opts.throw_on_failure && !r.passed()) {
        gradcheck_report g;
        g.expression = r.expression;
        g.eps = opts.eps;
        g.atol = opts.atol;
        g.rtol = opts.rtol;
        g.leaves.push_back(r.leaf);
        throw gradcheck_error(std::move(g));
    }
}

}  // namespace fusegrad::check::detail
