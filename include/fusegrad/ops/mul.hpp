#pragma once
/// @file
/// fg::mul(a, b) and a * b = a · b elementwise, broadcast as PyTorch (ops/binary.hpp); body in
/// kernels/bodies/mul.hpp.

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/mul.hpp"
#include "fusegrad/ops/binary.hpp"

namespace fusegrad {
namespace op {
using mul = binary<kernels::body::mul>;
}  // namespace op

/// a · b elementwise (Hadamard), broadcasting a scalar, a row or a column as PyTorch does.
template <expression A, expression B>
auto mul(A&& a, B&& b) {
    return detail::value_node_t<op::mul, A, B>{op::mul{},
                                               {static_cast<A&&>(a), static_cast<B&&>(b)}};
}
/// a * b between two expressions: fg::mul (a double times an expression is fg::scale).
template <expression A, expression B>
auto operator*(A&& a, B&& b) {
    return mul(static_cast<A&&>(a), static_cast<B&&>(b));
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using mul = fusegrad::detail::type_list<fusegrad::op::mul>;
}  // namespace fusegrad::op::header_ops
