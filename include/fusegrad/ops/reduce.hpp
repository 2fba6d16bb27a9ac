#pragma once
/// @file
/// sum(x) and mean(x): all elements to one scalar.

#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad::op {

namespace detail {
template <class T>
void broadcast_scalar_grad(grad_sink<T> dx, T value) {  // dx (+)= value everywhere
    if (dx.accumulate)
        kernels::add_scalar<T>(dx.size(), dx.data, value, dx.data);
    else
        kernels::fill<T>(dx.size(), value, dx.data);
}
}  // namespace detail

struct sum {
    static constexpr std::string_view name = "sum";
    static constexpr keeps kept = keeps::nothing();  // the vjp reads only shapes
    template <std::size_t R>
    static constexpr std::size_t result_rank = 0;
    shape infer(const shape&) const { return shape::scalar(); }

    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        out.data[0] = kernels::sum<T>(x.size(), x.data);
    }
    // dx = g · 1
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T>, cview<T>) const {
        if (dx) detail::broadcast_scalar_grad(dx, g.data[0]);
    }
};

/// The mean of no elements (0/0, NaN in NumPy and PyTorch) is refused: a graph with an empty
/// operand of mean throws shape_error on its forward ("no silent NaN").
struct mean {
    static constexpr std::string_view name = "mean";
    static constexpr bool refuses_empty = true;
    static constexpr keeps kept = keeps::nothing();  // the vjp reads only shapes
    template <std::size_t R>
    static constexpr std::size_t result_rank = 0;
    shape infer(const shape&) const { return shape::scalar(); }

    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        out.data[0] = kernels::sum<T>(x.size(), x.data) / T(x.size());
    }
    // dx = g / n · 1
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T>, cview<T> x) const {
        if (dx) detail::broadcast_scalar_grad(dx, g.data[0] / T(x.size()));
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
/// The sum of all elements: a scalar.
template <expression X>
auto sum(X&& x) {
    return detail::value_node_t<op::sum, X>{op::sum{}, {static_cast<X&&>(x)}};
}
/// The mean of all elements: a scalar.
template <expression X>
auto mean(X&& x) {
    return detail::value_node_t<op::mean, X>{op::mean{}, {static_cast<X&&>(x)}};
}

/// How a loss reduces its per-element (or per-row) values (PyTorch's `reduction`).
enum class reduction { none, mean, sum };

namespace detail {
/// x reduced as a loss with reduction R: itself (none), fg::sum (sum) or fg::mean (mean).
template <reduction R, expression X>
auto reduced(X&& x) {
    if constexpr (R == reduction::none)
        return std::remove_cvref_t<X>(static_cast<X&&>(x));
    else if constexpr (R == reduction::sum)
        return sum(static_cast<X&&>(x));
    else
        return mean(static_cast<X&&>(x));
}
}  // namespace detail
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using reduce = fusegrad::detail::type_list<fusegrad::op::sum, fusegrad::op::mean>;
}  // namespace fusegrad::op::header_ops
