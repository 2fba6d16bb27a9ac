#pragma once
/// @file
/// softmax(x), row-wise: s_i = e^{x_i - max x} / Σ_k e^{x_k - max x}. A vector is one row.

#include <string>
#include <string_view>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad::op {

struct softmax {
    static constexpr std::string_view name = "softmax";
    static constexpr keeps kept = keeps::output();  // what the vjp reads
    template <std::size_t R>
    static constexpr std::size_t result_rank = R;

    shape infer(const shape& x) const {
        if (x.rank == 0) throw shape_error("softmax: needs a vector or a matrix, got a scalar");
        return x;
    }
    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::softmax_rows<T>(x.dims.rows, x.dims.cols, x.data, out.data);
    }
    // dx = gᵀ(diag(s) - s sᵀ) per row = s ⊙ (g - ⟨g, s⟩)
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T> s, cview<T>) const {
        if (dx)
            kernels::softmax_rows_backward<T>(s.dims.rows, s.dims.cols, s.data, g.data, dx.beta(),
                                              dx.data);
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
/// Row-wise softmax, max-subtracted. A vector is one row.
template <expression X>
auto softmax(X&& x) {
    static_assert(std::remove_cvref_t<X>::rank >= 1, "fg::softmax needs a vector or a matrix");
    return detail::value_node_t<op::softmax, X>{op::softmax{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using softmax = fusegrad::detail::type_list<fusegrad::op::softmax>;
}  // namespace fusegrad::op::header_ops
