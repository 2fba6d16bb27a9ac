#pragma once
/// @file
/// fg::abs(x) = |x|, elementwise, with gradient sign(x) and 0 at 0 (as PyTorch); body in
/// kernels/bodies/abs.hpp.

#include <utility>

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/abs.hpp"
#include "fusegrad/ops/unary.hpp"

namespace fusegrad {
namespace op {
using abs = unary<kernels::body::abs>;
}  // namespace op

/// |x|, elementwise.
template <expression X>
auto abs(X&& x) {
    return detail::value_node_t<op::abs, X>{op::abs{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using abs = fusegrad::detail::type_list<fusegrad::op::abs>;
}  // namespace fusegrad::op::header_ops
