#pragma once
/// @file
/// fg::leaky_relu(x, negative_slope = 0.01): x for x > 0, slope · x otherwise, as PyTorch's; body
/// in kernels/bodies/leaky_relu.hpp.

#include <string>
#include <utility>

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/leaky_relu.hpp"
#include "fusegrad/ops/unary.hpp"

namespace fusegrad {
namespace op {
struct leaky_relu : unary<kernels::body::leaky_relu> {
    std::string describe() const { return detail::param_text("negative_slope", negative_slope); }
};
}  // namespace op

/// x where x > 0, negative_slope · x elsewhere (PyTorch's default slope, 0.01).
template <expression X>
auto leaky_relu(X&& x, double negative_slope = 0.01) {
    op::leaky_relu o;
    o.negative_slope = negative_slope;
    return detail::value_node_t<decltype(o), X>{o, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using leaky_relu = fusegrad::detail::type_list<fusegrad::op::leaky_relu>;
}  // namespace fusegrad::op::header_ops
