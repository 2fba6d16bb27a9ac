#pragma once
/// @file
/// The cross-entropy builders: `fg::cross_entropy(logits, y[, weights][, options])`, the fused
/// softmax cross-entropy of PyTorch's `cross_entropy`, and `fg::nll_logp(logp, y)`, the
/// negative log-likelihood of log-probabilities. Like every builder they compute nothing.

#include <charconv>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/ops/nll_logp.hpp"
#include "fusegrad/ops/softmax_xent.hpp"

namespace fusegrad {

namespace detail {
template <class S, class Y>
constexpr void check_cross_entropy_operands() {
    static_assert(!is_index_leaf_v<S>,
                  "fg::cross_entropy(s, y) takes the logits s first and the class-index labels "
                  "second");
    static_assert(S::rank == 2,
                  "fg::cross_entropy(s, y) needs the logits s as a matrix, one row per sample");
    static_assert(is_index_leaf_v<Y> || Y::rank == 2,
                  "fg::cross_entropy(s, y) needs y as class indices (fg::labels of an integer "
                  "vector) or as a target matrix shaped like s");
}

/// The options PyTorch rejects, rejected when the expression is built.
template <class Y>
void check_cross_entropy_options(const xent_options& options) {
    if (!(options.label_smoothing >= 0.0 && options.label_smoothing <= 1.0)) {
        char buf[32];
        const auto res = std::to_chars(buf, buf + sizeof buf, options.label_smoothing);
        throw std::invalid_argument("fg::cross_entropy: label_smoothing must be in [0, 1], got " +
                                    std::string(buf, res.ptr));
    }
    // PyTorch's default, -100, is accepted with a target matrix and means nothing there; any
    // other value is rejected, as PyTorch does ("ignore_index is not supported for floating point
    // target").
    if (!is_index_leaf_v<Y> && options.ignore_index && *options.ignore_index != -100)
        throw std::invalid_argument(
            "fg::cross_entropy: ignore_index applies to class-index targets only, not to a target "
            "matrix (PyTorch rejects it too, except its default -100, which ignores nothing)");
}
}  // namespace detail

/// Softmax cross-entropy of the logits s (a matrix, one row per sample) against class indices
/// y (fg::labels of an integer vector) or probability / one-hot targets (a matrix shaped like
/// s), reduced by R (default: the mean). One fused op: the gradient in s is the single-pass
/// (softmax(s) − target) · scale. Throws std::invalid_argument for options PyTorch rejects.
template <reduction R = reduction::mean, expression S, expression Y>
auto cross_entropy(S&& logits, Y&& y, xent_options options = {}) {
    using SE = std::remove_cvref_t<S>;
    using YE = std::remove_cvref_t<Y>;
    detail::check_cross_entropy_operands<SE, YE>();
    detail::check_cross_entropy_options<YE>(options);
    if constexpr (!is_index_leaf_v<YE>) options.ignore_index.reset();  // -100: nothing
    return node<op::softmax_xent<R>, SE, YE>{op::softmax_xent<R>{options},
                                             {static_cast<S&&>(logits), static_cast<Y&&>(y)}};
}

/// As above, with one weight per class (per column of s), PyTorch's `weight`. The weights get
/// no gradient: build them with fg::constant or fg::input.
template <reduction R = reduction::mean, expression S, expression Y, expression W>
auto cross_entropy(S&& logits, Y&& y, W&& weights, xent_options options = {}) {
    using SE = std::remove_cvref_t<S>;
    using YE = std::remove_cvref_t<Y>;
    using WE = std::remove_cvref_t<W>;
    detail::check_cross_entropy_operands<SE, YE>();
    static_assert(!is_index_leaf_v<WE> && WE::rank == 1,
                  "fg::cross_entropy(s, y, w) needs the class weights w as a vector of real "
                  "values, one per column of s");
    static_assert(!requires_grad_v<WE>,
                  "fg::cross_entropy(s, y, w) gives no gradient for the class weights w: build "
                  "them with fg::constant or fg::input, not from a param");
    detail::check_cross_entropy_options<YE>(options);
    if constexpr (!is_index_leaf_v<YE>) options.ignore_index.reset();  // -100: nothing
    return node<op::softmax_xent<R>, SE, YE, WE>{
        op::softmax_xent<R>{options},
        {static_cast<S&&>(logits), static_cast<Y&&>(y), static_cast<W&&>(weights)}};
}

/// Negative log-likelihood per row of a matrix of log-probabilities (the output of
/// log_softmax), with y class indices (fg::labels of an integer vector) or probability /
/// one-hot targets (a matrix shaped like logp): PyTorch's nll_loss with reduction none. A row
/// whose class index is `ignore_index` (PyTorch's default, -100) gets loss 0 and gradient 0;
/// std::nullopt ignores none. With a target matrix, any ignore_index other than -100 is
/// rejected (std::invalid_argument), as fg::cross_entropy does.
template <expression P, expression Y>
auto nll_logp(P&& logp, Y&& y, std::optional<std::int64_t> ignore_index = -100) {
    using PE = std::remove_cvref_t<P>;
    using YE = std::remove_cvref_t<Y>;
    static_assert(!is_index_leaf_v<PE>,
                  "fg::nll_logp(logp, y) takes the log-probabilities first and the class-index "
                  "labels second");
    static_assert(PE::rank == 2,
                  "fg::nll_logp(logp, y) needs logp as a matrix of log-probabilities, one row "
                  "per sample");
    static_assert(is_index_leaf_v<YE> || YE::rank == 2,
                  "fg::nll_logp(logp, y) needs y as class indices (fg::labels of an integer "
                  "vector) or as a target matrix shaped like logp");
    if constexpr (!is_index_leaf_v<YE>) {
        if (ignore_index && *ignore_index != -100)
            throw std::invalid_argument(
                "fg::nll_logp: ignore_index applies to class-index targets only, not to a target "
                "matrix");
        ignore_index.reset();
    }
    op::nll_logp o;
    o.ignore_index = ignore_index;
    return node<op::nll_logp, PE, YE>{o, {static_cast<P&&>(logp), static_cast<Y&&>(y)}};
}

}  // namespace fusegrad
