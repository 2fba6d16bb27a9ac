#pragma once
/// @file
/// nll_loss<R>(logp, y[, w]): PyTorch 1.13's `nll_loss` on a matrix of log-probabilities (the
/// output of log_softmax, one row per sample) and class indices y, with its `weight`,
/// `ignore_index` and `reduction`. With c = w (one weight per class, column of logp), or all 1:
///   loss_i = −c_{y_i} · logp[i, y_i],   0 for a row whose label is ignore_index;
///   none: the vector of loss_i;  sum: Σ_i loss_i;  mean: Σ_i loss_i / D, D = Σ over the rows
///   not ignored of c_{y_i} (their count without weights).
/// A degenerate mean (every row ignored, or a total weight of 0) divides by D = 0 as PyTorch
/// does: 0/0 = NaN when every row is ignored or every weight is 0 (and the rows' gradient too),
/// ±inf where weights of both signs add up to 0; a mean over an empty batch is refused
/// (shape_error), as softmax_xent's. The gradient is −c_{y_i} · r_i at [i, y_i] and 0 elsewhere,
/// r_i the upstream of row i (none), g (sum) or g / D (mean); the weights get none (PyTorch has
/// none either). fg::nll_logp(logp, y) is the per-row, unweighted form (also over a target
/// matrix). The rewriter turns nll_loss(log_softmax(s), y[, w]) into softmax_xent, PyTorch's
/// cross_entropy, the same loss in one pass.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/ops/nll_logp.hpp"
#include "fusegrad/ops/softmax_xent.hpp"

namespace fusegrad {
namespace op {

template <reduction R>
struct nll_loss {
    static constexpr std::string_view name = "nll_loss";
    /// The mean over an empty batch is refused (shape_error), not 0/0.
    static constexpr bool refuses_empty = R == reduction::mean;
    /// The vjp reads the labels and the weights, never logp.
    static constexpr keeps kept = keeps::operand(1) | keeps::operand(2);
    template <std::size_t... Ranks>
    static constexpr std::size_t result_rank = R == reduction::none ? 1 : 0;

    /// Rows labelled this get loss 0 and gradient 0 (PyTorch's default, -100); std::nullopt
    /// ignores none. Any other label outside [0, C) is a label_error.
    std::optional<std::int64_t> ignore_index = -100;

    std::string describe() const { return per_row().describe(); }

    shape infer(const shape& logp, const shape& y) const {
        if (logp.rank != 2)
            throw shape_error("nll_loss: logp must be a matrix of log-probabilities, got " +
                              logp.str());
        if (y.rank != 1 || y.cols != logp.rows)
            throw shape_error("nll_loss: y must hold one class index per row of logp " +
                              logp.str() + ", got " + y.str());
        return R == reduction::none ? shape::vector(logp.rows) : shape::scalar();
    }
    shape infer(const shape& logp, const shape& y, const shape& w) const {
        const shape out = infer(logp, y);
        if (w.rank != 1 || w.cols != logp.cols)
            throw shape_error("nll_loss: the class weights must be a vector of " +
                              std::to_string(logp.cols) + " entries, one per column of logp " +
                              logp.str() + ", got " + w.str());
        return out;
    }

    template <class T, class Y>
    void forward(mview<T> out, cview<T> logp, cview<Y> y) const {
        run_forward(out, logp, y, nullptr);
    }
    template <class T, class Y>
    void forward(mview<T> out, cview<T> logp, cview<Y> y, cview<T> w) const {
        run_forward(out, logp, y, w.data);
    }

    // dlogp[i, y_i] = −c_{y_i} r_i, 0 elsewhere and in ignored rows; no gradient for y or w.
    template <class T, class Y>
    void vjp(grad_sink<T> dlogp, grad_sink<T>, cview<T> g, cview<T>, cview<T> logp,
             cview<Y> y) const {
        run_vjp(dlogp, g, logp, y, nullptr);
    }
    template <class T, class Y>
    void vjp(grad_sink<T> dlogp, grad_sink<T>, grad_sink<T>, cview<T> g, cview<T>, cview<T> logp,
             cview<Y> y, cview<T> w) const {
        run_vjp(dlogp, g, logp, y, w.data);
    }

  private:
    nll_logp per_row() const { return nll_logp{ignore_index}; }

    template <class Y>
    bool is_ignored(Y label) const {
        return ignore_index && static_cast<std::int64_t>(label) == *ignore_index;
    }
    template <class T, class Y>
    T weight_of(const T* w, Y label) const {
        return w != nullptr ? w[static_cast<std::size_t>(label)] : T(1);
    }
    /// D of a mean: Σ c_{y_i} over the rows not ignored, summed in double.
    template <class T, class Y>
    T divisor(std::size_t m, const Y* y, const T* w) const {
        double d = 0.0;
        for (std::size_t i = 0; i < m; ++i)
            if (!is_ignored(y[i])) d += double(weight_of(w, y[i]));
        return T(d);
    }

