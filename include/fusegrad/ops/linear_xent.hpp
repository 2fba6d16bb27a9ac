#pragma once
/// @file
/// linear_xent<R>(x, W, b, y[, w]): the softmax cross-entropy of the logits s = x·W + b against
/// class indices y, fused with the linear layer that makes them, so that the N×C logits are
/// never held (nor their N×C gradient): large vocabularies fit. `linear_xent<R, false>(x, W, y
/// [, w])` is the same without a bias. x is N×D, W is D×C (in × out, as fg::linear), b has C
/// entries, y holds N class indices, w one weight per class.
///
/// Every option of fg::cross_entropy (reduction, class weights, ignore_index, label_smoothing:
/// the loss is exactly softmax_xent<R> of the logits, see softmax_xent.hpp) and two more:
///   z_loss λ ≥ 0:   row i adds λ · lse_i², lse_i = log Σ_j e^{s_ij} (PaLM's auxiliary loss; 0
///                   in an ignored row, never weighted by a class weight; a mean divides it by
///                   the number of rows not ignored, as Liger-Kernel does);
///   softcap c ≥ 0:  the logits are c · tanh((x·W + b) / c) (Gemma 2's soft-capping); 0 is off.
///
/// fg::compile finds it by itself: `cross_entropy(linear(x, W, b), y)`, `cross_entropy(matmul(x,
/// W), y)` and the textbook `mean(nll(softmax(linear(x, W, b)), y))` become linear_xent (rules in
/// rewrite/builtin_rules.hpp). The algorithm and its memory bound are in kernels.hpp: tiles of at
/// most 128 Ki logits, recomputed in the backward; the workspace (graph::memory_report) is two
/// tiles and four numbers per row, independent of N×C.

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/cross_entropy.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/ops/embedding.hpp"
#include "fusegrad/ops/softmax_xent.hpp"

namespace fusegrad {

/// The options of a fused linear cross-entropy: those of fg::cross_entropy and three more.
struct linear_xent_options : xent_options {
    /// λ ≥ 0: adds λ · lse² per row (the z-loss).
    double z_loss = 0.0;
    /// c ≥ 0: the logits are c · tanh(s / c); 0 leaves them as they are.
    double softcap = 0.0;
    /// The tile grid, for tuning and tests: at most this many rows and classes per tile; 0 lets
    /// the op choose from the shapes (kernels::linear_xent_tiling).
    std::size_t tile_rows = 0;
    std::size_t tile_classes = 0;
};

namespace op {

template <reduction R>
struct embedding_linear_xent;

template <reduction R, bool Bias = true>
struct linear_xent {
    static constexpr std::string_view name = "linear_xent";
    /// The mean over an empty batch is refused (shape_error), not 0/0.
    static constexpr bool refuses_empty = R == reduction::mean;
    /// The vjp recomputes the logits: it reads every operand, never the loss.
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1) | keeps::operand(2) |
                                  keeps::operand(3) | keeps::operand(4);
    template <std::size_t... Ranks>
    static constexpr std::size_t result_rank = R == reduction::none ? 1 : 0;

    linear_xent_options options;

    shape infer(const shape& x, const shape& w, const shape& b,
                const shape& y) const requires Bias {
        check_linear(x, w);
        if (b.rank != 1 || b.cols != w.cols)
            throw shape_error("linear_xent: the bias b must be a vector of " +
                              std::to_string(w.cols) + " entries, one per column of W " + w.str() +
                              ", got " + b.str());
        return check_labels(x, y);
    }
    shape infer(const shape& x, const shape& w, const shape& b, const shape& y,
                const shape& cw) const requires Bias {
        const shape out = infer(x, w, b, y);
        check_weights(w, cw);
        return out;
    }
    shape infer(const shape& x, const shape& w, const shape& y) const requires(!Bias) {
        check_linear(x, w);
        return check_labels(x, y);
    }
    shape infer(const shape& x, const shape& w, const shape& y, const shape& cw) const
        requires(!Bias) {
        const shape out = infer(x, w, y);
        check_weights(w, cw);
        return out;
    }

