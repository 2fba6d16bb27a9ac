#pragma once
/// @file
/// rows<Body>: the op of every row body (fusegrad/kernels/rows.hpp). The op inherits the body's
/// name, state and `kept`; its shape is N×1 (row_result::value) or N×C (row_result::row) for a
/// matrix x; its forward and vjp are the one row front door run over the body. An op header is
/// then its body's alias and its builder, as for unary<Body> (fusegrad/ops/unary.hpp).

#include <cstddef>
#include <string>
#include <string_view>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/kernels/rows.hpp"

namespace fusegrad::op {

template <class Body>
struct rows : Body {
    using row_body = Body;  // as binary<Body>'s binary_body (unary<Body>'s is `body`)
    static constexpr keeps kept = Body::kept;
    template <std::size_t R>
    static constexpr std::size_t result_rank = 2;

    shape infer(const shape& x) const {
        if constexpr (requires { Body::empty_rows_error; }) {
            if (x.cols == 0 && x.rows > 0)
                throw shape_error(
                    std::string(Body::name) + ": x " + x.str() +
                    " has rows of no entries: " + std::string(Body::empty_rows_error));
        }
        if constexpr (Body::result == kernels::row_result::value)
            return shape::matrix(x.rows, 1);
        else
            return x;
    }
    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::row_forward<Body, T>(*this, x.dims.rows, x.dims.cols, x.data, out.data);
    }
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T> out, cview<T> x) const {
        if (dx)
            kernels::row_backward<Body, T>(*this, x.dims.rows, x.dims.cols, x.data, out.data,
                                           g.data, dx.beta(), dx.data);
    }
};

}  // namespace fusegrad::op

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using rows = fusegrad::detail::type_list<>;  // a template: its instances live in their headers
}  // namespace fusegrad::op::header_ops
