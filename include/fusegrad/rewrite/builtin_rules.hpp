#pragma once
/// @file
/// fusegrad's built-in rewrite rules, each with its algebra in one line. docs/rewrite-rules.md
/// lists them; `fg::check` verifies each (values and gradients, three ways).

#include <type_traits>

#include "fusegrad/core/node.hpp"
#include "fusegrad/ops/log.hpp"
#include "fusegrad/ops/log_softmax.hpp"
#include "fusegrad/ops/nll.hpp"
#include "fusegrad/ops/nll_logp.hpp"
#include "fusegrad/ops/reduce.hpp"
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
    return apply_operands(
        [&](const auto&... c) {
            node<op::softmax_xent<R>, std::remove_cvref_t<decltype(c)>...> n{{}, {c...}};
            n.op.options = inner.op.options;
            return n;
        },
        inner);
}
}  // namespace detail

namespace rules {
using placeholders::_1_t;
using placeholders::_2_t;

/// nll(softmax(s), y) -> softmax_xent(s, y):  -log(e^{s_y} / Σ_k e^{s_k}) = logsumexp(s) - s_y,
/// and its gradient in s is softmax(s) - y: the C×C Jacobian diag(σ) - σσᵀ is never formed.
inline const auto nll_of_softmax = make_rule<pattern<op::nll, pattern<op::softmax, _1_t>, _2_t>>(
    "nll(softmax(s), y) -> softmax_xent(s, y)", [](const auto& s, const auto& y) {
        return node<op::softmax_xent<reduction::none>, std::remove_cvref_t<decltype(s)>,
                    std::remove_cvref_t<decltype(y)>>{{}, {s, y}};
    });

/// log(softmax(s)) -> log_softmax(s):  log(e^{s_i} / Σ_k e^{s_k}) = s_i - logsumexp(s), finite
/// where softmax underflows to 0.
inline const auto log_of_softmax = make_rule<pattern<op::log, pattern<op::softmax, _1_t>>>(
    "log(softmax(s)) -> log_softmax(s)", [](const auto& s) {
        return node<op::log_softmax, std::remove_cvref_t<decltype(s)>>{{}, {s}};
    });

/// nll_logp(log_softmax(s), y) -> softmax_xent(s, y):  -(s_y - logsumexp(s)) = logsumexp(s) - s_y.
inline const auto nll_logp_of_log_softmax =
    make_rule<pattern<op::nll_logp, pattern<op::log_softmax, _1_t>, _2_t>>(
        "nll_logp(log_softmax(s), y) -> softmax_xent(s, y)", [](const auto& s, const auto& y) {
            return node<op::softmax_xent<reduction::none>, std::remove_cvref_t<decltype(s)>,
                        std::remove_cvref_t<decltype(y)>>{{}, {s, y}};
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

}  // namespace rules

/// The rules `fg::compile` and `fg::rewrite` apply by default, in the order they are tried.
inline auto default_rules() {
    return make_rule_set(rules::nll_of_softmax, rules::log_of_softmax,
                         rules::nll_logp_of_log_softmax, rules::sum_of_xent, rules::mean_of_xent);
}

}  // namespace fusegrad
