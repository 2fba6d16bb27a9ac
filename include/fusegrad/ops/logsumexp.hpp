#pragma once
/// @file
/// fg::logsumexp(x): log Σ_j e^{x[i, j]} over each row, max-subtracted, N×C → N×1 (PyTorch's
/// torch.logsumexp(x, 1, keepdim=True)). The rewriter turns log(sum_rows(exp(x))) into it.

#include <cstddef>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/ops/axis_reduce.hpp"

namespace fusegrad {
namespace op {
/// m + log Σ_j e^{x[i, j] − m} with m the row's max: no overflow for large x, no log 0 for very
/// negative x. A row of −inf gives −inf, a row with +inf gives +inf, a NaN gives NaN; a row of
/// no entries gives −inf (the log of an empty sum), as PyTorch.
struct logsumexp {
    static constexpr std::string_view name = "logsumexp";
    static constexpr keeps kept = keeps::operand(0) | keeps::output();
    template <std::size_t R>
    static constexpr std::size_t result_rank = 2;
    shape infer(const shape& x) const { return shape::matrix(x.rows, 1); }

    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::logsumexp_rows<T>(x.dims.rows, x.dims.cols, x.data, out.data);
    }
    // dx[i, j] = g[i] e^{x[i, j] − lse[i]}: the row's softmax
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T> out, cview<T> x) const {
        if (!dx) return;
        kernels::logsumexp_rows_backward<T>(x.dims.rows, x.dims.cols, x.data, out.data, g.data,
                                            dx.beta(), dx.data);
    }
};
}  // namespace op

/// log Σ_j e^{x[i, j]} over each row of a matrix, max-subtracted: N×C → N×1, so that
/// x - fg::logsumexp(x) is log_softmax(x). Its gradient is the row's softmax.
template <expression X>
auto logsumexp(X&& x) {
    static_assert(std::remove_cvref_t<X>::rank == 2,
                  "fg::logsumexp(x) reduces each row of a matrix (rank 2)");
    return detail::make_value_node(op::logsumexp{}, static_cast<X&&>(x));
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using logsumexp = fusegrad::detail::type_list<fusegrad::op::logsumexp>;
}  // namespace fusegrad::op::header_ops
