#pragma once
/// @file
/// unary<Body>: the op of every elementwise unary body (fusegrad/kernels/unary.hpp). The op
/// inherits the body's name, state and `kept`; its forward and vjp are the one kernel front door
/// run over the body. An op header is then its body's alias (or a struct deriving from
/// unary<Body> that adds `describe()` for its state) and its builder.

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/kernels/unary.hpp"
#include "fusegrad/ops/elementwise.hpp"

namespace fusegrad::op {

template <class Body>
struct unary : elementwise_unary, Body {
    using body = Body;
    static constexpr keeps kept = Body::kept;

    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::unary_forward<Body, T>(*this, x.size(), x.data, out.data);
    }
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T> out, cview<T> x) const {
        if (dx)
            kernels::unary_backward<Body, T>(*this, g.size(), x.data, out.data, g.data, dx.beta(),
                                             dx.data);
    }
};

namespace detail {
/// "name=value" with the shortest text that reads back as the same double.
inline std::string param_text(std::string_view name, double v) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(name).append("=").append(buf, r.ptr);
}
}  // namespace detail

}  // namespace fusegrad::op

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using unary = fusegrad::detail::type_list<>;  // a template: its instances live in their headers
}  // namespace fusegrad::op::header_ops
