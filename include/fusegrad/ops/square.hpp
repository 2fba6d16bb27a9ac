#pragma once
/// @file
/// fg::square(x) = x², elementwise; its body is kernels/bodies/square.hpp.

#include <utility>

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/square.hpp"
#include "fusegrad/ops/unary.hpp"

namespace fusegrad {
namespace op {
using square = unary<kernels::body::square>;
}  // namespace op

/// x², elementwise.
template <expression X>
auto square(X&& x) {
    return detail::value_node_t<op::square, X>{op::square{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using square = fusegrad::detail::type_list<fusegrad::op::square>;
}  // namespace fusegrad::op::header_ops
