#pragma once
/// @file
/// nll(p, y): the negative log-likelihood of each row of a probability matrix p.
/// With class indices y (an integer vector): out_i = -log p[i, y_i].
/// With probability or one-hot targets y (a matrix like p): out_i = -Σ_j y_ij log p_ij,
/// taking 0 · log 0 = 0. The result is a vector with one loss per row.

#include <cmath>
#include <concepts>
#include <string>
#include <string_view>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad::op {

struct nll {
    static constexpr std::string_view name = "nll";
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1);  // what the vjp reads
    template <std::size_t P, std::size_t Y>
    static constexpr std::size_t result_rank = 1;

    shape infer(const shape& p, const shape& y) const {
        if (p.rank != 2)
            throw shape_error("nll: p must be a matrix of probabilities, got " + p.str());
        if (y.rank == 1 && y.cols != p.rows)
            throw shape_error("nll: p has " + std::to_string(p.rows) + " rows but y has " +
                              std::to_string(y.cols) + " labels (p is " + p.str() + ", y is " +
                              y.str() + ")");
        if (y.rank == 2 && y != p)
            throw shape_error("nll: targets y " + y.str() + " must have the shape of p " + p.str());
        if (y.rank == 0)
            throw shape_error("nll: y must be a label vector or a target matrix, got a scalar");
        return shape::vector(p.rows);
    }

    /// Anomaly mode (graph::check_finite): p must be a probability matrix, every entry in
    /// [0, 1] and every row summing to 1 within 1e-3. Logits passed to nll instead would train
    /// a meaningless "loss" without a word.
    template <class T, class Y>
    std::string check_operands(cview<T> p, cview<Y>) const {
        const auto m = p.dims.rows, n = p.dims.cols;
        const std::string advice =
            ": nll takes probabilities (softmax's output); for logits use "
            "fg::cross_entropy(logits, y)";
        for (std::size_t i = 0; i < m; ++i) {
            double sum = 0;
            for (std::size_t j = 0; j < n; ++j) {
                const double x = static_cast<double>(p.data[i * n + j]);
                if (!(x >= 0 && x <= 1))
                    return "p[" + std::to_string(i) + ", " + std::to_string(j) +
                           "] = " + std::to_string(x) + " is not a probability" + advice;
                sum += x;
            }
            if (!(std::abs(sum - 1) <= 1e-3))
                return "row " + std::to_string(i) + " of p sums to " + std::to_string(sum) +
                       ", not 1" + advice;
        }
        return {};
    }

    /// A label_error naming the first label outside [0, n).
    template <class Y>
    static void check_labels(std::size_t m, std::size_t n, const Y* y) {
        const auto bad = kernels::first_label_out_of_range<Y>(m, y, n);
        if (bad < m) throw_label_outside(name, "label y", bad, static_cast<long long>(y[bad]), n);
    }

    template <class T, class Y>
    void forward(mview<T> out, cview<T> p, cview<Y> y) const {
        const auto m = p.dims.rows, n = p.dims.cols;
        if constexpr (std::integral<Y>) {
            check_labels(m, n, y.data);
            kernels::nll_index_rows<T, Y>(m, n, p.data, y.data, out.data);
        } else {
            kernels::nll_prob_rows<T>(m, n, p.data, y.data, out.data);
        }
    }

    // dp_ij = -g_i y_ij / p_ij  (one-hot: only at j = y_i);  dy_ij = -g_i log p_ij
    template <class T, class Y>
    void vjp(grad_sink<T> dp, grad_sink<T> dy, cview<T> g, cview<T>, cview<T> p, cview<Y> y) const {
        const auto m = p.dims.rows, n = p.dims.cols;
        if constexpr (std::integral<Y>) {
            if (!dp) return;
            check_labels(m, n, y.data);  // the caller's array may have changed since the forward
            kernels::nll_index_rows_backward<T, Y>(m, n, p.data, y.data, g.data, dp.beta(),
                                                   dp.data);
        } else {
            if (dp || dy)
                kernels::nll_prob_rows_backward<T>(m, n, p.data, y.data, g.data, dp.beta(), dp.data,
                                                   dy.beta(), dy.data);
        }
    }
};

}  // namespace fusegrad::op

namespace fusegrad {
/// Negative log-likelihood per row of a probability matrix p (the output of softmax), with y
/// class indices (integer vector, from fg::labels) or probability / one-hot targets (a matrix).
template <expression P, expression Y>
auto nll(P&& p, Y&& y) {
    using YT = std::remove_cvref_t<Y>;
    static_assert(std::remove_cvref_t<P>::rank == 2,
                  "fg::nll(p, y) needs p as a matrix of probabilities, one row per sample");
    static_assert(is_index_leaf_v<YT> || YT::rank == 2,
                  "fg::nll(p, y) needs y as class indices (fg::labels of an integer vector) or as "
                  "a target matrix shaped like p");
    static_assert(!is_index_leaf_v<std::remove_cvref_t<P>>,
                  "class-index labels can only be the second operand of fg::nll");
    return node<op::nll, std::remove_cvref_t<P>, YT>{{},
                                                     {static_cast<P&&>(p), static_cast<Y&&>(y)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using nll = fusegrad::detail::type_list<fusegrad::op::nll>;
}  // namespace fusegrad::op::header_ops
