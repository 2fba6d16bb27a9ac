#pragma once
/// @file
/// softmax_xent<R>(s, y) and softmax_xent<R>(s, y, w): softmax cross-entropy of logits s (a
/// matrix, one row per sample) fused into one op, as PyTorch 1.13's
/// `torch::nn::functional::cross_entropy` with `reduction`, `weight`, `ignore_index` and
/// `label_smoothing`.
///
/// Targets y are class indices (an integer vector, one per row) or a probability / one-hot
/// matrix shaped like s; w holds one weight per class (column of s). Row i compares
/// softmax(s_i) with a target row t_i (c = w, or all 1; ε = label_smoothing; C = columns):
///   class index y_i:   t_i = (1 − ε) c_{y_i} e_{y_i} + (ε / C) c,   t_i = 0 if y_i is ignored;
///   target matrix y:   t_ij = c_j ((1 − ε) y_ij + ε / C);
///   loss_i = −Σ_j t_ij log softmax(s_i)_j = Σ_j t_ij (logsumexp(s_i) − s_ij).
/// Reductions: none gives the vector of loss_i; sum gives Σ_i loss_i; mean gives Σ_i loss_i / D
/// with D = Σ over the rows not ignored of c_{y_i} for class indices (their count without
/// weights), and D = N (all rows) for a target matrix, as in PyTorch. A degenerate mean (every
/// row ignored, or a total weight of 0) is 0/0 = NaN, as in PyTorch, and so is its gradient
/// where a row is not ignored.
///
/// Where this differs from PyTorch: a term whose target t_ij is exactly 0 adds nothing even at
/// a −inf logit (0 · ∞ = 0, as fg::nll), where PyTorch gives NaN (a probability target of 0 at a
/// masked class, or a class weight of 0 there under label smoothing); labels may be int32 or
/// int64; an ignored row's gradient is exactly 0 even where its logits hold a NaN (PyTorch
/// computes that row's softmax and multiplies it by 0: NaN). ignore_index does not apply to a
/// target matrix (fg::cross_entropy rejects the pair, as PyTorch does, except PyTorch's default
/// -100, which is accepted and ignores nothing).

#include <charconv>
#include <cmath>
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
#include "fusegrad/ops/reduce.hpp"  // reduction

namespace fusegrad {

/// The run-time options of a softmax cross-entropy. The defaults are plain cross-entropy.
struct xent_options {
    /// Rows whose class index equals this get loss 0 and gradient 0 and do not count in a mean.
    /// Class-index targets only. PyTorch's default, -100: a row labelled -100 is ignored, any
    /// other label outside [0, C) is an error. std::nullopt ignores no row (every label must be
    /// a class): what the rewrite of nll(softmax(s), y) uses, as nll ignores nothing.
    std::optional<std::int64_t> ignore_index = -100;
    /// ε in [0, 1]: the target row becomes (1 − ε) · target + ε / C (weighted as PyTorch does).
    double label_smoothing = 0.0;
    /// reduction::mean with class indices divides by the number of rows N instead of the total
    /// weight of the rows not ignored: what mean() of the per-row losses computes. Set by the
    /// rewrite of `mean(softmax_xent(s, y))`; not a PyTorch option.
    bool mean_over_all_rows = false;
};

namespace op {

template <reduction R>
struct softmax_xent {
    static constexpr std::string_view name = "softmax_xent";
    /// The mean over an empty batch is refused (shape_error), not 0/0.
    static constexpr bool refuses_empty = R == reduction::mean;
    /// The vjp reads the logits, the targets and the weights; never the loss.
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1) | keeps::operand(2);
    template <std::size_t... Ranks>
    static constexpr std::size_t result_rank = R == reduction::none ? 1 : 0;

    xent_options options;

