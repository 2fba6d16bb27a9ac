#pragma once
/// @file
/// loss_weight(w, l) = w · l elementwise, with w broadcast to l's shape and never beyond it: the
/// `weight` and `pos_weight` of PyTorch's binary cross-entropies. PyTorch multiplies the
/// elementwise loss by them in place, so a weight of a larger shape is an error there; fg::mul
/// would broadcast both ways and return a larger loss instead. So this is fg::mul (the same body
/// and gradients, kernels/bodies/mul.hpp) whose shape rule is one-sided: a shape_error names
/// both shapes. The binary cross-entropy builders make it; it has no builder of its own.

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/mul.hpp"
#include "fusegrad/ops/binary.hpp"

namespace fusegrad {
namespace op {
struct loss_weight : binary<kernels::body::mul> {
    static constexpr std::string_view name = "loss_weight";
    template <std::size_t W, std::size_t L>
    static constexpr std::size_t result_rank = L;

    shape infer(const shape& w, const shape& l) const {
        const shape out = detail::broadcast_shape(name, w, l);
        if (!(out == l))
            throw shape_error(
                "loss_weight: the weight " + w.str() +
                " of a binary cross-entropy must broadcast "
                "to the shape of its loss " +
                l.str() +
                " (a scalar, one weight per column, one per row, or the loss's shape), not "
                "beyond it, as in PyTorch");
        return l;
    }
};
}  // namespace op

namespace detail {
/// loss_weight(w, l): a binary cross-entropy's elementwise loss l weighted by w.
template <expression W, expression L>
auto weighted_loss(W&& w, L&& l) {
    static_assert(std::remove_cvref_t<W>::rank <= std::remove_cvref_t<L>::rank,
                  "the weight of a binary cross-entropy must broadcast to the shape of its "
                  "input: it cannot have a larger rank");
    return value_node_t<op::loss_weight, W, L>{op::loss_weight{},
                                               {static_cast<W&&>(w), static_cast<L&&>(l)}};
}
}  // namespace detail
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using loss_weight = fusegrad::detail::type_list<fusegrad::op::loss_weight>;
}  // namespace fusegrad::op::header_ops
