#pragma once
/// @file
/// fg::sigmoid(x) = 1 / (1 + e^{−x}), elementwise; its body is kernels/bodies/sigmoid.hpp.

#include <utility>

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/sigmoid.hpp"
#include "fusegrad/ops/unary.hpp"

namespace fusegrad {
namespace op {
using sigmoid = unary<kernels::body::sigmoid>;
}  // namespace op

/// The logistic function 1 / (1 + e^{−x}), elementwise; finite for every x.
template <expression X>
auto sigmoid(X&& x) {
    return detail::value_node_t<op::sigmoid, X>{op::sigmoid{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using sigmoid = fusegrad::detail::type_list<fusegrad::op::sigmoid>;
}  // namespace fusegrad::op::header_ops
