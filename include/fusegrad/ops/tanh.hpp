#pragma once
/// @file
/// fg::tanh(x), elementwise; its body is kernels/bodies/tanh.hpp.

#include <utility>

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/tanh.hpp"
#include "fusegrad/ops/unary.hpp"

namespace fusegrad {
namespace op {
using tanh = unary<kernels::body::tanh>;
}  // namespace op

/// The hyperbolic tangent, elementwise.
template <expression X>
auto tanh(X&& x) {
    return detail::value_node_t<op::tanh, X>{op::tanh{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using tanh = fusegrad::detail::type_list<fusegrad::op::tanh>;
}  // namespace fusegrad::op::header_ops
