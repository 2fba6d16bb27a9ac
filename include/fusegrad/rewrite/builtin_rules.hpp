#pragma once
/// @file
/// fusegrad's built-in rewrite rules, each with its algebra in one line. docs/rewrite-rules.md
/// lists them; `fg::check` verifies each (values and gradients, three ways).

#include <type_traits>

#include "fusegrad/core/node.hpp"
#include "fusegrad/ops/axis_reduce.hpp"
#include "fusegrad/ops/binary_cross_entropy.hpp"
#include "fusegrad/ops/embedding.hpp"
#include "fusegrad/ops/embedding_linear.hpp"
#include "fusegrad/ops/exp.hpp"
#include "fusegrad/ops/linear.hpp"
#include "fusegrad/ops/linear_xent.hpp"
#include "fusegrad/ops/log.hpp"
#include "fusegrad/ops/log_sigmoid.hpp"
#include "fusegrad/ops/log_softmax.hpp"
#include "fusegrad/ops/logsumexp.hpp"
#include "fusegrad/ops/matmul.hpp"
#include "fusegrad/ops/nll.hpp"
#include "fusegrad/ops/nll_logp.hpp"
#include "fusegrad/ops/nll_loss.hpp"
#include "fusegrad/ops/reduce.hpp"
#include "fusegrad/ops/sigmoid.hpp"
#include "fusegrad/ops/sigmoid_bce.hpp"
#include "fusegrad/ops/softmax.hpp"
#include "fusegrad/ops/softmax_xent.hpp"
#include "fusegrad/rewrite/pattern.hpp"
#include "fusegrad/rewrite/rule.hpp"

