#pragma once
/// @file
/// nll_logp(logp, y): the negative log-likelihood of each row of a matrix of log-probabilities
/// (the output of log_softmax), as PyTorch's nll_loss with reduction none.
/// With class indices y (an integer vector): out_i = -logp[i, y_i], and 0 (gradient 0) for a row
/// whose label is ignore_index (PyTorch's default, -100; std::nullopt ignores none).
/// With probability or one-hot targets y (a matrix like logp): out_i = -Σ_j y_ij logp_ij,
/// taking 0 · (-inf) = 0. The result is a vector with one loss per row.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad::op {

struct nll_logp {
    static constexpr std::string_view name = "nll_logp";
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1);  // what the vjp reads
    template <std::size_t P, std::size_t Y>
    static constexpr std::size_t result_rank = 1;
    /// Rows labelled this get loss 0 and gradient 0 (class indices only), as PyTorch's
    /// nll_loss; any other label outside [0, C) is an error.
    std::optional<std::int64_t> ignore_index = -100;

    std::string describe() const {
        if (ignore_index == std::optional<std::int64_t>(-100)) return {};
        return ignore_index ? "ignore_index=" + std::to_string(*ignore_index)
                            : std::string("ignore_index=none");
    }

    shape infer(const shape& logp, const shape& y) const {
        if (logp.rank != 2)
            throw shape_error("nll_logp: logp must be a matrix of log-probabilities, got " +
                              logp.str());
        if (y.rank == 1 && y.cols != logp.rows)
            throw shape_error("nll_logp: logp has " + std::to_string(logp.rows) +
                              " rows but y has " + std::to_string(y.cols) + " labels (logp is " +
                              logp.str() + ", y is " + y.str() + ")");
        if (y.rank == 2 && y != logp)
            throw shape_error("nll_logp: targets y " + y.str() + " must have the shape of logp " +
                              logp.str());
        if (y.rank == 0)
            throw shape_error(
                "nll_logp: y must be a label vector or a target matrix, got a scalar");
        return shape::vector(logp.rows);
    }

    template <class T, class Y>
    void forward(mview<T> out, cview<T> logp, cview<Y> y) const {
        const auto m = logp.dims.rows, n = logp.dims.cols;
        if constexpr (std::integral<Y>) {
            check_labels(m, n, y.data);
            if (!any_ignored(m, y.data)) {
                kernels::nll_logp_index_rows<T, Y>(m, n, logp.data, y.data, out.data);
                return;
            }
            for (std::size_t i = 0; i < m; ++i)
                out.data[i] = is_ignored(y.data[i])
                                  ? T(0)
                                  : -logp.data[i * n + static_cast<std::size_t>(y.data[i])];
        } else {
            kernels::nll_logp_prob_rows<T>(m, n, logp.data, y.data, out.data);
        }
    }

    // dlogp_ij = -g_i y_ij  (one-hot: -g_i at j = y_i only);  dy_ij = -g_i logp_ij
    template <class T, class Y>
    void vjp(grad_sink<T> dlogp, grad_sink<T> dy, cview<T> g, cview<T>, cview<T> logp,
             cview<Y> y) const {
        const auto m = logp.dims.rows, n = logp.dims.cols;
        if constexpr (std::integral<Y>) {
            if (!dlogp) return;
            check_labels(m, n, y.data);  // the caller's array may have changed since the forward
            if (!any_ignored(m, y.data)) {
                kernels::nll_logp_index_rows_backward<T, Y>(m, n, y.data, g.data, dlogp.beta(),
                                                            dlogp.data);
                return;
            }
            // Rows with an ignored label get 0; the others -g_i at their label.
            const T beta = dlogp.beta();
            for (std::size_t i = 0; i < m; ++i) {
                T* dr = dlogp.data + i * n;
                for (std::size_t j = 0; j < n; ++j) dr[j] = beta == T(0) ? T(0) : beta * dr[j];
                if (!is_ignored(y.data[i])) dr[static_cast<std::size_t>(y.data[i])] -= g.data[i];
            }
        } else {
            if (dlogp || dy)
                kernels::nll_logp_prob_rows_backward<T>(
                    m, n, logp.data, y.data, g.data, dlogp.beta(), dlogp.data, dy.beta(), dy.data);
        }
    }

  private:
    template <class Y>
    bool is_ignored(Y label) const {
        return ignore_index && static_cast<std::int64_t>(label) == *ignore_index;
    }
    template <class Y>
    bool any_ignored(std::size_t m, const Y* y) const {
        if (!ignore_index) return false;
        for (std::size_t i = 0; i < m; ++i)
            if (is_ignored(y[i])) return true;
        return false;
    }

  public:
    /// Throws label_error naming the op and the first label outside [0, n) that is not
    /// ignored (nll_loss's check too).
    template <class Y>
    void check_labels(std::size_t m, std::size_t n, const Y* y,
                      std::string_view op_name = name) const {
        std::size_t from = 0;
        while (from < m) {
            const std::size_t bad =
                from + kernels::first_label_out_of_range<Y>(m - from, y + from, n);
            if (bad == m) break;
            if (!is_ignored(y[bad]))
                throw_label_outside(op_name, "label y", bad, static_cast<long long>(y[bad]), n,
                                    ignore_index ? " and is not ignore_index (" +
                                                       std::to_string(*ignore_index) + ")"
                                                 : std::string());
            from = bad + 1;
        }
    }
};

}  // namespace fusegrad::op

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using nll_logp = fusegrad::detail::type_list<fusegrad::op::nll_logp>;
}  // namespace fusegrad::op::header_ops
