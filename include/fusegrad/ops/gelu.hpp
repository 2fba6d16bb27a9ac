#pragma once
/// @file
/// fg::gelu(x) = x Φ(x) with the erf, or with approximate = "tanh" PyTorch's tanh approximation;
/// body in kernels/bodies/gelu.hpp.

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/gelu.hpp"
#include "fusegrad/ops/unary.hpp"

namespace fusegrad {
namespace op {
struct gelu : unary<kernels::body::gelu> {
    std::string describe() const { return tanh_approximation ? "approximate=tanh" : ""; }
};
}  // namespace op

/// x Φ(x), Φ the standard normal CDF (erf form), elementwise. approximate is PyTorch's: "none"
/// or "tanh" (½x(1 + tanh(√(2/π)(x + 0.044715x³)))); anything else throws std::invalid_argument.
template <expression X>
auto gelu(X&& x, std::string_view approximate = "none") {
    op::gelu o;
    if (approximate == "tanh")
        o.tanh_approximation = true;
    else if (approximate != "none")
        throw std::invalid_argument("fg::gelu: approximate must be \"none\" or \"tanh\", got \"" +
                                    std::string(approximate) + "\"");
    return detail::value_node_t<decltype(o), X>{o, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using gelu = fusegrad::detail::type_list<fusegrad::op::gelu>;
}  // namespace fusegrad::op::header_ops