    template <class T, class Y>
    void run_forward(mview<T> out, cview<T> logp, cview<Y> y,
                     std::type_identity_t<const T*> w) const {
        static_assert(std::integral<Y>, "nll_loss takes class indices (fg::labels)");
        const std::size_t m = logp.dims.rows, n = logp.dims.cols;
        per_row().check_labels(m, n, y.data, name);
        // Σ in double: one term per row, no cancellation to fear, and float keeps its ulp.
        double total = 0.0;
        for (std::size_t i = 0; i < m; ++i) {
            T loss = T(0);
            if (!is_ignored(y.data[i])) {
                const auto k = static_cast<std::size_t>(y.data[i]);
                loss = -weight_of(w, y.data[i]) * logp.data[i * n + k];
            }
            if constexpr (R == reduction::none)
                out.data[i] = loss;
            else
                total += double(loss);
        }
        if constexpr (R == reduction::sum) out.data[0] = T(total);
        if constexpr (R == reduction::mean) out.data[0] = T(total) / divisor(m, y.data, w);
    }

    template <class T, class Y>
    void run_vjp(grad_sink<T> dlogp, cview<T> g, cview<T> logp, cview<Y> y,
                 std::type_identity_t<const T*> w) const {
        if (!dlogp) return;
        const std::size_t m = logp.dims.rows, n = logp.dims.cols;
        per_row().check_labels(m, n, y.data, name);  // the array may have changed since the forward
        T scale = T(1);
        if constexpr (R == reduction::sum) scale = g.data[0];
        if constexpr (R == reduction::mean) scale = g.data[0] / divisor(m, y.data, w);
        if (!dlogp.accumulate) kernels::fill<T>(m * n, T(0), dlogp.data);
        for (std::size_t i = 0; i < m; ++i) {
            if (is_ignored(y.data[i])) continue;
            const T r = R == reduction::none ? g.data[i] : scale;
            dlogp.data[i * n + static_cast<std::size_t>(y.data[i])] -= weight_of(w, y.data[i]) * r;
        }
    }
};

}  // namespace op

/// PyTorch's nll_loss: the negative log-likelihood of log-probabilities logp (a matrix, one row
/// per sample, e.g. fg::log_softmax(s)) at class indices y (fg::labels of an integer vector),
/// reduced by R (default: the mean, as PyTorch). A row whose label is `ignore_index` (default
/// -100; std::nullopt ignores none) adds nothing, to the mean's divisor either.
template <reduction R = reduction::mean, expression P, expression Y>
auto nll_loss(P&& logp, Y&& y, std::optional<std::int64_t> ignore_index = -100) {
    using PE = std::remove_cvref_t<P>;
    using YE = std::remove_cvref_t<Y>;
    static_assert(!is_index_leaf_v<PE> && PE::rank == 2,
                  "fg::nll_loss(logp, y) needs logp first, as a matrix of log-probabilities, one "
                  "row per sample");
    static_assert(is_index_leaf_v<YE>,
                  "fg::nll_loss(logp, y) needs y as class indices (fg::labels of an integer "
                  "vector); for a target matrix use fg::nll_logp");
    return node<op::nll_loss<R>, PE, YE>{op::nll_loss<R>{ignore_index},
                                         {static_cast<P&&>(logp), static_cast<Y&&>(y)}};
}

/// As above with one weight per class (per column of logp), PyTorch's `weight`: row i's loss is
/// scaled by w[y_i], and a mean divides by the total weight of the rows not ignored. The weights
/// get no gradient: build them with fg::constant or fg::input.
template <reduction R = reduction::mean, expression P, expression Y, expression W>
auto nll_loss(P&& logp, Y&& y, W&& weights, std::optional<std::int64_t> ignore_index = -100) {
    using PE = std::remove_cvref_t<P>;
    using YE = std::remove_cvref_t<Y>;
    using WE = std::remove_cvref_t<W>;
    static_assert(!is_index_leaf_v<PE> && PE::rank == 2,
                  "fg::nll_loss(logp, y, w) needs logp first, as a matrix of log-probabilities, "
                  "one row per sample");
    static_assert(is_index_leaf_v<YE>,
                  "fg::nll_loss(logp, y, w) needs y as class indices (fg::labels of an integer "
                  "vector)");
    static_assert(!is_index_leaf_v<WE> && WE::rank == 1,
                  "fg::nll_loss(logp, y, w) needs the class weights w as a vector of real values, "
                  "one per column of logp");
    static_assert(!requires_grad_v<WE>,
                  "fg::nll_loss(logp, y, w) gives no gradient for the class weights w: build them "
                  "with fg::constant or fg::input, not from a param");
    return node<op::nll_loss<R>, PE, YE, WE>{
        op::nll_loss<R>{ignore_index},
        {static_cast<P&&>(logp), static_cast<Y&&>(y), static_cast<W&&>(weights)}};
}

}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using nll_loss = fusegrad::detail::type_list<fusegrad::op::nll_loss<fusegrad::reduction::none>,
                                             fusegrad::op::nll_loss<fusegrad::reduction::mean>,
                                             fusegrad::op::nll_loss<fusegrad::reduction::sum>>;
}  // namespace fusegrad::op::header_ops