    /// Two tiles and four numbers per row (see kernels::linear_xent_tiles).
    template <class... Rest>
    std::size_t workspace_size(const shape&, const shape& x, const shape& w, const Rest&...) const {
        return tiles(x, w).workspace(x.rows);
    }

    // ---- forward ----------------------------------------------------------------------------
    // `follows...` is empty for forward() and backward_follows in run() (core/views.hpp): then,
    // for a one-tile problem, the forward also writes the gradient tile the vjp will use.
    template <class T, class Y, class... F>
    void forward(mview<T> out, cview<T> x, cview<T> w, cview<T> b, cview<Y> y, workspace<T> ws,
                 F... follows) const requires Bias &&(std::same_as<F, backward_follows>&&...) {
        run_forward(out, problem<T>(x, w, b.data, nullptr), y, ws, sizeof...(follows) != 0);
    }
    template <class T, class Y, class... F>
    void forward(mview<T> out, cview<T> x, cview<T> w, cview<T> b, cview<Y> y, cview<T> cw,
                 workspace<T> ws, F... follows) const requires Bias &&
        (std::same_as<F, backward_follows>&&...) {
        run_forward(out, problem<T>(x, w, b.data, cw.data), y, ws, sizeof...(follows) != 0);
    }
    template <class T, class Y, class... F>
        void forward(mview<T> out, cview<T> x, cview<T> w, cview<Y> y, workspace<T> ws,
                     F... follows) const requires(!Bias) &&
        (std::same_as<F, backward_follows> && ...) {
        run_forward(out, problem<T>(x, w, nullptr, nullptr), y, ws, sizeof...(follows) != 0);
    }
    template <class T, class Y, class... F>
        void forward(mview<T> out, cview<T> x, cview<T> w, cview<Y> y, cview<T> cw, workspace<T> ws,
                     F... follows) const requires(!Bias) &&
        (std::same_as<F, backward_follows> && ...) {
        run_forward(out, problem<T>(x, w, nullptr, cw.data), y, ws, sizeof...(follows) != 0);
    }

    // ---- vjp: dx = G·Wᵀ, dW = xᵀ·G, db = Σ_rows G, G = ∂loss/∂s ⊙ ∂s/∂(xW + b), tile by tile --
    // Labels and class weights get no gradient (fg::linear_cross_entropy rejects a param there).
    template <class T, class Y>
    void vjp(grad_sink<T> dx, grad_sink<T> dw, grad_sink<T> db, grad_sink<T>, cview<T> g, cview<T>,
             cview<T> x, cview<T> w, cview<T> b, cview<Y> y, workspace<T> ws) const requires Bias {
        run_vjp(dx, dw, db, g, problem<T>(x, w, b.data, nullptr), y, ws);
    }
    template <class T, class Y>
    void vjp(grad_sink<T> dx, grad_sink<T> dw, grad_sink<T> db, grad_sink<T>, grad_sink<T>,
             cview<T> g, cview<T>, cview<T> x, cview<T> w, cview<T> b, cview<Y> y, cview<T> cw,
             workspace<T> ws) const requires Bias {
        run_vjp(dx, dw, db, g, problem<T>(x, w, b.data, cw.data), y, ws);
    }
    template <class T, class Y>
    void vjp(grad_sink<T> dx, grad_sink<T> dw, grad_sink<T>, cview<T> g, cview<T>, cview<T> x,
             cview<T> w, cview<Y> y, workspace<T> ws) const requires(!Bias) {
        run_vjp(dx, dw, grad_sink<T>{}, g, problem<T>(x, w, nullptr, nullptr), y, ws);
    }
    template <class T, class Y>
    void vjp(grad_sink<T> dx, grad_sink<T> dw, grad_sink<T>, grad_sink<T>, cview<T> g, cview<T>,
             cview<T> x, cview<T> w, cview<Y> y, cview<T> cw, workspace<T> ws) const
        requires(!Bias) {
        run_vjp(dx, dw, grad_sink<T>{}, g, problem<T>(x, w, nullptr, cw.data), y, ws);
    }

