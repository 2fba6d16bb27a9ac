// Compile cost of rewriting: a graph of 5 * FUSEGRAD_DEPTH + 8 tree nodes (a stack of
// log(softmax(linear(h, W, b))) levels under a softmax-NLL loss), rewritten and compiled. Every
// level fuses (log∘softmax -> log_softmax) and the loss fuses into linear_xent<mean>: 35
// rewrites at the default depth of 32. Measured by scripts/measure-compile-cost.sh; also run as
// a test, which checks the rewritten graph against the graph as written.

#include <cmath>
#include <cstdio>

#include <fusegrad/fusegrad.hpp>

#include "graphs.hpp"

#ifndef FUSEGRAD_DEPTH
#define FUSEGRAD_DEPTH 32
#endif

namespace fg = fusegrad;
using fusegrad_cost::tower;
using fusegrad_cost::tree_size;

int main() {
    xt::xtensor<double, 2> X = {{0.5, -1.0, 2.0}, {1.5, 0.25, -0.5}};
    xt::xtensor<double, 2> W = {{0.2, -0.1, 0.3}, {0.05, 0.4, -0.2}, {-0.3, 0.1, 0.25}};
    xt::xtensor<double, 1> b = {0.1, -0.2, 0.05};
    xt::xtensor<std::int32_t, 1> y = {2, 0};
    auto w = fg::param<"W">(W);
    auto c = fg::param<"b">(b);
    auto h = tower<FUSEGRAD_DEPTH>(fg::input<"x">(X), w, c);
    auto loss = fg::mean(fg::nll(fg::softmax(fg::linear(h, w, c)), fg::labels<"y">(y)));
    using L = decltype(loss);
    static_assert(tree_size<L> == 5 * FUSEGRAD_DEPTH + 8, "the graph is as large as announced");

    auto fused = fg::compile(loss);
    using F = typename decltype(fused)::expression_type;
    static_assert(!fg::contains_op<F, fg::op::softmax> && !fg::contains_op<F, fg::op::log>,
                  "every level fused");
    static_assert(fg::count_op<F, fg::op::log_softmax> == FUSEGRAD_DEPTH);
    auto unfused = fg::compile(loss, fg::no_rewrite);
    double worst = 0;
    const bool ok = fusegrad_cost::fused_matches_unfused(fused, unfused, worst);
    std::printf("tree nodes %zu, rewrites %zu, loss %.12f, max |dW diff| %.3g\n", tree_size<L>,
                fused.rules_fired().size(), fused.value(), worst);
    return ok ? 0 : 1;
}
