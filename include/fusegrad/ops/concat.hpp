#pragma once
/// @file
/// fg::concat(a, b, ...): matrices side by side (PyTorch's torch.cat(dim=1)), or vectors one
/// after the other (torch.cat of 1-D tensors). The rows must match; a mismatch is a shape_error
/// naming both shapes.

#include <cstddef>
#include <string_view>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad {
namespace op {
struct concat {
    static constexpr std::string_view name = "concat";
    static constexpr keeps kept = keeps::nothing();
    template <std::size_t A, std::size_t B>
    static constexpr std::size_t result_rank = A;

    shape infer(const shape& a, const shape& b) const {
        if (a.rank != b.rank || a.rows != b.rows)
            throw shape_error("concat: cannot put a " + a.str() + " and b " + b.str() +
                              " side by side (both matrices with the same number of rows, or "
                              "both vectors)");
        shape r = a;
        r.cols = a.cols + b.cols;
        return r;
    }
    template <class T>
    void forward(mview<T> out, cview<T> a, cview<T> b) const {
        const std::size_t ca = a.dims.cols, cb = b.dims.cols, c = ca + cb;
        for (std::size_t i = 0; i < a.dims.rows; ++i) {
            kernels::axpby<T>(ca, T(1), a.data + i * ca, T(0), out.data + i * c);
            kernels::axpby<T>(cb, T(1), b.data + i * cb, T(0), out.data + i * c + ca);
        }
    }
    // da = the first columns of g, db the others
    template <class T>
    void vjp(grad_sink<T> da, grad_sink<T> db, cview<T> g, cview<T>, cview<T> a, cview<T> b) const {
        const std::size_t ca = a.dims.cols, cb = b.dims.cols, c = ca + cb;
        for (std::size_t i = 0; i < a.dims.rows; ++i) {
            if (da) kernels::axpby<T>(ca, T(1), g.data + i * c, da.beta(), da.data + i * ca);
            if (db) kernels::axpby<T>(cb, T(1), g.data + i * c + ca, db.beta(), db.data + i * cb);
        }
    }
};
}  // namespace op

/// a and b side by side: N×Ca and N×Cb → N×(Ca + Cb); two vectors → one.
template <expression A, expression B>
auto concat(A&& a, B&& b) {
    static_assert(std::remove_cvref_t<A>::rank == std::remove_cvref_t<B>::rank &&
                      std::remove_cvref_t<A>::rank >= 1,
                  "fg::concat joins two matrices (side by side) or two vectors");
    return detail::value_node_t<op::concat, A, B>{op::concat{},
                                                  {static_cast<A&&>(a), static_cast<B&&>(b)}};
}
/// More than two: concat(concat(a, b), c, ...).
template <expression A, expression B, expression C, expression... D>
auto concat(A&& a, B&& b, C&& c, D&&... d) {
    return concat(concat(static_cast<A&&>(a), static_cast<B&&>(b)), static_cast<C&&>(c),
                  static_cast<D&&>(d)...);
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using concat = fusegrad::detail::type_list<fusegrad::op::concat>;
}  // namespace fusegrad::op::header_ops
