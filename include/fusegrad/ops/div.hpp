#pragma once
/// @file
/// fg::div(a, b) and a / b = a / b elementwise, broadcast as PyTorch (ops/binary.hpp); body in
/// kernels/bodies/div.hpp.

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/div.hpp"
#include "fusegrad/ops/binary.hpp"

namespace fusegrad {
namespace op {
using div = binary<kernels::body::div>;
}  // namespace op

/// a / b elementwise (IEEE: x / 0 is ±inf), broadcasting a scalar, a row or a column as PyTorch
/// does.
template <expression A, expression B>
auto div(A&& a, B&& b) {
    return detail::value_node_t<op::div, A, B>{op::div{},
                                               {static_cast<A&&>(a), static_cast<B&&>(b)}};
}
/// a / b between two expressions: fg::div.
template <expression A, expression B>
auto operator/(A&& a, B&& b) {
    return div(static_cast<A&&>(a), static_cast<B&&>(b));
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using div = fusegrad::detail::type_list<fusegrad::op::div>;
}  // namespace fusegrad::op::header_ops
