#pragma once
/// @file
/// log_softmax(x), row-wise: x_i - max x - log Σ_k e^{x_k - max x}. A vector is one row.

#include <string>
#include <string_view>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad::op {

struct log_softmax {
    static constexpr std::string_view name = "log_softmax";
    static constexpr keeps kept = keeps::output();  // what the vjp reads
    template <std::size_t R>
    static constexpr std::size_t result_rank = R;

    shape infer(const shape& x) const {
        if (x.rank == 0) throw shape_error("log_softmax: needs a vector or a matrix, got a scalar");
        return x;
    }
    template <class T>
    void forward(mview<T> out, cview<T> x) const {
        kernels::log_softmax_rows<T>(x.dims.rows, x.dims.cols, x.data, out.data);
    }
    // dx = g - softmax(x) · Σ g, per row
    template <class T>
    void vjp(grad_sink<T> dx, cview<T> g, cview<T> ls, cview<T>) const {
        if (dx)
            kernels::log_softmax_rows_backward<T>(ls.dims.rows, ls.dims.cols, ls.data, g.data,
                                                  dx.beta(), dx.data);
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
/// Row-wise log-softmax, max-subtracted. A vector is one row.
template <expression X>
auto log_softmax(X&& x) {
    static_assert(std::remove_cvref_t<X>::rank >= 1, "fg::log_softmax needs a vector or a matrix");
    return detail::value_node_t<op::log_softmax, X>{op::log_softmax{}, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using log_softmax = fusegrad::detail::type_list<fusegrad::op::log_softmax>;
}  // namespace fusegrad::op::header_ops
