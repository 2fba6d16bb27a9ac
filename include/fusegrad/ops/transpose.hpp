#pragma once
/// @file
/// fg::transpose(x): the C×N transpose of an N×C matrix (PyTorch's x.t()).

#include <algorithm>
#include <cstddef>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"

namespace fusegrad {
namespace op {
struct transpose {
    static constexpr std::string_view name = "transpose";
    static constexpr keeps kept = keeps::nothing();
    template <std::size_t R>
    static constexpr std::size_t result_rank = 2;
    shape infer(const shape& x) const { return shape::matrix(x.cols, x.rows); }

    /// y (n×m) = xᵀ (+ beta · y) for the m×n x, in 32×32 tiles so that both sides stay in cache.
    template <class T>
    static void transpose_into(std::size_t m, std::size_t n, const T* x, bool accumulate, T* y) {
        constexpr std::size_t B = 32;
        for (std::size_t i0 = 0; i0 < m; i0 += B)
            for (std::size_t j0 = 0; j0 < n; j0 += B) {
                const std::size_t i1 = std::min(m, i0 + B), j1 = std::min(n, j0 + B);
                for (std::size_t j = j0; j < j1; ++j)
                    for (std::size_t i = i0; i < i1; ++i)
                        y[j * m + i] = accumulate ? y[j * m + i] + x[i * n + j] : x[i * n + j];
            }
    }
    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        transpose_into(x.dims.rows, x.dims.cols, x.data, false, out.data);
    }
    // dx = gᵀ
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T>, cview<T>) const {
        if (dx) transpose_into(g.dims.rows, g.dims.cols, g.data, dx.accumulate, dx.data);
    }
};
}  // namespace op

/// The transpose of a matrix: N×C → C×N.
template <expression X>
auto transpose(X&& x) {
    static_assert(std::remove_cvref_t<X>::rank == 2, "fg::transpose(x) needs a matrix (rank 2)");
    return detail::value_node_t<op::transpose, X>{op::transpose{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using transpose = fusegrad::detail::type_list<fusegrad::op::transpose>;
}  // namespace fusegrad::op::header_ops
