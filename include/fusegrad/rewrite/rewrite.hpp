#pragma once
/// @file
/// `fg::rewrite(expr[, rules])`: rewrite an expression type bottom-up to a fixpoint, at compile
/// time. The result is a new expression (a new type); at run time rewriting only copies the
/// small expression objects. `fg::rules_fired(expr[, rules])` lists what fired, in order.
///
/// One pass rebuilds the tree bottom-up and, at every node, tries the rules in order. Passes
/// repeat until the type stops changing (a chain of fusable sites rewrites in one pass; a
/// rewrite that exposes a new match higher up is found in the same pass, one below it in the
/// next). Whatever its builder says, a rule does not fire when a pure node inside the match
/// (not the top, not a capture) is also used elsewhere in the graph: the graph computes that
/// value once and shares it, and fusing one use would compute it twice (a softmax that is also
/// an output, say).

#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/hana/at.hpp>
#include <boost/hana/length.hpp>

#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/rewrite/builtin_rules.hpp"
#include "fusegrad/rewrite/pattern.hpp"
#include "fusegrad/rewrite/rule.hpp"

namespace fusegrad {

namespace detail {

using rewrite_log = std::vector<std::string>;

template <class Rule, class Captures>
constexpr auto invoke_builder(const Rule& r, const Captures& caps) {
    constexpr std::size_t n = max_placeholder<typename Rule::pattern_type>;
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return r.build(capture<I + 1>(caps)...);
    }
    (std::make_index_sequence<n>{});
}

// n: the node with its operands rewritten; Original: that node as it stands in Root.
template <class Root, class Original, std::size_t K, class RuleTuple, class N>
auto try_rules(const N& n, const RuleTuple& rules, rewrite_log* log) {
    if constexpr (K == decltype(hana::length(rules))::value) {
        return n;
    } else {
        const auto& r = hana::at_c<K>(rules);
        using P = typename std::remove_cvref_t<decltype(r)>::pattern_type;
        auto m = match(P{}, n);
        if constexpr (decltype(hana::is_nothing(m))::value) {
            return try_rules<Root, Original, K + 1>(n, rules, log);
        } else if constexpr (!interior_single_use<P, Original, Root>()) {
            return try_rules<Root, Original, K + 1>(n, rules, log);
        } else {
            using Out = decltype(invoke_builder(r, *m));
            if constexpr (std::is_same_v<Out, decline_t>) {
                return try_rules<Root, Original, K + 1>(n, rules, log);
            } else {
                static_assert(expression<Out>,
                              "a rule's builder must return a fusegrad expression or fg::decline");
                if (log) log->emplace_back(r.name);
                return invoke_builder(r, *m);
            }
        }
    }
}

template <class Root, class Rules, class E>
auto rewrite_pass(const E& e, const Rules& rules, rewrite_log* log);

// Rebuild node e from its rewritten operands, then try the rules on it. (A plain function
// rather than std::apply and a lambda: every frame here is paid once per level of the tree
// against the compiler's template depth limit.)
template <class Root, class Rules, class E, std::size_t... K>
auto rewrite_node(const E& e, const Rules& rules, rewrite_log* log, std::index_sequence<K...>) {
    using N = node<typename E::op_type,
                   decltype(rewrite_pass<Root>(std::get<K>(e.children), rules, log))...>;
    // Braced initialisation evaluates the operands left to right, so the log is in order.
    N rebuilt{e.op, {rewrite_pass<Root>(std::get<K>(e.children), rules, log)...}};
    return try_rules<Root, E, 0>(rebuilt, rules.rules, log);
}

template <class Root, class Rules, class E>
auto rewrite_pass(const E& e, const Rules& rules, rewrite_log* log) {
    if constexpr (is_leaf_v<E>)
        return e;
    else
        return rewrite_node<Root>(e, rules, log, std::make_index_sequence<E::arity>{});
}

inline constexpr std::size_t max_rewrite_passes = 32;

template <std::size_t Pass, class E, class Rules>
auto rewrite_fixpoint(const E& e, const Rules& rules, rewrite_log* log) {
    auto r = rewrite_pass<E>(e, rules, log);
    using R = decltype(r);
    if constexpr (std::is_same_v<R, E>) {
        return r;
    } else if constexpr (Pass + 1 >= max_rewrite_passes) {
        static_assert(
            Pass + 1 < max_rewrite_passes,
            "rewriting did not reach a fixpoint in 32 passes: do two rules undo each other?");
        return r;
    } else {
        return rewrite_fixpoint<Pass + 1>(r, rules, log);
    }
}

}  // namespace detail

/// Rewrite with the given rules (a rule or a rule set) to a fixpoint.
template <expression E, class Rules>
auto rewrite(const E& expr, const Rules& rules) {
    return detail::rewrite_fixpoint<0>(expr, detail::as_rule_set(rules), nullptr);
}

/// Rewrite with fusegrad's built-in rules (see docs/rewrite-rules.md).
template <expression E>
auto rewrite(const E& expr) {
    return rewrite(expr, default_rules());
}

/// The names of the rules that fire when rewriting `expr`, in firing order.
template <expression E, class Rules>
std::vector<std::string> rules_fired(const E& expr, const Rules& rules) {
    detail::rewrite_log log;
    (void)detail::rewrite_fixpoint<0>(expr, detail::as_rule_set(rules), &log);
    return log;
}
template <expression E>
std::vector<std::string> rules_fired(const E& expr) {
    return rules_fired(expr, default_rules());
}

/// The type `fg::rewrite(E{})` returns.
template <class E, class Rules = decltype(default_rules())>
using rewritten_t = decltype(rewrite(std::declval<const E&>(), std::declval<const Rules&>()));

}  // namespace fusegrad
