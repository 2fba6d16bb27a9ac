#pragma once
/// @file
/// fg::sub(a, b) and a - b = a − b elementwise, broadcast as PyTorch (ops/binary.hpp); body in
/// kernels/bodies/sub.hpp. One op, not add(a, neg(b)): one pass instead of two, and a shape
/// error names "sub".

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/sub.hpp"
#include "fusegrad/ops/binary.hpp"

namespace fusegrad {
namespace op {
using sub = binary<kernels::body::sub>;
}  // namespace op

/// a − b elementwise, broadcasting a scalar, a row or a column on either side as PyTorch does.
template <expression A, expression B>
auto sub(A&& a, B&& b) {
    return detail::value_node_t<op::sub, A, B>{op::sub{},
                                               {static_cast<A&&>(a), static_cast<B&&>(b)}};
}
/// a - b between two expressions: fg::sub.
template <expression A, expression B>
auto operator-(A&& a, B&& b) {
    return sub(static_cast<A&&>(a), static_cast<B&&>(b));
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using sub = fusegrad::detail::type_list<fusegrad::op::sub>;
}  // namespace fusegrad::op::header_ops
