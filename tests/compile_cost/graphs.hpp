#pragma once
// Graph builders shared by the compile-cost sources.

#include <algorithm>
#include <cmath>
#include <cstddef>

#include <fusegrad/fusegrad.hpp>

namespace fusegrad_cost {

namespace fg = fusegrad;

/// N levels of log(softmax(linear(h, W, b))) over h: 3 nodes deeper per level, and one
/// log∘softmax -> log_softmax rewrite per level.
template <int N, class H, class W, class B>
auto tower(const H& h, const W& w, const B& b) {
    if constexpr (N == 0)
        return h;
    else
        return fg::log(fg::softmax(fg::linear(tower<N - 1>(h, w, b), w, b)));
}

/// The number of nodes of an expression tree, leaves included, counted as written.
template <class E>
constexpr std::size_t tree_size = 1;
template <class Op, class... C>
constexpr std::size_t tree_size<fg::node<Op, C...>> = 1 + (tree_size<C> + ...);

/// Runs the rewritten and the as-written graph and compares their values and the gradients of
/// param "W": both must agree to double rounding. Returns the largest gradient difference
/// through `worst`.
template <class Fused, class Unfused>
bool fused_matches_unfused(Fused& fused, Unfused& unfused, double& worst) {
    fused.run();
    unfused.run();
    const auto& a = fused.template grad<"W">();
    const auto& b = unfused.template grad<"W">();
    worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(a.data()[i] - b.data()[i]));
    return std::abs(fused.value() - unfused.value()) <= 1e-12 * std::abs(unfused.value()) &&
           worst <= 1e-12;
}

}  // namespace fusegrad_cost