    shape infer(const shape& s, const shape& y) const {
        if (s.rank != 2)
            throw shape_error(
                "softmax_xent: the logits s must be a matrix, one row per sample, got " + s.str());
        if (y.rank == 1 && y.cols != s.rows)
            throw shape_error("softmax_xent: s has " + std::to_string(s.rows) + " rows but y has " +
                              std::to_string(y.cols) + " labels (s is " + s.str() + ", y is " +
                              y.str() + ")");
        if (y.rank == 2 && y != s)
            throw shape_error("softmax_xent: targets y " + y.str() + " must have the shape of s " +
                              s.str());
        if (y.rank == 0)
            throw shape_error(
                "softmax_xent: y must be a label vector or a target matrix, got a scalar");
        return R == reduction::none ? shape::vector(s.rows) : shape::scalar();
    }
    shape infer(const shape& s, const shape& y, const shape& w) const {
        const shape out = infer(s, y);
        if (w.rank != 1)
            throw shape_error("softmax_xent: the class weights w must be a vector, got " + w.str());
        if (w.cols != s.cols)
            throw shape_error("softmax_xent: w has " + std::to_string(w.cols) +
                              " class weights but s has " + std::to_string(s.cols) +
                              " columns (w is " + w.str() + ", s is " + s.str() + ")");
        return out;
    }

    /// The workspace: each row's max and log-sum-exp (2 per row) from the forward, so that the
    /// backward does not re-scan the rows for them, and one flag saying whether they are there
    /// (run()'s fused forward does not write them).
    std::size_t workspace_size(const shape&, const shape& s, const shape&) const {
        return 2 * s.rows + 1;
    }
    std::size_t workspace_size(const shape&, const shape& s, const shape&, const shape&) const {
        return 2 * s.rows + 1;
    }

    template <class T, class Y>
    void forward(mview<T> out, cview<T> s, cview<Y> y, workspace<T> ws) const {
        forward_with(out, s, y, static_cast<const T*>(nullptr), static_cast<T*>(nullptr), ws);
    }
    template <class T, class Y>
    void forward(mview<T> out, cview<T> s, cview<Y> y, cview<T> w, workspace<T> ws) const {
        forward_with(out, s, y, w.data, static_cast<T*>(nullptr), ws);
    }

    /// run()'s forward (see docs/design.md): the value, and ds = ∂(loss)/∂s for an upstream
    /// gradient of 1 written straight into ds, in the same pass over s.
    template <class T, class Y>
    void forward_with_vjp(mview<T> out, mview<T> ds, cview<T> s, cview<Y> y,
                          workspace<T> ws) const {
        forward_with(out, s, y, static_cast<const T*>(nullptr), ds.data, ws);
    }
    template <class T, class Y>
    void forward_with_vjp(mview<T> out, mview<T> ds, cview<T> s, cview<Y> y, cview<T> w,
                          workspace<T> ws) const {
        forward_with(out, s, y, w.data, ds.data, ws);
    }
    /// After forward_with_vjp: ds holds the gradient for g = 1; scale it by the real g.
    template <class T, class Y>
    void vjp_after_fused(grad_sink<T> ds, grad_sink<T> dy, cview<T> g, cview<T>, cview<T> s,
                         cview<Y> y, workspace<T>) const {
        finish_fused(ds, dy, g, s, y, cview<T>{});
    }
    template <class T, class Y>
    void vjp_after_fused(grad_sink<T> ds, grad_sink<T> dy, grad_sink<T>, cview<T> g, cview<T>,
                         cview<T> s, cview<Y> y, cview<T> w, workspace<T>) const {
        finish_fused(ds, dy, g, s, y, w);
    }

    // ds_i = r_i (T_i softmax(s_i) − t_i), T_i = Σ_j t_ij (softmax − onehot for plain targets);
    // dy_ij = r_i (1 − ε) c_j (logsumexp(s_i) − s_ij);  r_i = g_i (none), g (sum), g / D (mean)
    template <class T, class Y>
    void vjp(grad_sink<T> ds, grad_sink<T> dy, cview<T> g, cview<T>, cview<T> s, cview<Y> y,
             workspace<T> ws) const {
        vjp_with(ds, dy, g, s, y, static_cast<const T*>(nullptr), row_stats(s, ws));
    }
    // The class weights get no gradient: fg::cross_entropy rejects weights with a param below.
    template <class T, class Y>
    void vjp(grad_sink<T> ds, grad_sink<T> dy, grad_sink<T>, cview<T> g, cview<T>, cview<T> s,
             cview<Y> y, cview<T> w, workspace<T> ws) const {
        vjp_with(ds, dy, g, s, y, w.data, row_stats(s, ws));
    }

