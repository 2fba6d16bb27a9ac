#pragma once
/// @file
/// fg::mse(pred, target): PyTorch's mse_loss, the mean (or sum, or none) of the elementwise
/// squared error (p − t)², op::squared_error; body in kernels/bodies/squared_error.hpp.

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/kernels/bodies/squared_error.hpp"
#include "fusegrad/ops/binary.hpp"
#include "fusegrad/ops/reduce.hpp"  // detail::reduced

namespace fusegrad {
namespace op {
using squared_error = binary<kernels::body::squared_error>;
}  // namespace op

/// The squared error (pred − target)² reduced by R (default: the mean over every element, as
/// PyTorch's mse_loss). target broadcasts as in fg::mul; both operands get gradients.
template <reduction R = reduction::mean, expression P, expression Y>
auto mse(P&& pred, Y&& target) {
    return detail::reduced<R>(detail::value_node_t<op::squared_error, P, Y>{
        op::squared_error{}, {static_cast<P&&>(pred), static_cast<Y&&>(target)}});
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using squared_error = fusegrad::detail::type_list<fusegrad::op::squared_error>;
}  // namespace fusegrad::op::header_ops