    /// As softmax_xent's, then the options of its own that are not the default.
    std::string describe() const {
        std::string d = softmax_xent<R>{options}.describe();
        const auto number = [&](std::string_view key, double v) {
            char buf[32];
            const auto res = std::to_chars(buf, buf + sizeof buf, v);
            d.append(", ").append(key).append("=").append(buf, res.ptr);
        };
        if (options.z_loss != 0.0) number("z_loss", options.z_loss);
        if (options.softcap != 0.0) number("softcap", options.softcap);
        if constexpr (!Bias) d.append(", no bias");
        return d;
    }

  private:
    // embedding_linear_xent is this op on rows read in place: it runs the same steps.
    template <reduction>
    friend struct embedding_linear_xent;

    static void check_linear(const shape& x, const shape& w) {
        if (x.rank != 2 || w.rank != 2)
            throw shape_error("linear_xent: expects a matrix x and a matrix W, got x " + x.str() +
                              ", W " + w.str());
        if (x.cols != w.rows)
            throw shape_error("linear_xent: x has " + std::to_string(x.cols) +
                              " columns but W has " + std::to_string(w.rows) + " rows (x is " +
                              x.str() + ", W is " + w.str() + ")");
    }
    static shape check_labels(const shape& x, const shape& y) {
        if (y.rank != 1 || y.cols != x.rows)
            throw shape_error("linear_xent: y must hold one class index per row of x (" +
                              std::to_string(x.rows) + "), got " + y.str());
        return R == reduction::none ? shape::vector(x.rows) : shape::scalar();
    }
    static void check_weights(const shape& w, const shape& cw) {
        if (cw.rank != 1 || cw.cols != w.cols)
            throw shape_error("linear_xent: the class weights must be a vector of " +
                              std::to_string(w.cols) + " entries, one per column of W " + w.str() +
                              ", got " + cw.str());
    }

    kernels::linear_xent_tiles tiles(const shape& x, const shape& w) const {
        return kernels::linear_xent_tiling(x.rows, w.cols, options.tile_rows, options.tile_classes,
                                           options.softcap > 0.0);
    }

    template <class T>
    kernels::linear_xent_problem<T> problem(cview<T> x, cview<T> w, const T* b, const T* cw) const {
        kernels::linear_xent_problem<T> p;
        p.n = x.dims.rows;
        p.depth = x.dims.cols;
        p.classes = w.dims.cols;
        p.x = x.data;
        p.w = w.data;
        p.b = b;
        p.targets.class_weights = cw;
        p.targets.smoothing = T(options.label_smoothing);
        p.targets.has_ignore_index = options.ignore_index.has_value();
        p.targets.ignore_index = options.ignore_index.value_or(0);
        p.z_loss = T(options.z_loss);
        p.softcap = T(options.softcap);
        p.tiles = tiles(x.dims, w.dims);
        return p;
    }
    template <class T>
    static void check_workspace(const kernels::linear_xent_problem<T>& p, workspace<T> ws) {
        const std::size_t need = p.tiles.workspace(p.n);
        if (ws.data == nullptr || ws.size < need)
            throw std::invalid_argument("linear_xent: the workspace has " +
                                        std::to_string(ws.size) + " elements, it needs " +
                                        std::to_string(need) + " (see workspace_size)");
    }

