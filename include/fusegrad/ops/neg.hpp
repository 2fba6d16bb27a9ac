#pragma once
/// @file
/// neg(x) = -x, elementwise (what unary and binary minus build on).

#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/ops/elementwise.hpp"

namespace fusegrad::op {

struct neg : elementwise_unary {
    static constexpr std::string_view name = "neg";
    static constexpr keeps kept = keeps::nothing();  // what the vjp reads

    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::axpby<T>(x.size(), T(-1), x.data, T(0), out.data);
    }
    // dx = -g
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T>, cview<T>) const {
        if (dx) kernels::axpby<T>(g.size(), T(-1), g.data, dx.beta(), dx.data);
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
/// Elementwise -x.
template <expression X>
auto neg(X&& x) {
    return detail::value_node_t<op::neg, X>{op::neg{}, {static_cast<X&&>(x)}};
}
template <expression A>
auto operator-(A&& a) {
    return neg(static_cast<A&&>(a));
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using neg = fusegrad::detail::type_list<fusegrad::op::neg>;
}  // namespace fusegrad::op::header_ops