    /// The reduction and any option that is not the default, for printing.
    std::string describe() const {
        std::string d = R == reduction::none  ? "reduction=none"
                        : R == reduction::sum ? "reduction=sum"
                                              : "reduction=mean";
        // No ignore index and PyTorch's -100 both print nothing: each is plain cross-entropy
        // for labels in [0, C) (the first is what the rewrite of nll(softmax(s), y) builds).
        if (options.ignore_index && *options.ignore_index != -100)
            d.append(", ignore_index=").append(std::to_string(*options.ignore_index));
        if (options.label_smoothing != 0.0) {
            char buf[32];
            const auto res = std::to_chars(buf, buf + sizeof buf, options.label_smoothing);
            d.append(", label_smoothing=").append(buf, res.ptr);
        }
        if (options.mean_over_all_rows) d.append(", mean_over_all_rows");
        return d;
    }

  private:
    // The forward's row statistics, or null when it did not write them (fused, or too small a
    // workspace: a caller that is not the graph).
    template <class T>
    static const T* row_stats(cview<T> s, workspace<T> ws) noexcept {
        const std::size_t m = s.dims.rows;
        return ws.data != nullptr && ws.size > 2 * m && ws.data[2 * m] == T(1) ? ws.data : nullptr;
    }

    template <class T, class Y>
    kernels::xent_targets<T> targets(const T* w) const {
        kernels::xent_targets<T> t;
        t.class_weights = w;
        t.smoothing = T(options.label_smoothing);
        if constexpr (std::integral<Y>) {
            t.has_ignore_index = options.ignore_index.has_value();
            t.ignore_index = options.ignore_index.value_or(0);
        }
        return t;
    }

    // D, the divisor of a mean. Without weights or an ignore index it is m: no scan.
    template <class T, class Y>
    T mean_divisor(std::size_t m, const Y* y, const kernels::xent_targets<T>& t) const {
        if constexpr (std::integral<Y>) {
            if (!options.mean_over_all_rows && (t.class_weights || t.has_ignore_index))
                return kernels::xent_index_weight_total<T, Y>(m, y, t);
        }
        return T(m);
    }

    // A label_error for the first label outside [0, n) that is not ignored. The vjp checks
    // again: the labels are the caller's array, which may have changed since the forward.
    template <class T, class Y>
    static void check_labels(std::size_t m, std::size_t n, const Y* y,
                             const kernels::xent_targets<T>& t) {
        if constexpr (std::integral<Y>) {
            const auto bad = kernels::xent_first_bad_label<T, Y>(m, y, n, t);
            if (bad < m)
                throw_label_outside("softmax_xent", "label y", bad, static_cast<long long>(y[bad]),
                                    n);
        }
    }

