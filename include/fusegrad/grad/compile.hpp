#pragma once
/// @file
/// `fg::compile(expr)`: rewrite (fusion), plan and buffers, ready to run. And
/// `fg::value_and_grad(expr)` for one-shot use.

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fusegrad/core/traits.hpp"
#include "fusegrad/grad/graph.hpp"
#include "fusegrad/rewrite/rewrite.hpp"

namespace fusegrad {

/// Pass to `fg::compile` to run the expression exactly as written.
struct no_rewrite_t {};
inline constexpr no_rewrite_t no_rewrite{};

/// Compile an expression as written, without rewriting.
template <expression Expr>
auto compile(Expr&& expr, no_rewrite_t) {
    return graph<std::remove_cvref_t<Expr>>(std::forward<Expr>(expr));
}

/// Rewrite with `rules` (a rule or rule set), then compile.
template <expression Expr, class Rules>
requires(!std::is_same_v<std::remove_cvref_t<Rules>, no_rewrite_t>) auto compile(
    const Expr& expr, const Rules& rules) {
    auto fired = rules_fired(expr, rules);
    auto rewritten = rewrite(expr, rules);
    return graph<decltype(rewritten)>(std::move(rewritten), std::move(fired));
}

/// Rewrite with the default rules (fusing softmax + NLL, ...), then compile. Buffers come on
/// the first run.
template <expression Expr>
auto compile(const Expr& expr) {
    return compile(expr, default_rules());
}

/// What `fg::value_and_grad` returns: the value and the graph that holds the gradients.
template <class Graph>
struct value_and_grad_result {
    typename Graph::value_type value;
    Graph graph;
    /// The gradient of the value with respect to param `Name`.
    template <fixed_string Name>
    const auto& grad() const {
        return graph.template grad<Name>();
    }
};

/// One-shot: compile (with the default rules), run forward and backward, return the value and
/// the gradients.
template <expression Expr>
auto value_and_grad(const Expr& expr) {
    auto g = compile(expr);
    g.run();
    const auto v = g.value();
    return value_and_grad_result<decltype(g)>{v, std::move(g)};
}

}  // namespace fusegrad
