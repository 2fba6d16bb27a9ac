#pragma once
/// @file
/// fg::binary_cross_entropy(p, y): PyTorch's binary_cross_entropy on probabilities, reduced by R
/// (default: the mean); op::binary_cross_entropy is the elementwise term, body in
/// kernels/bodies/binary_cross_entropy.hpp. Probabilities outside [0, 1] (or NaN) are an error
/// naming the first one, as in PyTorch.

#include <cstddef>
#include <string>
#include <type_traits>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/kernels/bodies/binary_cross_entropy.hpp"
#include "fusegrad/ops/binary.hpp"
#include "fusegrad/ops/loss_weight.hpp"
#include "fusegrad/ops/reduce.hpp"  // detail::reduced

namespace fusegrad {
namespace op {
struct binary_cross_entropy : binary<kernels::body::binary_cross_entropy> {
    shape infer(const shape& p, const shape& y) const { return detail::same_shape(name, p, y); }
    template <class T>
    void forward(mview<T> out, cview<T> p, cview<T> y) const {
        for (std::size_t i = 0; i < p.size(); ++i)
            if (!(p.data[i] >= T(0) && p.data[i] <= T(1)))
                throw value_error("binary_cross_entropy: p[" + std::to_string(i) +
                                  "] = " + std::to_string(double(p.data[i])) +
                                  " is not a probability in [0, 1] (for logits use "
                                  "fg::binary_cross_entropy_with_logits)");
        binary::forward(out, p, y);
    }
};
}  // namespace op

/// −[y log p + (1 − y) log(1 − p)] elementwise, each log clamped at −100 as PyTorch, reduced by R
/// (default: the mean over every element). y must have p's shape (as in PyTorch) and gets a
/// gradient too.
/// On σ(s) the rewriter turns it into fg::binary_cross_entropy_with_logits(s, y).
template <reduction R = reduction::mean, expression P, expression Y>
auto binary_cross_entropy(P&& p, Y&& y) {
    return detail::reduced<R>(detail::value_node_t<op::binary_cross_entropy, P, Y>{
        op::binary_cross_entropy{}, {static_cast<P&&>(p), static_cast<Y&&>(y)}});
}

/// ... with PyTorch's `weight` w, which multiplies each element's loss before the reduction (the
/// mean still divides by the number of elements, as PyTorch's): a scalar, a row vector (one
/// weight per column), an N×1 column or a matrix shaped like p, broadcast to p's shape
/// (op::loss_weight: a larger w is a shape_error, as in PyTorch). w gets no gradient (PyTorch's
/// has none either): build it with fg::constant or fg::input.
template <reduction R = reduction::mean, expression P, expression Y, expression W>
auto binary_cross_entropy(P&& p, Y&& y, W&& weight) {
    static_assert(!requires_grad_v<std::remove_cvref_t<W>>,
                  "fg::binary_cross_entropy(p, y, weight) gives no gradient for weight: build it "
                  "with fg::constant or fg::input, not from a param");
    return detail::reduced<R>(detail::weighted_loss(
        static_cast<W&&>(weight),
        detail::value_node_t<op::binary_cross_entropy, P, Y>{
            op::binary_cross_entropy{}, {static_cast<P&&>(p), static_cast<Y&&>(y)}}));
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using binary_cross_entropy = fusegrad::detail::type_list<fusegrad::op::binary_cross_entropy>;
}  // namespace fusegrad::op::header_ops