    // ds not null (run()'s fused forward): also write the gradient for an upstream 1, i.e.
    // alpha = 1 / D for a mean and 1 otherwise; finish_fused applies the real upstream g.
    template <class T, class Y>
    void forward_with(mview<T> out, cview<T> s, cview<Y> y, const T* w, T* ds,
                      workspace<T> ws) const {
        const auto m = s.dims.rows, n = s.dims.cols;
        const auto t = targets<T, Y>(w);
        T* per_row = R == reduction::none ? out.data : nullptr;
        check_labels<T, Y>(m, n, y.data, t);
        const T divisor = R == reduction::mean ? mean_divisor<T, Y>(m, y.data, t) : T(1);
        // Row statistics for the backward: written by the unfused forward only.
        T* stats = ds == nullptr && ws.data != nullptr && ws.size > 2 * m ? ws.data : nullptr;
        if (ws.data != nullptr && ws.size > 2 * m) ws.data[2 * m] = stats != nullptr ? T(1) : T(0);
        T total;
        if (ds != nullptr) {
            const T alpha = T(1) / divisor;
            if constexpr (std::integral<Y>)
                total = kernels::softmax_xent_index_rows_fused<T, Y>(m, n, s.data, y.data, t, alpha,
                                                                     per_row, ds);
            else
                total = kernels::softmax_xent_prob_rows_fused<T>(m, n, s.data, y.data, t, alpha,
                                                                 per_row, ds);
        } else if constexpr (std::integral<Y>) {
            total = kernels::softmax_xent_index_rows<T, Y>(m, n, s.data, y.data, t, T(1), nullptr,
                                                           per_row, stats);
        } else {
            total = kernels::softmax_xent_prob_rows<T>(m, n, s.data, y.data, t, T(1), nullptr,
                                                       per_row, stats);
        }
        if constexpr (R == reduction::sum) out.data[0] = total;
        if constexpr (R == reduction::mean) out.data[0] = total / divisor;
    }

    // ds = g · ds (sum, mean; nothing to do when g == 1), row i of ds times g_i (none). An
    // ignored row stays exactly 0, as the unfused vjp leaves it, even for an infinite g: such
    // rows are skipped, and a non-finite scalar g recomputes the gradient from scratch.
    template <class T, class Y>
    void finish_fused(grad_sink<T> ds, grad_sink<T> dy, cview<T> g, cview<T> s, cview<Y> y,
                      cview<T> w) const {
        const auto m = s.dims.rows, n = s.dims.cols;
        if constexpr (R == reduction::none) {
            const auto t = targets<T, Y>(w.data);
            for (std::size_t i = 0; i < m; ++i) {
                if (g.data[i] == T(1)) continue;
                if constexpr (std::integral<Y>) {
                    if (t.has_ignore_index && std::int64_t(y.data[i]) == t.ignore_index) continue;
                }
                kernels::axpby<T>(n, g.data[i], ds.data + i * n, T(0), ds.data + i * n);
            }
        } else {
            const T gs = g.data[0];
            if (gs == T(1)) return;
            if (!std::isfinite(gs)) {
                vjp_with(ds, dy, g, s, y, w.data, static_cast<const T*>(nullptr));
                return;
            }
            kernels::axpby<T>(m * n, gs, ds.data, T(0), ds.data);
        }
    }

    // stats: the forward's row max and log-sum-exp (the workspace), or null to recompute them
    // with one more read of each row.
    template <class T, class Y>
    void vjp_with(grad_sink<T> ds, grad_sink<T> dy, cview<T> g, cview<T> s, cview<Y> y, const T* w,
                  const T* stats) const {
        if (!ds && !dy) return;
        const auto m = s.dims.rows, n = s.dims.cols;
        const auto t = targets<T, Y>(w);
        check_labels<T, Y>(m, n, y.data, t);
        T alpha = T(1);
        const T* row_scale = nullptr;
        if constexpr (R == reduction::none) row_scale = g.data;
        if constexpr (R == reduction::sum) alpha = g.data[0];
        if constexpr (R == reduction::mean) alpha = g.data[0] / mean_divisor<T, Y>(m, y.data, t);
        if constexpr (std::integral<Y>) {
            if (ds)
                kernels::softmax_xent_index_rows_backward<T, Y>(
                    m, n, s.data, y.data, t, alpha, row_scale, stats, ds.beta(), ds.data);
        } else {
            kernels::softmax_xent_prob_rows_backward<T>(m, n, s.data, y.data, t, alpha, row_scale,
                                                        stats, ds.beta(), ds.data, dy.beta(),
                                                        dy.data);
        }
    }
};

}  // namespace op
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using softmax_xent =
    fusegrad::detail::type_list<fusegrad::op::softmax_xent<fusegrad::reduction::none>,
                                fusegrad::op::softmax_xent<fusegrad::reduction::mean>,
                                fusegrad::op::softmax_xent<fusegrad::reduction::sum>>;
}  // namespace fusegrad::op::header_ops
