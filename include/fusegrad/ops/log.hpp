#pragma once
/// @file
/// log(x), elementwise (log 0 = -inf, as std::log).

#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/ops/elementwise.hpp"

namespace fusegrad::op {

struct log : elementwise_unary {
    static constexpr std::string_view name = "log";
    static constexpr keeps kept = keeps::operand(0);  // what the vjp reads

    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::log<T>(x.size(), x.data, out.data);
    }
    // dx = g / x
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T>, cview<T> x) const {
        if (dx) kernels::div<T>(g.size(), g.data, x.data, dx.beta(), dx.data);
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
/// Elementwise natural logarithm.
template <expression X>
auto log(X&& x) {
    return detail::value_node_t<op::log, X>{op::log{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using log = fusegrad::detail::type_list<fusegrad::op::log>;
}  // namespace fusegrad::op::header_ops