    // D and N_valid, the divisors of a mean: the total class weight of the rows not ignored and
    // their count (both N over all rows, or without weights and ignore index: no scan).
    template <class T, class Y>
    std::pair<T, T> mean_divisors(const kernels::linear_xent_problem<T>& p, const Y* y) const {
        const T all = T(p.n);
        if (options.mean_over_all_rows) return {all, all};
        const auto& t = p.targets;
        const T d = t.class_weights || t.has_ignore_index
                        ? kernels::xent_index_weight_total<T, Y>(p.n, y, t)
                        : all;
        auto unweighted = t;
        unweighted.class_weights = nullptr;
        const T rows =
            t.has_ignore_index ? kernels::xent_index_weight_total<T, Y>(p.n, y, unweighted) : all;
        return {d, rows};
    }

    // A label_error for the first label outside [0, classes) that is not ignored.
    template <class T, class Y>
    static void check_label_values(const kernels::linear_xent_problem<T>& p, cview<Y> y) {
        const auto bad = kernels::xent_first_bad_label<T, Y>(p.n, y.data, p.classes, p.targets);
        if (bad < p.n)
            throw_label_outside("linear_xent", "label y", bad, static_cast<long long>(y.data[bad]),
                                p.classes);
    }

    // before_vjp: run() is calling; for a scalar loss the gradient for an upstream of one (ce
    // scale 1/D for a mean, 1 for a sum) may then be made in the forward pass (kernels.hpp).
    template <class T, class Y>
    void run_forward(mview<T> out, const kernels::linear_xent_problem<T>& p, cview<Y> y,
                     workspace<T> ws, bool before_vjp) const {
        static_assert(std::integral<Y>, "linear_xent takes class indices (fg::labels)");
        check_workspace(p, ws);
        check_label_values(p, y);
        if constexpr (R == reduction::none) {
            kernels::linear_xent_forward<T, Y>(p, y.data, out.data, ws.data);
        } else if constexpr (R == reduction::sum) {
            const auto totals = kernels::linear_xent_forward<T, Y>(p, y.data, nullptr, ws.data,
                                                                   before_vjp ? T(1) : T(0));
            out.data[0] = totals.cross_entropy + p.z_loss * totals.lse_squared;
        } else {
            const auto [d, rows] = mean_divisors<T, Y>(p, y.data);
            // The same expression as run_vjp's g / d for g = 1: the kernel compares the two.
            const T scale = before_vjp ? T(1) / d : T(0);
            const auto totals =
                kernels::linear_xent_forward<T, Y>(p, y.data, nullptr, ws.data, scale);
            out.data[0] = totals.cross_entropy / d;
            if (p.z_loss != T(0)) out.data[0] += p.z_loss * totals.lse_squared / rows;
        }
    }

    template <class T, class Y>
    void run_vjp(grad_sink<T> dx, grad_sink<T> dw, grad_sink<T> db, cview<T> g,
                 const kernels::linear_xent_problem<T>& p, cview<Y> y, workspace<T> ws) const {
        if (!dx && !dw && !db) return;
        check_workspace(p, ws);
        check_label_values(p, y);  // the caller's array may have changed since the forward
        T ce_scale = T(1), z_scale = T(1);
        const T* row_scale = nullptr;
        if constexpr (R == reduction::none) row_scale = g.data;
        if constexpr (R == reduction::sum) ce_scale = z_scale = g.data[0];
        if constexpr (R == reduction::mean) {
            const auto [d, rows] = mean_divisors<T, Y>(p, y.data);
            ce_scale = g.data[0] / d;
            z_scale = p.z_loss != T(0) ? g.data[0] / rows : T(0);
        }
        kernels::linear_xent_backward<T, Y>(
            p, y.data, ce_scale, z_scale, row_scale, ws.data, dx.beta(), dx ? dx.data : nullptr,
            dw.beta(), dw ? dw.data : nullptr, db.beta(), db ? db.data : nullptr);
    }
};

}  // namespace op

