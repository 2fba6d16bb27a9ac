#pragma once
/// @file
/// fg::sqrt(x), elementwise; its body is kernels/bodies/sqrt.hpp. NaN below 0 and a gradient of
/// +inf at 0, as PyTorch.

#include <utility>

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/sqrt.hpp"
#include "fusegrad/ops/unary.hpp"

namespace fusegrad {
namespace op {
using sqrt = unary<kernels::body::sqrt>;
}  // namespace op

/// The square root, elementwise.
template <expression X>
auto sqrt(X&& x) {
    return detail::value_node_t<op::sqrt, X>{op::sqrt{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using sqrt = fusegrad::detail::type_list<fusegrad::op::sqrt>;
}  // namespace fusegrad::op::header_ops
