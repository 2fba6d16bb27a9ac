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
    /// Each row's mean and 1/σ: 2 per row.
    std::size_t workspace_size(const shape&, const shape& x, const shape&, const shape&) const {
        return 2 * x.rows;
    }

    template <class T>
    void forward(mview<T> out, cview<T> x, cview<T> gamma, cview<T> beta, workspace<T> ws) const {
        const std::size_t n = x.dims.rows, d = x.dims.cols;
        T* mean = ws.data;
        T* rstd = ws.data + n;
        for (std::size_t i = 0; i < n; ++i) {
            const T* r = x.data + i * d;
            const T mu = kernels::sum<T>(d, r) / T(d);
            T var = T(0);  // two passes: no cancellation of E[x²] − E[x]²
            for (std::size_t j = 0; j < d; ++j) var += (r[j] - mu) * (r[j] - mu);
            var /= T(d);
            const T s = T(1) / std::sqrt(var + T(eps));
            mean[i] = mu;
            rstd[i] = s;
            T* o = out.data + i * d;
            for (std::size_t j = 0; j < d; ++j)
                o[j] = (r[j] - mu) * s * gamma.data[j] + beta.data[j];
        }
    }
    // x̂ = (x − μ)/σ, h = g ⊙ γ:  dx = (1/σ)(h − mean_j(h) − x̂ mean_j(h ⊙ x̂));
    // dγ = Σ_rows g ⊙ x̂;  dβ = Σ_rows g
    template <class T>
    void vjp(grad_sink<T> dx, grad_sink<T> dgamma, grad_sink<T> dbeta, cview<T> g, cview<T>,
             cview<T> x, cview<T> gamma, cview<T>, workspace<T> ws) const {
        const std::size_t n = x.dims.rows, d = x.dims.cols;
        const T* mean = ws.data;
        const T* rstd = ws.data + n;
        if (dbeta) kernels::col_sums<T>(n, d, g.data, dbeta.beta(), dbeta.data);
        if (dgamma && !dgamma.accumulate) kernels::fill<T>(d, T(0), dgamma.data);
        for (std::size_t i = 0; i < n; ++i) {
            const T* r = x.data + i * d;
            const T* gr = g.data + i * d;
            const T mu = mean[i], s = rstd[i];
            if (dgamma)
                for (std::size_t j = 0; j < d; ++j) dgamma.data[j] += gr[j] * (r[j] - mu) * s;
            if (!dx) continue;
            T sum_h = T(0), sum_hx = T(0);
            for (std::size_t j = 0; j < d; ++j) {
                const T h = gr[j] * gamma.data[j];
                sum_h += h;
                sum_hx += h * (r[j] - mu) * s;
            }
            const T mh = sum_h / T(d), mhx = sum_hx / T(d);
            T* o = dx.data + i * d;
            for (std::size_t j = 0; j < d; ++j) {
                const T v = s * (gr[j] * gamma.data[j] - mh - (r[j] - mu) * s * mhx);
                o[j] = dx.accumulate ? o[j] + v : v;
            }
        }
    }
};
}  // namespace op

/// Each row of x (N×D, or one vector) normalised, scaled by gamma (D) and shifted by beta (D):
/// (x − mean)/sqrt(var + eps) ⊙ gamma + beta, var the biased variance of the row. eps must be
/// ≥ 0 (std::invalid_argument otherwise).
template <expression X, expression G, expression B>
auto layer_norm(X&& x, G&& gamma, B&& beta, double eps = 1e-5) {
    static_assert(std::remove_cvref_t<G>::rank == 1 && std::remove_cvref_t<B>::rank == 1,
                  "fg::layer_norm(x, gamma, beta) takes gamma and beta as vectors, one entry per "
                  "column of x");
    if (!(eps >= 0.0))
        throw std::invalid_argument("fg::layer_norm: eps must be >= 0, got " + std::to_string(eps));
    op::layer_norm o;
    o.eps = eps;
    return detail::make_value_node(o, static_cast<X&&>(x), static_cast<G&&>(gamma),
                                   static_cast<B&&>(beta));
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using layer_norm = fusegrad::detail::type_list<fusegrad::op::layer_norm>;
}  // namespace fusegrad::op::header_ops
