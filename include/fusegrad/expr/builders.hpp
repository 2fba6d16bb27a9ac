#pragma once
/// @file
/// The op builders: each returns a node and computes nothing. Type-level misuse (wrong rank,
/// labels where values belong) is stopped here with a message that reads as a sentence.

#include <utility>

#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/ops/add.hpp"
#include "fusegrad/ops/exp.hpp"
#include "fusegrad/ops/linear.hpp"
#include "fusegrad/ops/log.hpp"
#include "fusegrad/ops/log_softmax.hpp"
#include "fusegrad/ops/matmul.hpp"
#include "fusegrad/ops/neg.hpp"
#include "fusegrad/ops/nll.hpp"
#include "fusegrad/ops/reduce.hpp"
#include "fusegrad/ops/relu.hpp"
#include "fusegrad/ops/scale.hpp"
#include "fusegrad/ops/softmax.hpp"
#include "fusegrad/ops/softmax_xent.hpp"  // reduction

namespace fusegrad {

/// a·b for an m×k matrix a and a k×n matrix b.
template <expression A, expression B>
auto matmul(A&& a, B&& b) {
    static_assert(std::remove_cvref_t<A>::rank == 2 && std::remove_cvref_t<B>::rank == 2,
                  "fg::matmul multiplies two matrices (rank 2)");
    return detail::make_value_node(op::matmul{}, static_cast<A&&>(a), static_cast<B&&>(b));
}

/// a + b, broadcast as PyTorch: equal shapes, a scalar, a row (a vector over a matrix's columns)
/// or a column (an N×1 matrix) on either side. The wider operand goes first.
template <expression A, expression B>
auto add(A&& a, B&& b) {
    constexpr auto ra = std::remove_cvref_t<A>::rank, rb = std::remove_cvref_t<B>::rank;
    if constexpr (ra < rb)
        return add(static_cast<B&&>(b), static_cast<A&&>(a));
    else
        return detail::make_value_node(op::add{}, static_cast<A&&>(a), static_cast<B&&>(b));
}

/// x·W + b for x (batch × in), W (in × out) and b (out).
template <expression X, expression W, expression B>
auto linear(X&& x, W&& w, B&& b) {
    static_assert(std::remove_cvref_t<X>::rank == 2 && std::remove_cvref_t<W>::rank == 2 &&
                      std::remove_cvref_t<B>::rank == 1,
                  "fg::linear(x, W, b) takes a matrix x, a matrix W (in × out) and a vector b");
    return detail::make_value_node(op::linear{}, static_cast<X&&>(x), static_cast<W&&>(w),
                                   static_cast<B&&>(b));
}

/// Row-wise softmax, max-subtracted. A vector is one row.
template <expression X>
auto softmax(X&& x) {
    static_assert(std::remove_cvref_t<X>::rank >= 1, "fg::softmax needs a vector or a matrix");
    return detail::make_value_node(op::softmax{}, static_cast<X&&>(x));
}

/// Row-wise log-softmax, max-subtracted. A vector is one row.
template <expression X>
auto log_softmax(X&& x) {
    static_assert(std::remove_cvref_t<X>::rank >= 1, "fg::log_softmax needs a vector or a matrix");
    return detail::make_value_node(op::log_softmax{}, static_cast<X&&>(x));
}

/// Elementwise natural logarithm.
template <expression X>
auto log(X&& x) {
    return detail::make_value_node(op::log{}, static_cast<X&&>(x));
}
/// Elementwise exponential.
template <expression X>
auto exp(X&& x) {
    return detail::make_value_node(op::exp{}, static_cast<X&&>(x));
}
/// Elementwise max(x, 0).
template <expression X>
auto relu(X&& x) {
    return detail::make_value_node(op::relu{}, static_cast<X&&>(x));
}
/// Elementwise -x.
template <expression X>
auto neg(X&& x) {
    return detail::make_value_node(op::neg{}, static_cast<X&&>(x));
}
/// alpha · x.
template <expression X>
auto scale(X&& x, double alpha) {
    op::scale s;
    s.alpha = alpha;
    return detail::make_value_node(s, static_cast<X&&>(x));
}
/// The sum of all elements: a scalar.
template <expression X>
auto sum(X&& x) {
    return detail::make_value_node(op::sum{}, static_cast<X&&>(x));
}
/// The mean of all elements: a scalar.
template <expression X>
auto mean(X&& x) {
    return detail::make_value_node(op::mean{}, static_cast<X&&>(x));
}

namespace detail {
/// x reduced as a loss with reduction R: itself (none), fg::sum (sum) or fg::mean (mean).
template <reduction R, expression X>
auto reduced(X&& x) {
    if constexpr (R == reduction::none)
        return std::remove_cvref_t<X>(static_cast<X&&>(x));
    else if constexpr (R == reduction::sum)
        return sum(static_cast<X&&>(x));
    else
        return mean(static_cast<X&&>(x));
}
}  // namespace detail

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

// ---- operators: only for fusegrad expressions, so xtensor's own operators are untouched ----

template <expression A, expression B>
auto operator+(A&& a, B&& b) {
    return add(static_cast<A&&>(a), static_cast<B&&>(b));
}
template <expression A>
auto operator-(A&& a) {
    return neg(static_cast<A&&>(a));
}
template <expression A, expression B>
auto operator-(A&& a, B&& b) {
    return add(static_cast<A&&>(a), neg(static_cast<B&&>(b)));
}
template <expression A>
auto operator*(double alpha, A&& a) {
    return scale(static_cast<A&&>(a), alpha);
}
template <expression A>
auto operator*(A&& a, double alpha) {
    return scale(static_cast<A&&>(a), alpha);
}

}  // namespace fusegrad
