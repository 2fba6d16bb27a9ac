#pragma once
// Graph builders shared by the compile-cost sources.

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

}  // namespace fusegrad_cost
