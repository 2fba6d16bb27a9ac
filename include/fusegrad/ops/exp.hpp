#pragma once
/// @file
/// exp(x), elementwise.

#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/ops/elementwise.hpp"

namespace fusegrad::op {

struct exp : elementwise_unary {
    static constexpr std::string_view name = "exp";
    static constexpr keeps kept = keeps::output();  // what the vjp reads

    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::exp<T>(x.size(), x.data, out.data);
    }
    // dx = g ⊙ exp(x) = g ⊙ out
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T> out, cview<T>) const {
        if (dx) kernels::mul<T>(g.size(), g.data, out.data, dx.beta(), dx.data);
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
/// Elementwise exponential.
template <expression X>
auto exp(X&& x) {
    return detail::value_node_t<op::exp, X>{op::exp{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using exp = fusegrad::detail::type_list<fusegrad::op::exp>;
}  // namespace fusegrad::op::header_ops
