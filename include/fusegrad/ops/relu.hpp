#pragma once
/// @file
/// relu(x) = max(x, 0), elementwise; its derivative at 0 is taken as 0.

#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/ops/elementwise.hpp"

namespace fusegrad::op {

struct relu : elementwise_unary {
    static constexpr std::string_view name = "relu";
    static constexpr keeps kept = keeps::operand(0);  // what the vjp reads

    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::relu<T>(x.size(), x.data, out.data);
    }
    // dx = g ⊙ [x > 0], and g where x is NaN (PyTorch's threshold_backward: x <= 0 ? 0 : g)
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T>, cview<T> x) const {
        if (dx) kernels::relu_backward<T>(g.size(), x.data, g.data, dx.beta(), dx.data);
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
/// Elementwise max(x, 0).
template <expression X>
auto relu(X&& x) {
    return detail::value_node_t<op::relu, X>{op::relu{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using relu = fusegrad::detail::type_list<fusegrad::op::relu>;
}  // namespace fusegrad::op::header_ops
