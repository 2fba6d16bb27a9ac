#pragma once
/// @file
/// matmul(a, b) = a·b for an m×k matrix a and a k×n matrix b.

#include <string>
#include <string_view>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad::op {

struct matmul {
    static constexpr std::string_view name = "matmul";
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1);  // what the vjp reads
    template <std::size_t A, std::size_t B>
    static constexpr std::size_t result_rank = 2;

    shape infer(const shape& a, const shape& b) const {
        if (a.rank != 2 || b.rank != 2)
            throw shape_error("matmul: operands must be matrices, got a " + a.str() + " and b " +
                              b.str());
        if (a.cols != b.rows)
            throw shape_error("matmul: a has " + std::to_string(a.cols) + " columns but b has " +
                              std::to_string(b.rows) + " rows (a is " + a.str() + ", b is " +
                              b.str() + ")");
        return shape::matrix(a.rows, b.cols);
    }

    template <class T>
    void forward(mview<T> out, cview<T> a, cview<T> b) const {
        const auto m = a.dims.rows, k = a.dims.cols, n = b.dims.cols;
        kernels::gemm<T>(false, false, m, n, k, T(1), a.data, k, b.data, n, T(0), out.data, n);
    }

    // da = g·bᵀ,  db = aᵀ·g
    template <class T>
    void vjp(grad_sink<T> da, grad_sink<T> db, cview<T> g, cview<T>, cview<T> a, cview<T> b) const {
        const auto m = a.dims.rows, k = a.dims.cols, n = b.dims.cols;
        if (da)
            kernels::gemm<T>(false, true, m, k, n, T(1), g.data, n, b.data, n, da.beta(), da.data,
                             k);
        if (db)
            kernels::gemm<T>(true, false, k, n, m, T(1), a.data, k, g.data, n, db.beta(), db.data,
                             n);
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
/// a·b for an m×k matrix a and a k×n matrix b.
template <expression A, expression B>
auto matmul(A&& a, B&& b) {
    static_assert(std::remove_cvref_t<A>::rank == 2 && std::remove_cvref_t<B>::rank == 2,
                  "fg::matmul multiplies two matrices (rank 2)");
    return detail::value_node_t<op::matmul, A, B>{op::matmul{},
                                                  {static_cast<A&&>(a), static_cast<B&&>(b)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using matmul = fusegrad::detail::type_list<fusegrad::op::matmul>;
}  // namespace fusegrad::op::header_ops