namespace fusegrad {

namespace detail {
template <class E>
inline constexpr bool is_per_row_xent_v = false;  // softmax_xent with reduction none
template <class... C>
inline constexpr bool is_per_row_xent_v<node<op::softmax_xent<reduction::none>, C...>> = true;
template <class E>
inline constexpr bool is_unweighted_per_row_xent_v = false;  // ... and without class weights
template <class S, class Y>
inline constexpr bool is_unweighted_per_row_xent_v<node<op::softmax_xent<reduction::none>, S, Y>> =
    true;

template <reduction R, class Inner>
auto reduce_xent(const Inner& inner) {  // the same operands and options, another reduction
    return fusegrad::apply_operands(
        [&](const auto&... c) {
            node<op::softmax_xent<R>, std::remove_cvref_t<decltype(c)>...> n{{}, {c...}};
            n.op.options = inner.op.options;
            return n;
        },
        inner);
}

template <class Op>
struct xent_reduction;  // R of softmax_xent<R>
template <reduction R>
struct xent_reduction<op::softmax_xent<R>> : std::integral_constant<reduction, R> {};
template <reduction R>
struct xent_reduction<op::nll_loss<R>> : std::integral_constant<reduction, R> {};

/// softmax_xent<R>(s, y[, w]) for nll_loss<R>(log_softmax(s), y[, w]): its reduction and
/// ignore_index.
template <class Outer, class... C>
auto xent_of_nll_loss(const Outer& outer, const C&... c) {
    constexpr reduction R = xent_reduction<std::remove_cvref_t<decltype(outer.op)>>::value;
    return node<op::softmax_xent<R>, std::remove_cvref_t<C>...>{
        op::softmax_xent<R>{xent_options{.ignore_index = outer.op.ignore_index}}, {c...}};
}

/// linear_xent<R, Bias>(operands...) with the options of the softmax_xent it replaces (with a
/// bias: embedding_linear_xent<R> for an embedding of a table without gradient, see
/// linear_xent_node).
template <bool Bias, class Outer, class... C>
auto make_linear_xent(const Outer& outer, const C&... c) {
    constexpr reduction R = xent_reduction<std::remove_cvref_t<decltype(outer.op)>>::value;
    linear_xent_options options;
    static_cast<xent_options&>(options) = outer.op.options;
    if constexpr (Bias) {
        return linear_xent_node<R>(options, c...);
    } else {
        node<op::linear_xent<R, Bias>, std::remove_cvref_t<C>...> n{{}, {c...}};
        n.op.options = options;
        return n;
    }
}

template <class E>
inline constexpr bool is_per_row_linear_xent_v = false;  // linear_xent with reduction none
template <bool Bias, class... C>
inline constexpr bool is_per_row_linear_xent_v<node<op::linear_xent<reduction::none, Bias>, C...>> =
    true;
template <class E>
inline constexpr bool is_unweighted_linear_xent_v = false;  // ... and without class weights
template <bool Bias, class... C>
inline constexpr bool
    is_unweighted_linear_xent_v<node<op::linear_xent<reduction::none, Bias>, C...>> =
        sizeof...(C) == (Bias ? 4 : 3);
template <class... C>
inline constexpr bool
    is_per_row_linear_xent_v<node<op::embedding_linear_xent<reduction::none>, C...>> = true;
template <class... C>
inline constexpr bool
    is_unweighted_linear_xent_v<node<op::embedding_linear_xent<reduction::none>, C...>> =
        sizeof...(C) == 5;

template <class Op, reduction R>
struct with_reduction;  // Op with reduction R
template <bool Bias, reduction R>
struct with_reduction<op::linear_xent<reduction::none, Bias>, R> {
    using type = op::linear_xent<R, Bias>;
};
template <reduction R>
struct with_reduction<op::embedding_linear_xent<reduction::none>, R> {
    using type = op::embedding_linear_xent<R>;
};

/// The same operands and op state (options, padding_idx), another reduction.
template <reduction R, class Op, class... C>
auto reduce_linear_xent(const node<Op, C...>& inner) {
    return fusegrad::apply_operands(
        [&](const auto&... c) {
            using Reduced = typename with_reduction<Op, R>::type;
            node<Reduced, std::remove_cvref_t<decltype(c)>...> n{{}, {c...}};
            n.op.options = inner.op.options;
            if constexpr (requires { inner.op.padding_idx; })
                n.op.padding_idx = inner.op.padding_idx;
            return n;
        },
        inner);
}
/// linear_xent(x, W, b, y[, w]) from softmax_xent(lin, y[, w]), lin = linear(x, W, b), or
/// embedding_linear(T, idx, W, b) with x = embedding(T, idx): then embedding_linear_xent when T
/// needs no gradient (both contracts, the N×C logits never held and the rows read in place),
/// else linear_xent on the embedding (the fused loss's contract comes first).
template <class Outer, class Op, class... C, class... Rest>
auto linear_xent_of(const Outer& outer, const node<Op, C...>& lin, const Rest&... rest) {
    return fusegrad::apply_operands(
        [&](const auto&... c) {
            if constexpr (std::is_same_v<Op, op::linear>) {
                return make_linear_xent<true>(outer, c..., rest...);
            } else {
                return [&](const auto& table, const auto& idx, const auto& w, const auto& b) {
                    return make_linear_xent<true>(
                        outer,
                        node<op::embedding, std::remove_cvref_t<decltype(table)>,
                             std::remove_cvref_t<decltype(idx)>>{lin.op.as_embedding(),
                                                                 {table, idx}},
                        w, b, rest...);
                }(c...);
            }
        },
        lin);
}
}  // namespace detail

namespace rules {
using placeholders::_1_t;
using placeholders::_2_t;
using placeholders::_3_t;
using placeholders::_4_t;

/// nll(softmax(s), y) -> softmax_xent(s, y):  -log(e^{s_y} / Σ_k e^{s_k}) = logsumexp(s) - s_y,
/// and its gradient in s is softmax(s) - y: the C×C Jacobian diag(σ) - σσᵀ is never formed.
/// No label is ignored (nll ignores none), where fg::cross_entropy ignores PyTorch's -100.
inline const auto nll_of_softmax = make_rule<pattern<op::nll, pattern<op::softmax, _1_t>, _2_t>>(
    "nll(softmax(s), y) -> softmax_xent(s, y)", [](const auto& s, const auto& y) {
        return node<op::softmax_xent<reduction::none>, std::remove_cvref_t<decltype(s)>,
                    std::remove_cvref_t<decltype(y)>>{
            op::softmax_xent<reduction::none>{xent_options{.ignore_index = std::nullopt}}, {s, y}};
    });

/// log(softmax(s)) -> log_softmax(s):  log(e^{s_i} / Σ_k e^{s_k}) = s_i - logsumexp(s), finite
/// where softmax underflows to 0.
inline const auto log_of_softmax = make_rule<pattern<op::log, pattern<op::softmax, _1_t>>>(
    "log(softmax(s)) -> log_softmax(s)", [](const auto& s) {
        return node<op::log_softmax, std::remove_cvref_t<decltype(s)>>{{}, {s}};
    });

/// nll_logp(log_softmax(s), y) -> softmax_xent(s, y):  -(s_y - logsumexp(s)) = logsumexp(s) - s_y,
/// ignoring the rows the nll_logp ignores (its ignore_index).
inline const auto nll_logp_of_log_softmax =
    make_rule<as<_1_t, pattern<op::nll_logp, pattern<op::log_softmax, _2_t>, _3_t>>>(
        "nll_logp(log_softmax(s), y) -> softmax_xent(s, y)",
        [](const auto& outer, const auto& s, const auto& y) {
            return node<op::softmax_xent<reduction::none>, std::remove_cvref_t<decltype(s)>,
                        std::remove_cvref_t<decltype(y)>>{
                op::softmax_xent<reduction::none>{
                    xent_options{.ignore_index = outer.op.ignore_index}},
                {s, y}};
        });

/// Any nll_loss, whatever its reduction.
using any_nll_loss = one_of<op::nll_loss<reduction::none>, op::nll_loss<reduction::mean>,
                            op::nll_loss<reduction::sum>>;

/// nll_loss(log_softmax(s), y) -> softmax_xent(s, y):  PyTorch's cross_entropy is exactly
/// nll_loss(log_softmax(s)); the same reduction and ignore_index, one pass, and the gradient in
/// s is the single (softmax(s) − target) · scale.
inline const auto nll_loss_of_log_softmax =
    make_rule<as<_1_t, pattern<any_nll_loss, pattern<op::log_softmax, _2_t>, _3_t>>>(
        "nll_loss(log_softmax(s), y) -> softmax_xent(s, y)",
        [](const auto& outer, const auto& s, const auto& y) {
            return detail::xent_of_nll_loss(outer, s, y);
        });
/// ... with class weights (the mean's divisor is the total weight of the rows not ignored in
/// both).
inline const auto weighted_nll_loss_of_log_softmax =
    make_rule<as<_1_t, pattern<any_nll_loss, pattern<op::log_softmax, _2_t>, _3_t, _4_t>>>(
        "nll_loss(log_softmax(s), y, w) -> softmax_xent(s, y, w)",
        [](const auto& outer, const auto& s, const auto& y, const auto& w) {
            return detail::xent_of_nll_loss(outer, s, y, w);
        });

/// sum(softmax_xent(s, y)) -> softmax_xent<sum>(s, y):  Σ_i ℓ_i, one pass instead of two. The
/// inner node is matched (`as`), not merely captured, so the rule does not fire where the
/// per-row losses are also used elsewhere: it would compute them twice.
inline const auto sum_of_xent =
    make_rule<pattern<op::sum, as<_1_t, node_of<op::softmax_xent<reduction::none>>>>>(
        "sum(softmax_xent(s, y)) -> softmax_xent<sum>(s, y)", [](const auto& inner) {
            if constexpr (detail::is_per_row_xent_v<std::remove_cvref_t<decltype(inner)>>)
                return detail::reduce_xent<reduction::sum>(inner);
            else
                return decline;
        });

/// mean(softmax_xent(s, y)) -> softmax_xent<mean>(s, y):  (1/N) Σ_i ℓ_i. Only without class
/// weights, where it equals PyTorch's mean; rows an ignore_index drops still count in N here,
/// as they do in the mean of the per-row losses.
inline const auto mean_of_xent =
    make_rule<pattern<op::mean, as<_1_t, node_of<op::softmax_xent<reduction::none>>>>>(
        "mean(softmax_xent(s, y)) -> softmax_xent<mean>(s, y)", [](const auto& inner) {
            using I = std::remove_cvref_t<decltype(inner)>;
            if constexpr (detail::is_unweighted_per_row_xent_v<I>) {
                auto n = detail::reduce_xent<reduction::mean>(inner);
                n.op.options.mean_over_all_rows = true;
                return n;
            } else {
                return decline;
            }
        });

/// Any softmax cross-entropy, whatever its reduction.
using any_softmax_xent =
    one_of<op::softmax_xent<reduction::none>, op::softmax_xent<reduction::mean>,
           op::softmax_xent<reduction::sum>>;
using placeholders::_5_t;
using placeholders::_6_t;

/// linear(embedding(T, idx), W, b) -> embedding_linear(T, idx, W, b): the same product, the
/// picked rows of T read where they lie as the GEMM packs them, instead of gathered into an
/// N×D copy first (a dataset's shuffled rows, an embedding's). The embedding is captured whole
/// (`as`) for its options (padding_idx, scale_grad_by_freq); having run-time state, it is never a
/// shared value (each use is its own, keyed by position), so this fuses the linear's use wherever
/// else the embedding is used. Under a softmax cross-entropy xent_of_linear takes it apart again
/// (bottom-up, this rule fires first) into embedding_linear_xent, which keeps both contracts, or,
/// for a table with a gradient, into linear_xent(embedding(T, idx), ...).
inline const auto linear_of_embedding =
    make_rule<pattern<op::linear, as<_1_t, pattern<op::embedding, _2_t, _3_t>>, _4_t, _5_t>>(
        "linear(embedding(T, idx), W, b) -> embedding_linear(T, idx, W, b)",
        [](const auto& e, const auto& t, const auto& idx, const auto& w, const auto& b) {
            return node<op::embedding_linear, std::remove_cvref_t<decltype(t)>,
                        std::remove_cvref_t<decltype(idx)>, std::remove_cvref_t<decltype(w)>,
                        std::remove_cvref_t<decltype(b)>>{
                op::embedding_linear{.padding_idx = e.op.padding_idx,
                                     .scale_grad_by_freq = e.op.scale_grad_by_freq},
                {t, idx, w, b}};
        });
/// Either linear layer under a softmax cross-entropy: linear, or linear_of_embedding's
/// embedding_linear (see linear_xent_of).
using any_linear = one_of<op::linear, op::embedding_linear>;

/// softmax_xent(linear(x, W, b), y) -> linear_xent(x, W, b, y): the same loss, the logits
/// xW + b computed tile by tile and never held whole (nor their gradient). Class indices only; the
/// softmax_xent is captured whole (`as`) for its reduction and options, the linear layer for its
/// operands (x is embedding(T, idx) again for an embedding_linear). One rule for both layers:
/// every rule is tried at every node of every pass (two more rules took 2 MB more of g++'s 460
/// MB on a 64-layer MLP).
inline const auto xent_of_linear =
    make_rule<as<_1_t, pattern<any_softmax_xent, as<_2_t, node_of<any_linear>>, _3_t>>>(
        "softmax_xent(linear(x, W, b), y) -> linear_xent(x, W, b, y)",
        [](const auto& outer, const auto& lin, const auto& y) {
            if constexpr (is_index_leaf_v<std::remove_cvref_t<decltype(y)>>)
                return detail::linear_xent_of(outer, lin, y);
            else
                return decline;
        });
/// ... with class weights.
inline const auto weighted_xent_of_linear =
    make_rule<as<_1_t, pattern<any_softmax_xent, as<_2_t, node_of<any_linear>>, _3_t, _4_t>>>(
        "softmax_xent(linear(x, W, b), y, w) -> linear_xent(x, W, b, y, w)",
        [](const auto& outer, const auto& lin, const auto& y, const auto& cw) {
            if constexpr (is_index_leaf_v<std::remove_cvref_t<decltype(y)>>)
                return detail::linear_xent_of(outer, lin, y, cw);
            else
                return decline;
        });
/// softmax_xent(matmul(x, W), y) -> linear_xent<no bias>(x, W, y).
inline const auto xent_of_matmul =
    make_rule<as<_1_t, pattern<any_softmax_xent, pattern<op::matmul, _2_t, _3_t>, _4_t>>>(
        "softmax_xent(matmul(x, W), y) -> linear_xent(x, W, y)",
        [](const auto& outer, const auto& x, const auto& w, const auto& y) {
            if constexpr (is_index_leaf_v<std::remove_cvref_t<decltype(y)>>)
                return detail::make_linear_xent<false>(outer, x, w, y);
            else
                return decline;
        });
/// ... with class weights.
inline const auto weighted_xent_of_matmul =
    make_rule<as<_1_t, pattern<any_softmax_xent, pattern<op::matmul, _2_t, _3_t>, _4_t, _5_t>>>(
        "softmax_xent(matmul(x, W), y, w) -> linear_xent(x, W, y, w)",
        [](const auto& outer, const auto& x, const auto& w, const auto& y, const auto& cw) {
            if constexpr (is_index_leaf_v<std::remove_cvref_t<decltype(y)>>)
                return detail::make_linear_xent<false>(outer, x, w, y, cw);
            else
                return decline;
        });

/// linear_xent or embedding_linear_xent, per row.
using per_row_linear_xent =
    one_of<op::linear_xent<reduction::none, true>, op::linear_xent<reduction::none, false>,
           op::embedding_linear_xent<reduction::none>>;

/// sum(linear_xent(...)) -> linear_xent<sum>(...), as sum_of_xent (embedding_linear_xent too).
inline const auto sum_of_linear_xent =
    make_rule<pattern<op::sum, as<_1_t, node_of<per_row_linear_xent>>>>(
        "sum(linear_xent(...)) -> linear_xent<sum>(...)", [](const auto& inner) {
            if constexpr (detail::is_per_row_linear_xent_v<std::remove_cvref_t<decltype(inner)>>)
                return detail::reduce_linear_xent<reduction::sum>(inner);
            else
                return decline;
        });

/// mean(linear_xent(...)) -> linear_xent<mean>(...), without class weights, as mean_of_xent
/// (the z-loss too is then divided by N; embedding_linear_xent too).
inline const auto mean_of_linear_xent =
    make_rule<pattern<op::mean, as<_1_t, node_of<per_row_linear_xent>>>>(
        "mean(linear_xent(...)) -> linear_xent<mean>(...)", [](const auto& inner) {
            using I = std::remove_cvref_t<decltype(inner)>;
            if constexpr (detail::is_unweighted_linear_xent_v<I>) {
                auto n = detail::reduce_linear_xent<reduction::mean>(inner);
                n.op.options.mean_over_all_rows = true;
                return n;
            } else {
                return decline;
            }
        });

/// binary_cross_entropy(sigmoid(s), y) -> sigmoid_bce(s, y):  −[y log σ(s) + (1 − y) log(1 − σ(s))]
/// = (1 − y) s + softplus(−s), since log σ(s) = −softplus(−s) and log(1 − σ(s)) = −s −
/// softplus(−s); its gradient in s is σ(s) − y, finite where σ(s) rounds to 0 or 1 and the written
/// graph's clamped logs lose the gradient.
inline const auto bce_of_sigmoid =
    make_rule<pattern<op::binary_cross_entropy, pattern<op::sigmoid, _1_t>, _2_t>>(
        "binary_cross_entropy(sigmoid(s), y) -> sigmoid_bce(s, y)",
        [](const auto& s, const auto& y) {
            return node<op::sigmoid_bce, std::remove_cvref_t<decltype(s)>,
                        std::remove_cvref_t<decltype(y)>>{{}, {s, y}};
        });

/// log(sigmoid(x)) -> log_sigmoid(x):  log(1 / (1 + e^{−x})) = −softplus(−x), finite where σ(x)
/// underflows to 0.
inline const auto log_of_sigmoid = make_rule<pattern<op::log, pattern<op::sigmoid, _1_t>>>(
    "log(sigmoid(x)) -> log_sigmoid(x)", [](const auto& x) {
        return node<op::log_sigmoid, std::remove_cvref_t<decltype(x)>>{{}, {x}};
    });

/// log(sum_rows(exp(x))) -> logsumexp(x):  log Σ_j e^{x_j} = m + log Σ_j e^{x_j − m} for the row's
/// max m: no overflow where e^{x_j} does, no log 0 where every e^{x_j} underflows.
inline const auto logsumexp_of_exp =
    make_rule<pattern<op::log, pattern<op::sum_rows, pattern<op::exp, _1_t>>>>(
        "log(sum_rows(exp(x))) -> logsumexp(x)", [](const auto& x) {
            return node<op::logsumexp, std::remove_cvref_t<decltype(x)>>{{}, {x}};
        });

}  // namespace rules

/// The rules `fg::compile` and `fg::rewrite` apply by default, in the order they are tried.
inline auto default_rules() {
    return make_rule_set(
        rules::nll_of_softmax, rules::log_of_softmax, rules::nll_logp_of_log_softmax,
        rules::nll_loss_of_log_softmax, rules::weighted_nll_loss_of_log_softmax, rules::sum_of_xent,
        rules::mean_of_xent, rules::linear_of_embedding, rules::xent_of_linear,
        rules::weighted_xent_of_linear, rules::xent_of_matmul, rules::weighted_xent_of_matmul,
        rules::sum_of_linear_xent, rules::mean_of_linear_xent, rules::bce_of_sigmoid,
        rules::log_of_sigmoid, rules::logsumexp_of_exp);
}

}  // namespace fusegrad
