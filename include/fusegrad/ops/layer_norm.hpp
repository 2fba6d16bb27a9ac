#pragma once
/// @file
/// fg::layer_norm(x, gamma, beta, eps): each row of x normalised to mean 0 and variance 1 (the
/// biased variance, as PyTorch), then scaled by gamma and shifted by beta, one entry per column:
/// PyTorch's layer_norm(x, [D], gamma, beta, eps). The forward keeps each row's mean and 1/σ in
/// the op's workspace, so the backward does not re-scan the rows for them.

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/ops/unary.hpp"  // detail::param_text

namespace fusegrad {
namespace op {
struct layer_norm {
    static constexpr std::string_view name = "layer_norm";
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1);  // x and gamma
    template <std::size_t X, std::size_t G, std::size_t B>
    static constexpr std::size_t result_rank = X;
    double eps = 1e-5;

    shape infer(const shape& x, const shape& gamma, const shape& beta) const {
        if (gamma.size() != x.cols || beta.size() != x.cols)
            throw shape_error("layer_norm: gamma " + gamma.str() + " and beta " + beta.str() +
                              " must have one entry per column of x " + x.str());
        return x;
    }
    std::string describe() const { return detail::param_text("eps", eps); }
    /// Each row's mean and 1/σ (2 per row), kept from the forward for the backward, and the
    /// backward's partial column sums (kernels::layer_norm_backward_scratch).
    std::size_t workspace_size(const shape&, const shape& x, const shape&, const shape&) const {
        return 2 * x.rows + kernels::layer_norm_backward_scratch(x.rows, x.cols);
    }

    template <class T>
    void forward(mview<T> out, cview<T> x, cview<T> gamma, cview<T> beta, workspace<T> ws) const {
        const std::size_t n = x.dims.rows;
        kernels::layer_norm_rows<T>(n, x.dims.cols, x.data, gamma.data, beta.data, T(eps), out.data,
                                    ws.data, ws.data + n);
    }
    // x̂ = (x − μ)/σ, h = g ⊙ γ:  dx = (1/σ)(h − mean_j(h) − x̂ mean_j(h ⊙ x̂));
    // dγ = Σ_rows g ⊙ x̂;  dβ = Σ_rows g   (one pass over g and x:
    // kernels::layer_norm_rows_backward)
    template <class T>
    void vjp(grad_sink<T> dx, grad_sink<T> dgamma, grad_sink<T> dbeta, cview<T> g, cview<T>,
             cview<T> x, cview<T> gamma, cview<T>, workspace<T> ws) const {
        const std::size_t n = x.dims.rows;
        kernels::layer_norm_rows_backward<T>(
            n, x.dims.cols, x.data, gamma.data, ws.data, ws.data + n, g.data, dx.beta(), dx.data,
            dgamma.beta(), dgamma.data, dbeta.beta(), dbeta.data, ws.data + 2 * n);
    }
};
}  // namespace op

/// Each row of x (N×D, or one vector) normalised, scaled by gamma (D) and shifted by beta (D):
/// (x − mean)/sqrt(var + eps) ⊙ gamma + beta, var the biased variance of the row. eps must be
/// finite (std::invalid_argument otherwise); as in PyTorch it may be negative (PyTorch's own
/// samples use eps = −0.5), and a row whose var + eps is negative then gives NaN, as there.
template <expression X, expression G, expression B>
auto layer_norm(X&& x, G&& gamma, B&& beta, double eps = 1e-5) {
    static_assert(std::remove_cvref_t<G>::rank == 1 && std::remove_cvref_t<B>::rank == 1,
                  "fg::layer_norm(x, gamma, beta) takes gamma and beta as vectors, one entry per "
                  "column of x");
    if (!std::isfinite(eps))
        throw std::invalid_argument("fg::layer_norm: eps must be finite, got " +
                                    std::to_string(eps));
    op::layer_norm o;
    o.eps = eps;
    return detail::value_node_t<decltype(o), X, G, B>{
        o, {static_cast<X&&>(x), static_cast<G&&>(gamma), static_cast<B&&>(beta)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using layer_norm = fusegrad::detail::type_list<fusegrad::op::layer_norm>;
}  // namespace fusegrad::op::header_ops
