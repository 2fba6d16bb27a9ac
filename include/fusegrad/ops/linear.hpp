#pragma once
/// @file
/// linear(x, W, b) = x·W + b: an affine layer, W is in×out and b is broadcast over the rows.

#include <string>
#include <string_view>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad::op {

struct linear {
    static constexpr std::string_view name = "linear";
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1);  // what the vjp reads
    template <std::size_t X, std::size_t W, std::size_t B>
    static constexpr std::size_t result_rank = 2;

    shape infer(const shape& x, const shape& w, const shape& b) const {
        if (x.rank != 2 || w.rank != 2 || b.rank != 1)
            throw shape_error("linear: expects a matrix x, a matrix W and a vector b, got x " +
                              x.str() + ", W " + w.str() + ", b " + b.str());
        if (x.cols != w.rows)
            throw shape_error("linear: x has " + std::to_string(x.cols) + " columns but W has " +
                              std::to_string(w.rows) + " rows (x is " + x.str() + ", W is " +
                              w.str() + ")");
        if (b.cols != w.cols)
            throw shape_error("linear: b has " + std::to_string(b.cols) + " entries but W has " +
                              std::to_string(w.cols) + " columns (b is " + b.str() + ", W is " +
                              w.str() + ")");
        return shape::matrix(x.rows, w.cols);
    }

    template <class T>
    void forward(mview<T> out, cview<T> x, cview<T> w, cview<T> b) const {
        const auto m = x.dims.rows, k = x.dims.cols, n = w.dims.cols;
        kernels::broadcast_row<T>(m, n, b.data, out.data);
        kernels::gemm<T>(false, false, m, n, k, T(1), x.data, k, w.data, n, T(1), out.data, n);
    }

    // dx = g·Wᵀ,  dW = xᵀ·g,  db = Σ_rows g
    template <class T>
    void vjp(grad_sink<T> dx, grad_sink<T> dw, grad_sink<T> db, cview<T> g, cview<T>, cview<T> x,
             cview<T> w, cview<T>) const {
        const auto m = x.dims.rows, k = x.dims.cols, n = w.dims.cols;
        if (dx)
            kernels::gemm<T>(false, true, m, k, n, T(1), g.data, n, w.data, n, dx.beta(), dx.data,
                             k);
        if (dw)
            kernels::gemm<T>(true, false, k, n, m, T(1), x.data, k, g.data, n, dw.beta(), dw.data,
                             n);
        if (db) kernels::col_sums<T>(m, n, g.data, db.beta(), db.data);
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
/// x·W + b for x (batch × in), W (in × out) and b (out).
template <expression X, expression W, expression B>
auto linear(X&& x, W&& w, B&& b) {
    static_assert(std::remove_cvref_t<X>::rank == 2 && std::remove_cvref_t<W>::rank == 2 &&
                      std::remove_cvref_t<B>::rank == 1,
                  "fg::linear(x, W, b) takes a matrix x, a matrix W (in × out) and a vector b");
    return detail::value_node_t<op::linear, X, W, B>{
        op::linear{}, {static_cast<X&&>(x), static_cast<W&&>(w), static_cast<B&&>(b)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using linear = fusegrad::detail::type_list<fusegrad::op::linear>;
}  // namespace fusegrad::op::header_ops
