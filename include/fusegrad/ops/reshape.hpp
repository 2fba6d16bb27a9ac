#pragma once
/// @file
/// fg::reshape(x, rows, cols), fg::reshape(x, n) and fg::flatten(x): the same elements in the
/// same (row-major) order under another shape, as PyTorch's reshape and flatten. The element
/// count must match; a mismatch is a shape_error naming both shapes.

#include <cstddef>
#include <string>
#include <string_view>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad {
namespace op {
namespace detail {
/// What reshape and flatten share: the value is x's elements copied, the gradient g's.
struct same_elements {
    static constexpr keeps kept = keeps::nothing();
    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::axpby<T>(x.size(), T(1), x.data, T(0), out.data);
    }
    // dx = g, element by element
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T>, cview<T>) const {
        if (dx) kernels::axpby<T>(g.size(), T(1), g.data, dx.beta(), dx.data);
    }
};
}  // namespace detail

/// x viewed as a vector (Rank 1) of `cols` entries or a `rows`×`cols` matrix (Rank 2).
template <std::size_t Rank>
struct reshape : detail::same_elements {
    static_assert(Rank == 1 || Rank == 2, "fg::reshape makes a vector or a matrix");
    static constexpr std::string_view name = "reshape";
    template <std::size_t R>
    static constexpr std::size_t result_rank = Rank;
    std::size_t rows = 1, cols = 0;

    shape infer(const shape& x) const {
        const shape to = Rank == 1 ? shape::vector(cols) : shape::matrix(rows, cols);
        if (to.size() != x.size())
            throw shape_error("reshape: cannot reshape x " + x.str() + " (" +
                              std::to_string(x.size()) + " elements) to " + to.str() + " (" +
                              std::to_string(to.size()) + " elements)");
        return to;
    }
    std::string describe() const {
        return Rank == 1 ? "(" + std::to_string(cols) + ")"
                         : "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
    }
};

/// Every element of x as one vector, rows in order.
struct flatten : detail::same_elements {
    static constexpr std::string_view name = "flatten";
    template <std::size_t R>
    static constexpr std::size_t result_rank = 1;
    shape infer(const shape& x) const { return shape::vector(x.size()); }
};
}  // namespace op

/// x as a rows × cols matrix (the element count must match).
template <expression X>
auto reshape(X&& x, std::size_t rows, std::size_t cols) {
    op::reshape<2> o;
    o.rows = rows;
    o.cols = cols;
    return detail::value_node_t<decltype(o), X>{o, {static_cast<X&&>(x)}};
}
/// x as a vector of n entries (the element count must match).
template <expression X>
auto reshape(X&& x, std::size_t n) {
    op::reshape<1> o;
    o.cols = n;
    return detail::value_node_t<decltype(o), X>{o, {static_cast<X&&>(x)}};
}
/// Every element of x as one vector, rows in order (PyTorch's flatten()).
template <expression X>
auto flatten(X&& x) {
    return detail::value_node_t<op::flatten, X>{op::flatten{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using reshape = fusegrad::detail::type_list<fusegrad::op::reshape<1>, fusegrad::op::reshape<2>,
                                            fusegrad::op::flatten>;
}  // namespace fusegrad::op::header_ops
