#pragma once
/// @file
/// fg::log_sigmoid(x) = log σ(x), elementwise; body in kernels/bodies/log_sigmoid.hpp. The
/// rewriter turns log(sigmoid(x)) into it.

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/log_sigmoid.hpp"
#include "fusegrad/ops/unary.hpp"

namespace fusegrad {
namespace op {
using log_sigmoid = unary<kernels::body::log_sigmoid>;
}  // namespace op

/// log σ(x) = −softplus(−x) elementwise, finite for every finite x.
template <expression X>
auto log_sigmoid(X&& x) {
    return detail::value_node_t<op::log_sigmoid, X>{op::log_sigmoid{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using log_sigmoid = fusegrad::detail::type_list<fusegrad::op::log_sigmoid>;
}  // namespace fusegrad::op::header_ops
