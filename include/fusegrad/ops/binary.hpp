#pragma once
/// @file
/// binary<Body>: the op of every elementwise binary body (fusegrad/kernels/binary.hpp), with
/// PyTorch's broadcasting written once for all of them: each dimension of the two operands must
/// match or be 1, a vector lines up with a matrix's columns, and the result has the larger rank.
/// Layouts reaching the kernels: the full shape, a scalar, a row (a vector or a 1×C matrix over
/// every row) or a column (an N×1 matrix over every column). A broadcast operand's gradient is
/// the sum over what it was broadcast along.

#include <cstddef>
#include <string>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/shape.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/kernels/binary.hpp"

namespace fusegrad::op {

namespace detail {
/// The shape of a op b under broadcasting, or a shape_error naming the op and both shapes.
inline shape broadcast_shape(std::string_view op, const shape& a, const shape& b) {
    auto dim = [](std::size_t x, std::size_t y, bool& ok) {
        if (x == y || y == 1) return x;
        if (x == 1) return y;
        ok = false;
        return x;
    };
    bool ok = true;
    shape r;
    r.rank = a.rank > b.rank ? a.rank : b.rank;
    r.rows = dim(a.rows, b.rows, ok);
    r.cols = dim(a.cols, b.cols, ok);
    if (!ok)
        throw shape_error(std::string(op) + ": cannot broadcast a " + a.str() + " with b " +
                          b.str() +
                          " (each dimension must match or be 1; a vector lines up with the "
                          "columns of a matrix)");
    return r;
}

/// How an operand of shape x is read for a result of shape out (out = broadcast_shape(x, ...)).
constexpr kernels::layout layout_in(const shape& x, const shape& out) noexcept {
    if (x.rows == out.rows && x.cols == out.cols) return kernels::layout::full;
    if (x.rows == 1 && x.cols == 1) return kernels::layout::scalar;
    if (x.rows == 1) return kernels::layout::row;
    return kernels::layout::col;
}
/// a, when b has a's shape; else a shape_error naming the op (losses whose target must match
/// the input, as PyTorch's binary cross-entropies).
inline shape same_shape(std::string_view op, const shape& a, const shape& b) {
    if (!(a == b))
        throw shape_error(std::string(op) + ": the target " + b.str() +
                          " must have the input's shape " + a.str() + " (as in PyTorch)");
    return a;
}
}  // namespace detail

template <class Body>
struct binary : Body {
    using binary_body = Body;
    static constexpr keeps kept = Body::kept;
    template <std::size_t A, std::size_t B>
    static constexpr std::size_t result_rank = A > B ? A : B;

    shape infer(const shape& a, const shape& b) const {
        return detail::broadcast_shape(Body::name, a, b);
    }

    template <class T>
    void forward(mview<T> out, cview<T> a, cview<T> b) const {
        kernels::binary_forward<Body, T>(*this, out.dims.rows, out.dims.cols, a.data,
                                         detail::layout_in(a.dims, out.dims), b.data,
                                         detail::layout_in(b.dims, out.dims), out.data);
    }
    template <class T>
    void vjp(grad_sink<T> da, grad_sink<T> db, cview<T> g, cview<T> out, cview<T> a,
             cview<T> b) const {
        kernels::binary_backward<Body, T>(*this, g.dims.rows, g.dims.cols, a.data,
                                          detail::layout_in(a.dims, g.dims), b.data,
                                          detail::layout_in(b.dims, g.dims), out.data, g.data,
                                          da.data, da.beta(), db.data, db.beta());
    }
};

}  // namespace fusegrad::op

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using binary = fusegrad::detail::type_list<>;  // a template: its instances live in their headers
}  // namespace fusegrad::op::header_ops