namespace detail {
template <class Y>
void check_linear_xent_options(const linear_xent_options& o) {
    check_cross_entropy_options<Y>(o);
    const auto bad = [](std::string_view what, double v, std::string_view rule) {
        char buf[32];
        const auto res = std::to_chars(buf, buf + sizeof buf, v);
        throw std::invalid_argument("fg::linear_cross_entropy: " + std::string(what) + " must be " +
                                    std::string(rule) + ", got " + std::string(buf, res.ptr));
    };
    if (!(o.z_loss >= 0.0 && std::isfinite(o.z_loss))) bad("z_loss", o.z_loss, "finite and ≥ 0");
    if (!(o.softcap >= 0.0 && std::isfinite(o.softcap)))
        bad("softcap", o.softcap, "finite and ≥ 0 (0 is off)");
}

template <class X>
inline constexpr bool is_untrained_embedding_v = false;  // fg::embedding of a table without grad
template <class Table, class I>
inline constexpr bool is_untrained_embedding_v<node<op::embedding, Table, I>> =
    !requires_grad_v<Table>;

/// The node a fused linear cross-entropy with a bias becomes, on operands x, W, b, y[, w]:
/// embedding_linear_xent (ops/embedding_linear_xent.hpp) when x is an embedding of a table that
/// needs no gradient, whose picked rows are then read where they lie instead of gathered; else
/// linear_xent.
template <reduction R, class X, class... C>
auto linear_xent_node(const linear_xent_options& options, const X& x, const C&... c) {
    if constexpr (is_untrained_embedding_v<X>) {
        const auto& table = fusegrad::operand<0>(x);
        const auto& idx = fusegrad::operand<1>(x);
        node<op::embedding_linear_xent<R>, std::remove_cvref_t<decltype(table)>,
             std::remove_cvref_t<decltype(idx)>, C...>
            n{{}, {table, idx, c...}};
        n.op.options = options;
        n.op.padding_idx = x.op.padding_idx;
        return n;
    } else {
        node<op::linear_xent<R, true>, X, C...> n{{}, {x, c...}};
        n.op.options = options;
        return n;
    }
}

template <class X, class W, class Y>
constexpr void check_linear_xent_operands() {
    static_assert(!is_index_leaf_v<X> && X::rank == 2,
                  "fg::linear_cross_entropy(x, W, ...) needs x as a matrix, one row per sample");
    static_assert(!is_index_leaf_v<W> && W::rank == 2,
                  "fg::linear_cross_entropy(x, W, ...) needs W as a matrix, in × out");
    static_assert(is_index_leaf_v<Y>,
                  "fg::linear_cross_entropy needs class indices y (fg::labels of an integer "
                  "vector); for a target matrix use fg::cross_entropy(fg::linear(x, W, b), y)");
}
template <class CW>
constexpr void check_linear_xent_weights() {
    static_assert(!is_index_leaf_v<CW> && CW::rank == 1,
                  "fg::linear_cross_entropy: the class weights must be a vector of real values");
    static_assert(!requires_grad_v<CW>,
                  "fg::linear_cross_entropy gives no gradient for the class weights: build them "
                  "with fg::constant or fg::input, not from a param");
}
}  // namespace detail

/// cross_entropy(linear(x, W, b), y) as one fused op that never holds the N×C logits: x is N×D,
/// W is D×C, b has C entries and y holds N class indices. Reduced by R (default: the mean).
/// Throws std::invalid_argument for an option out of range. When x is fg::embedding(table,
/// indices) of a table that needs no gradient (a dataset's rows and a batch's indices), the
/// rows are read where they lie (op::embedding_linear_xent), with the same bits.
template <reduction R = reduction::mean, expression X, expression W, expression B, expression Y>
requires is_index_leaf_v<std::remove_cvref_t<Y>>
auto linear_cross_entropy(X&& x, W&& w, B&& b, Y&& y, linear_xent_options options = {}) {
    using XE = std::remove_cvref_t<X>;
    using WE = std::remove_cvref_t<W>;
    using BE = std::remove_cvref_t<B>;
    using YE = std::remove_cvref_t<Y>;
    detail::check_linear_xent_operands<XE, WE, YE>();
    static_assert(!is_index_leaf_v<BE> && BE::rank == 1,
                  "fg::linear_cross_entropy(x, W, b, y) needs the bias b as a vector");
    detail::check_linear_xent_options<YE>(options);
    return detail::linear_xent_node<R>(options, XE(x), WE(w), BE(b), YE(y));
}

