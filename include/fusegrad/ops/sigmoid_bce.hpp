#pragma once
/// @file
/// fg::binary_cross_entropy_with_logits(s, y[, pos_weight]): PyTorch's function of that name,
/// reduced by R (default: the mean). op::sigmoid_bce is the elementwise term, fused by
/// construction (body in kernels/bodies/sigmoid_bce.hpp): its gradient in s is σ(s) − y, and the
/// rewriter turns binary_cross_entropy(sigmoid(s), y) into it.

#include <type_traits>

#include "fusegrad/core/traits.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/kernels/bodies/sigmoid_bce.hpp"
#include "fusegrad/ops/binary.hpp"
#include "fusegrad/ops/loss_weight.hpp"
#include "fusegrad/ops/mul.hpp"
#include "fusegrad/ops/reduce.hpp"  // detail::reduced
#include "fusegrad/ops/softplus.hpp"
#include "fusegrad/ops/sub.hpp"

namespace fusegrad {
namespace op {
struct sigmoid_bce : binary<kernels::body::sigmoid_bce> {
    shape infer(const shape& s, const shape& y) const {
        return detail::same_shape("binary_cross_entropy_with_logits (sigmoid_bce)", s, y);
    }
};
}  // namespace op

/// Binary cross-entropy of σ(s) against y, from the logits s: (1 − y) s + softplus(−s)
/// elementwise (y of s's shape, as in PyTorch), reduced by R (default: the mean over every
/// element). Finite for every finite s; the gradient in s is σ(s) − y (times the reduction's
/// scale), in y it is −s.
template <reduction R = reduction::mean, expression S, expression Y>
auto binary_cross_entropy_with_logits(S&& s, Y&& y) {
    return detail::reduced<R>(detail::value_node_t<op::sigmoid_bce, S, Y>{
        op::sigmoid_bce{}, {static_cast<S&&>(s), static_cast<Y&&>(y)}});
}

/// ... with PyTorch's pos_weight w (one weight per column of s, or a scalar, broadcast to y's
/// shape and never beyond: op::loss_weight), which weighs the positive term: ℓ = (1 − y) s + (1 +
/// (w − 1) y) softplus(−s). Built as sigmoid_bce(s, y) + (w y − y) softplus(−s), every piece finite
/// for finite s.
template <reduction R = reduction::mean, expression S, expression Y, expression W>
auto binary_cross_entropy_with_logits(S&& s, Y&& y, W&& pos_weight) {
    static_assert(!requires_grad_v<std::remove_cvref_t<W>>,
                  "fg::binary_cross_entropy_with_logits(s, y, pos_weight) gives no gradient for "
                  "pos_weight: build it with fg::constant or fg::input, not from a param");
    const auto& sv = s;
    const auto& yv = y;
    auto term = detail::value_node_t<op::sigmoid_bce, decltype(sv), decltype(yv)>{op::sigmoid_bce{},
                                                                                  {sv, yv}} +
                (detail::weighted_loss(static_cast<W&&>(pos_weight), yv) - yv) * softplus(-sv);
    return detail::reduced<R>(term);
}

/// ... with pos_weight and PyTorch's `weight` w, which multiplies each element's loss before
/// the reduction (a scalar, a row, an N×1 column or s's shape, broadcast to s's shape and never
/// beyond, op::loss_weight; no gradient). PyTorch's third positional argument is `weight`; here the
/// 3-argument form takes pos_weight, so w comes fourth. For w alone write fg::mean(w *
/// fg::binary_cross_entropy_with_logits<reduction::none>(s, y)), which is PyTorch's formula.
template <reduction R = reduction::mean, expression S, expression Y, expression PW, expression W>
auto binary_cross_entropy_with_logits(S&& s, Y&& y, PW&& pos_weight, W&& weight) {
    static_assert(!requires_grad_v<std::remove_cvref_t<W>>,
                  "fg::binary_cross_entropy_with_logits(s, y, pos_weight, weight) gives no "
                  "gradient for weight: build it with fg::constant or fg::input, not from a param");
    return detail::reduced<R>(detail::weighted_loss(
        static_cast<W&&>(weight),
        binary_cross_entropy_with_logits<reduction::none>(static_cast<S&&>(s), static_cast<Y&&>(y),
                                                          static_cast<PW&&>(pos_weight))));
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using sigmoid_bce = fusegrad::detail::type_list<fusegrad::op::sigmoid_bce>;
}  // namespace fusegrad::op::header_ops
