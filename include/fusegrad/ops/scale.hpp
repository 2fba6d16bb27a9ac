#pragma once
/// @file
/// scale(x, alpha) = alpha · x for a run-time constant alpha (what `alpha * x` builds).

#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/ops/elementwise.hpp"

namespace fusegrad::op {

/// Holds alpha as a double whatever the graph's scalar type, so the op's type does not depend
/// on it. Having state, a scale node is never merged with another of the same type.
struct scale : elementwise_unary {
    static constexpr std::string_view name = "scale";
    static constexpr keeps kept = keeps::nothing();  // what the vjp reads
    double alpha = 1.0;

    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::axpby<T>(x.size(), T(alpha), x.data, T(0), out.data);
    }
    // dx = alpha · g
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T>, cview<T>) const {
        if (dx) kernels::axpby<T>(g.size(), T(alpha), g.data, dx.beta(), dx.data);
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
/// alpha · x.
template <expression X>
auto scale(X&& x, double alpha) {
    op::scale s;
    s.alpha = alpha;
    return detail::value_node_t<decltype(s), X>{s, {static_cast<X&&>(x)}};
}
template <expression A>
auto operator*(double alpha, A&& a) {
    return scale(static_cast<A&&>(a), alpha);
}
template <expression A>
auto operator*(A&& a, double alpha) {
    return scale(static_cast<A&&>(a), alpha);
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using scale = fusegrad::detail::type_list<fusegrad::op::scale>;
}  // namespace fusegrad::op::header_ops
