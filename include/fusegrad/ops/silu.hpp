#pragma once
/// @file
/// fg::silu(x) = x σ(x), elementwise (PyTorch's silu, also called swish); body in
/// kernels/bodies/silu.hpp.

#include <utility>

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/silu.hpp"
#include "fusegrad/ops/unary.hpp"

namespace fusegrad {
namespace op {
using silu = unary<kernels::body::silu>;
}  // namespace op

/// x · sigmoid(x), elementwise.
template <expression X>
auto silu(X&& x) {
    return detail::value_node_t<op::silu, X>{op::silu{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using silu = fusegrad::detail::type_list<fusegrad::op::silu>;
}  // namespace fusegrad::op::header_ops