/// As above with one weight per class (PyTorch's `weight`); the weights get no gradient.
template <reduction R = reduction::mean, expression X, expression W, expression B, expression Y,
          expression CW>
requires is_index_leaf_v<std::remove_cvref_t<Y>>
auto linear_cross_entropy(X&& x, W&& w, B&& b, Y&& y, CW&& weights,
                          linear_xent_options options = {}) {
    using XE = std::remove_cvref_t<X>;
    using WE = std::remove_cvref_t<W>;
    using BE = std::remove_cvref_t<B>;
    using YE = std::remove_cvref_t<Y>;
    using CE = std::remove_cvref_t<CW>;
    detail::check_linear_xent_operands<XE, WE, YE>();
    static_assert(!is_index_leaf_v<BE> && BE::rank == 1,
                  "fg::linear_cross_entropy(x, W, b, y, w) needs the bias b as a vector");
    detail::check_linear_xent_weights<CE>();
    detail::check_linear_xent_options<YE>(options);
    return detail::linear_xent_node<R>(options, XE(x), WE(w), BE(b), YE(y), CE(weights));
}

/// cross_entropy(matmul(x, W), y) fused: no bias.
template <reduction R = reduction::mean, expression X, expression W, expression Y>
requires is_index_leaf_v<std::remove_cvref_t<Y>>
auto linear_cross_entropy(X&& x, W&& w, Y&& y, linear_xent_options options = {}) {
    using XE = std::remove_cvref_t<X>;
    using WE = std::remove_cvref_t<W>;
    using YE = std::remove_cvref_t<Y>;
    detail::check_linear_xent_operands<XE, WE, YE>();
    detail::check_linear_xent_options<YE>(options);
    return node<op::linear_xent<R, false>, XE, WE, YE>{
        op::linear_xent<R, false>{options},
        {static_cast<X&&>(x), static_cast<W&&>(w), static_cast<Y&&>(y)}};
}

/// No bias, with class weights.
template <reduction R = reduction::mean, expression X, expression W, expression Y, expression CW>
requires is_index_leaf_v<std::remove_cvref_t<Y>>
auto linear_cross_entropy(X&& x, W&& w, Y&& y, CW&& weights, linear_xent_options options = {}) {
    using XE = std::remove_cvref_t<X>;
    using WE = std::remove_cvref_t<W>;
    using YE = std::remove_cvref_t<Y>;
    using CE = std::remove_cvref_t<CW>;
    detail::check_linear_xent_operands<XE, WE, YE>();
    detail::check_linear_xent_weights<CE>();
    detail::check_linear_xent_options<YE>(options);
    return node<op::linear_xent<R, false>, XE, WE, YE, CE>{
        op::linear_xent<R, false>{options},
        {static_cast<X&&>(x), static_cast<W&&>(w), static_cast<Y&&>(y),
         static_cast<CW&&>(weights)}};
}

}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using linear_xent =
    fusegrad::detail::type_list<fusegrad::op::linear_xent<fusegrad::reduction::none, true>,
                                fusegrad::op::linear_xent<fusegrad::reduction::mean, true>,
                                fusegrad::op::linear_xent<fusegrad::reduction::sum, true>,
                                fusegrad::op::linear_xent<fusegrad::reduction::none, false>,
                                fusegrad::op::linear_xent<fusegrad::reduction::mean, false>,
                                fusegrad::op::linear_xent<fusegrad::reduction::sum, false>>;
}  // namespace fusegrad::op::header_ops

// The op linear_cross_entropy builds on an untrained embedding (detail::linear_xent_node).
#include "fusegrad/ops/embedding_linear_xent.hpp"
