#pragma once
/// @file
/// add(a, b) = a + b, broadcast as PyTorch (ops/binary.hpp: a scalar, a row or a column on either
/// side). The builder puts the higher-rank operand first. The layouts the first version covered
/// (equal shapes; b a scalar or a row of a) keep their kernels: contiguous SIMD adds, and the
/// row's gradient by pairwise column sums (its rounding error grows like log N over N rows); the
/// other broadcasts run the add body through the binary front door.

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/add.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/ops/binary.hpp"

namespace fusegrad::op {

struct add : binary<kernels::body::add> {
    template <class T>
    void forward(mview<T> out, cview<T> a, cview<T> b) const {
        using kernels::layout;
        const layout la = detail::layout_in(a.dims, out.dims),
                     lb = detail::layout_in(b.dims, out.dims);
        if (la == layout::full && lb == layout::full)
            kernels::add<T>(a.size(), a.data, b.data, out.data);
        else if (la == layout::full && lb == layout::scalar)
            kernels::add_scalar<T>(a.size(), a.data, b.data[0], out.data);
        else if (la == layout::full && lb == layout::row)
            kernels::add_row<T>(out.dims.rows, out.dims.cols, a.data, b.data, out.data);
        else
            binary::forward(out, a, b);
    }

    // da = g, db = g, each summed over the dimensions it was broadcast along
    template <class T>
    void vjp(grad_sink<T> da, grad_sink<T> db, cview<T> g, cview<T> out, cview<T> a,
             cview<T> b) const {
        using kernels::layout;
        const layout la = detail::layout_in(a.dims, g.dims), lb = detail::layout_in(b.dims, g.dims);
        if (la != layout::full) {
            binary::vjp(da, db, g, out, a, b);
            return;
        }
        if (da) kernels::axpby<T>(g.size(), T(1), g.data, da.beta(), da.data);
        if (!db) return;
        if (lb == layout::full) {
            kernels::axpby<T>(g.size(), T(1), g.data, db.beta(), db.data);
        } else if (lb == layout::scalar) {
            const T s = kernels::sum<T>(g.size(), g.data);
            db.data[0] = db.accumulate ? db.data[0] + s : s;  // beta = 0 must not read db
        } else if (lb == layout::row) {
            kernels::col_sums<T>(g.dims.rows, g.dims.cols, g.data, db.beta(), db.data);
        } else {
            binary::vjp(grad_sink<T>{}, db, g, out, a, b);
        }
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
/// a + b, broadcast as PyTorch: equal shapes, a scalar, a row (a vector over a matrix's columns)
/// or a column (an N×1 matrix) on either side. The wider operand goes first.
template <expression A, expression B>
auto add(A&& a, B&& b) {
    constexpr auto ra = std::remove_cvref_t<A>::rank, rb = std::remove_cvref_t<B>::rank;
    if constexpr (ra < rb)
        return add(static_cast<B&&>(b), static_cast<A&&>(a));
    else
        return detail::value_node_t<op::add, A, B>{op::add{},
                                                   {static_cast<A&&>(a), static_cast<B&&>(b)}};
}

// Operators only for fusegrad expressions, so xtensor's own operators are untouched (a - b is
// fg::sub, ops/sub.hpp).
template <expression A, expression B>
auto operator+(A&& a, B&& b) {
    return add(static_cast<A&&>(a), static_cast<B&&>(b));
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using add = fusegrad::detail::type_list<fusegrad::op::add>;
}  // namespace fusegrad::op::header_ops
