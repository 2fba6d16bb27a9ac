#pragma once
/// @file
/// fg::logsumexp(x): log Σ_j e^{x[i, j]} over each row, max-subtracted, N×C → N×1 (PyTorch's
/// torch.logsumexp(x, 1, keepdim=True)). The rewriter turns log(sum_rows(exp(x))) into it.

#include <type_traits>

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/logsumexp.hpp"
#include "fusegrad/ops/rows.hpp"

namespace fusegrad {
namespace op {
/// Its body (kernels/bodies/logsumexp.hpp) subtracts the row's max m: m + log Σ_j e^{x[i, j] − m}.
using logsumexp = rows<kernels::body::logsumexp>;
}  // namespace op

/// log Σ_j e^{x[i, j]} over each row of a matrix, max-subtracted: N×C → N×1, so that
/// x - fg::logsumexp(x) is log_softmax(x). Its gradient is the row's softmax.
template <expression X>
auto logsumexp(X&& x) {
    static_assert(std::remove_cvref_t<X>::rank == 2,
                  "fg::logsumexp(x) reduces each row of a matrix (rank 2)");
    return detail::value_node_t<op::logsumexp, X>{op::logsumexp{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using logsumexp = fusegrad::detail::type_list<fusegrad::op::logsumexp>;
}  // namespace fusegrad::op::header_ops
