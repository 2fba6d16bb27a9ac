#pragma once
/// @file
/// fg::pow(x, p) = x^p for a scalar exponent p, elementwise, as PyTorch's pow(tensor, scalar); body
/// in kernels/bodies/pow.hpp.

#include <string>
#include <utility>

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/pow.hpp"
#include "fusegrad/ops/unary.hpp"

namespace fusegrad {
namespace op {
struct pow : unary<kernels::body::pow> {
    std::string describe() const { return detail::param_text("exponent", exponent); }
};
}  // namespace op

/// x^p elementwise, for a scalar p: NaN for x < 0 and a non-integer p; at x = 0, 1 for p = 0,
/// 0 for p > 0 and +inf for p < 0. Its gradient p·x^{p−1} is 0 for p = 0.
template <expression X>
auto pow(X&& x, double p) {
    op::pow o;
    o.exponent = p;
    return detail::value_node_t<decltype(o), X>{o, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using pow = fusegrad::detail::type_list<fusegrad::op::pow>;
}  // namespace fusegrad::op::header_ops
