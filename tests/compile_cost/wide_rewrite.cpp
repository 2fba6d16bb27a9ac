// Compile cost of rewriting a wide graph: FUSEGRAD_HEADS softmax-regression heads (params V, c)
// summed, head k reading its input through a stack of k log(softmax(linear(h, W, b))) levels
// (the heads share their lower levels, which the plan evaluates once). 406 tree nodes and 88
// rewrites at the default 11 heads (each head ends in linear_xent). (Were the heads to use W and b
// too, a head's softmax would also be the inside of the next level's log(softmax(...)), and the
// rules rightly would not fuse it: tests/core/test_rewrite.cpp covers that near miss.) Measured by
// scripts/measure-compile-cost.sh; also run as a test, which checks the rewritten graph against the
// graph as written.

#include <cmath>
#include <cstdio>

#include <fusegrad/fusegrad.hpp>

#include "graphs.hpp"

#ifndef FUSEGRAD_HEADS
#define FUSEGRAD_HEADS 11
#endif

namespace fg = fusegrad;
using fusegrad_cost::tower;
using fusegrad_cost::tree_size;

template <int K, class X, class W, class B, class V, class C, class Y>
auto heads(const X& x, const W& w, const B& b, const V& v, const C& c, const Y& y) {
    auto head = fg::mean(fg::nll(fg::softmax(fg::linear(tower<K>(x, w, b), v, c)), y));
    if constexpr (K == 1)
        return head;
    else
        return heads<K - 1>(x, w, b, v, c, y) + head;
}

int main() {
    xt::xtensor<double, 2> X = {{0.5, -1.0, 2.0}, {1.5, 0.25, -0.5}};
    xt::xtensor<double, 2> W = {{0.2, -0.1, 0.3}, {0.05, 0.4, -0.2}, {-0.3, 0.1, 0.25}};
    xt::xtensor<double, 1> b = {0.1, -0.2, 0.05};
    xt::xtensor<std::int32_t, 1> y = {2, 0};
    xt::xtensor<double, 2> V = {{0.1, 0.3, -0.2}, {-0.4, 0.2, 0.1}, {0.3, -0.1, 0.2}};
    xt::xtensor<double, 1> c = {-0.1, 0.0, 0.2};
    auto loss = heads<FUSEGRAD_HEADS>(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b),
                                      fg::param<"V">(V), fg::param<"c">(c), fg::labels<"y">(y));
    using L = decltype(loss);

    auto fused = fg::compile(loss);
    using F = typename decltype(fused)::expression_type;
    static_assert(!fg::contains_op<F, fg::op::softmax> && !fg::contains_op<F, fg::op::log>,
                  "every level and every head fused");
    static_assert(fg::count_op<F, fg::op::linear_xent<fg::reduction::mean, true>> == FUSEGRAD_HEADS,
                  "every head fused into linear_xent");
    auto unfused = fg::compile(loss, fg::no_rewrite);
    double worst = 0;
    const bool ok = fusegrad_cost::fused_matches_unfused(fused, unfused, worst);
    std::printf(
        "tree nodes %zu, distinct values fused %zu / as written %zu, rewrites %zu, loss %.12f, "
        "max |dW diff| %.3g\n",
        tree_size<L>, decltype(fused)::num_values, decltype(unfused)::num_values,
        fused.rules_fired().size(), fused.value(), worst);
    return ok ? 0 : 1;
}
