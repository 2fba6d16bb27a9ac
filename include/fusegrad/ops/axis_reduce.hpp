#pragma once
/// @file
/// Reductions along one axis of a matrix, as PyTorch's x.sum(dim), x.mean(dim), x.max(dim):
///   sum_rows, mean_rows, max_rows: over each row, N×C → N×1 (PyTorch's keepdim=True, so the
///     result broadcasts back over the row: x / fg::sum_rows(x));
///   sum_cols, mean_cols: over each column, N×C → a vector of C (broadcasts as a row).
/// max_rows' gradient goes to the first maximal entry of each row (the index torch.max(x, 1)
/// returns); a row holding a NaN has the max NaN, its gradient at the first NaN.

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/max_rows.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/ops/rows.hpp"

namespace fusegrad::op {

namespace detail {
/// dx[i, :] (+)= alpha · g[i] for each row i of the m×n dx.
template <class T>
void broadcast_per_row(grad_sink<T> dx, const T* g, T alpha) {
    const std::size_t m = dx.dims.rows, n = dx.dims.cols;
    for (std::size_t i = 0; i < m; ++i) {
        T* row = dx.data + i * n;
        if (dx.accumulate)
            kernels::add_scalar<T>(n, row, alpha * g[i], row);
        else
            kernels::fill<T>(n, alpha * g[i], row);
    }
}
/// dx[:, j] (+)= alpha · g[j] for each column j of the m×n dx.
template <class T>
void broadcast_per_col(grad_sink<T> dx, const T* g, T alpha) {
    const std::size_t m = dx.dims.rows, n = dx.dims.cols;
    for (std::size_t i = 0; i < m; ++i) {
        T* row = dx.data + i * n;
        for (std::size_t j = 0; j < n; ++j) row[j] = (dx.accumulate ? row[j] : T(0)) + alpha * g[j];
    }
}
/// Every row reduction takes a matrix; the builders check the rank.
inline shape per_row_shape(const shape& x) {
    return shape::matrix(x.rows, 1);
}
}  // namespace detail

/// Σ_j x[i, j]: N×C → N×1.
struct sum_rows {
    static constexpr std::string_view name = "sum_rows";
    static constexpr keeps kept = keeps::nothing();
    template <std::size_t R>
    static constexpr std::size_t result_rank = 2;
    shape infer(const shape& x) const { return detail::per_row_shape(x); }
    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        for (std::size_t i = 0; i < x.dims.rows; ++i)
            out.data[i] = kernels::sum<T>(x.dims.cols, x.data + i * x.dims.cols);
    }
    // dx[i, j] = g[i]
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T>, cview<T>) const {
        if (dx) detail::broadcast_per_row(dx, g.data, T(1));
    }
};

/// (1/C) Σ_j x[i, j]: N×C → N×1. An empty operand (a row of no entries: NaN in PyTorch) is
/// refused with shape_error.
struct mean_rows {
    static constexpr std::string_view name = "mean_rows";
    static constexpr bool refuses_empty = true;
    static constexpr keeps kept = keeps::nothing();
    template <std::size_t R>
    static constexpr std::size_t result_rank = 2;
    shape infer(const shape& x) const { return detail::per_row_shape(x); }
    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        for (std::size_t i = 0; i < x.dims.rows; ++i)
            out.data[i] = kernels::sum<T>(x.dims.cols, x.data + i * x.dims.cols) / T(x.dims.cols);
    }
    // dx[i, j] = g[i] / C
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T>, cview<T> x) const {
        if (dx) detail::broadcast_per_row(dx, g.data, T(1) / T(x.dims.cols));
    }
};

/// max_j x[i, j]: N×C → N×1, a row body (kernels/bodies/max_rows.hpp). C = 0 is an error
/// (PyTorch's too).
using max_rows = rows<kernels::body::max_rows>;

/// Σ_i x[i, j]: N×C → C (summed pairwise down each column).
struct sum_cols {
    static constexpr std::string_view name = "sum_cols";
    static constexpr keeps kept = keeps::nothing();
    template <std::size_t R>
    static constexpr std::size_t result_rank = 1;
    shape infer(const shape& x) const { return shape::vector(x.cols); }
    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::col_sums<T>(x.dims.rows, x.dims.cols, x.data, T(0), out.data);
    }
    // dx[i, j] = g[j]
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T>, cview<T>) const {
        if (dx) detail::broadcast_per_col(dx, g.data, T(1));
    }
};

/// (1/N) Σ_i x[i, j]: N×C → C. An empty operand (a column of no entries: NaN in PyTorch) is
/// refused with shape_error.
struct mean_cols {
    static constexpr std::string_view name = "mean_cols";
    static constexpr bool refuses_empty = true;
    static constexpr keeps kept = keeps::nothing();
    template <std::size_t R>
    static constexpr std::size_t result_rank = 1;
    shape infer(const shape& x) const { return shape::vector(x.cols); }
    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::col_sums<T>(x.dims.rows, x.dims.cols, x.data, T(0), out.data);
        for (std::size_t j = 0; j < x.dims.cols; ++j) out.data[j] /= T(x.dims.rows);
    }
    // dx[i, j] = g[j] / N
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T>, cview<T> x) const {
        if (dx) detail::broadcast_per_col(dx, g.data, T(1) / T(x.dims.rows));
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
namespace detail {
template <class X>
constexpr void require_matrix_for_axis_reduction() {
    static_assert(std::remove_cvref_t<X>::rank == 2,
                  "fg::sum_rows, mean_rows, max_rows, sum_cols and mean_cols reduce one axis of a "
                  "matrix (rank 2); fg::sum and fg::mean reduce everything");
}
}  // namespace detail

/// Σ over each row of a matrix: N×C → N×1 (keepdim, so it broadcasts back over the rows).
template <expression X>
auto sum_rows(X&& x) {
    detail::require_matrix_for_axis_reduction<X>();
    return detail::value_node_t<op::sum_rows, X>{op::sum_rows{}, {static_cast<X&&>(x)}};
}
/// The mean of each row: N×C → N×1.
template <expression X>
auto mean_rows(X&& x) {
    detail::require_matrix_for_axis_reduction<X>();
    return detail::value_node_t<op::mean_rows, X>{op::mean_rows{}, {static_cast<X&&>(x)}};
}
/// The largest entry of each row: N×C → N×1; its gradient goes to the row's first maximum.
template <expression X>
auto max_rows(X&& x) {
    detail::require_matrix_for_axis_reduction<X>();
    return detail::value_node_t<op::max_rows, X>{op::max_rows{}, {static_cast<X&&>(x)}};
}
/// Σ down each column of a matrix: N×C → a vector of C.
template <expression X>
auto sum_cols(X&& x) {
    detail::require_matrix_for_axis_reduction<X>();
    return detail::value_node_t<op::sum_cols, X>{op::sum_cols{}, {static_cast<X&&>(x)}};
}
/// The mean of each column: N×C → a vector of C.
template <expression X>
auto mean_cols(X&& x) {
    detail::require_matrix_for_axis_reduction<X>();
    return detail::value_node_t<op::mean_cols, X>{op::mean_cols{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using axis_reduce = fusegrad::detail::type_list<fusegrad::op::sum_rows, fusegrad::op::mean_rows,
                                                fusegrad::op::max_rows, fusegrad::op::sum_cols,
                                                fusegrad::op::mean_cols>;
}  // namespace fusegrad::op::header_ops
