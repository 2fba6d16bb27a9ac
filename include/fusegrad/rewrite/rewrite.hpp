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

#include <array>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/hana/at.hpp>
#include <boost/hana/length.hpp>

#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/grad/plan.hpp"
#include "fusegrad/rewrite/builtin_rules.hpp"
#include "fusegrad/rewrite/pattern.hpp"
#include "fusegrad/rewrite/rule.hpp"

namespace fusegrad {

namespace detail {

using rewrite_log = std::vector<std::string>;

/// The builder's arguments for a match: capture 1, 2, ... of node n, in placeholder order.
template <class Caps, class N, class F, std::size_t... I>
constexpr decltype(auto) with_captures(const N& n, F&& f, std::index_sequence<I...>) {
    return f(detail::at_path(n, typename capture_of<I + 1, Caps>::type::path{})...);
}

/// What rule R's builder returns for node N (decline_t when it declines); void when the
/// pattern does not match or the match crosses a shared value.
template <class R, class N, class Original, class Shared,
          class M = tmatch<typename R::pattern_type, N, tree_path<>>,
          bool Usable = std::conditional_t<
              M::ok::value, interior_single_use<typename R::pattern_type, Original, Shared>,
              std::false_type>::value>
struct rule_result {
    using type = void;
};
template <class R, class N, class Original, class Shared, class M>
struct rule_result<R, N, Original, Shared, M, true> {
    template <class Seq>
    struct call;
    template <std::size_t... I>
    struct call<std::index_sequence<I...>> {
        using type = decltype(std::declval<const R&>().build(
            std::declval<const typename capture_of<I + 1, typename M::caps>::type::type&>()...));
    };
    using out =
        typename call<std::make_index_sequence<max_placeholder<typename R::pattern_type>>>::type;
    // A shared value must stay one value: a replacement with run-time state is keyed by its
    // position (grad/plan.hpp), so at a shared value it would be computed once per use. Such a
    // rule does not fire there.
    template <class O>
    struct keeps_sharing : std::true_type {};
    template <class O>
    requires expression<O>
    struct keeps_sharing<O>
        : std::bool_constant<pure_t<O>::value || !in_list<Original, Shared>::value> {
    };
    using type = std::conditional_t<keeps_sharing<out>::value, out, void>;
};

/// Whether a pattern's head can match a node of op Op with Arity operands, from the op alone
/// (a placeholder matches anything).
template <class P, class Op, std::size_t Arity>
struct head_may_match : std::true_type {};
template <class POp, class... Sub, class Op, std::size_t Arity>
struct head_may_match<pattern<POp, Sub...>, Op, Arity>
    : std::bool_constant<op_matches<POp, Op>::value && sizeof...(Sub) == Arity> {};
template <class POp, class Op, std::size_t Arity>
struct head_may_match<node_of<POp>, Op, Arity> : op_matches<POp, Op> {};
template <class Ph, class P, class Op, std::size_t Arity>
struct head_may_match<as<Ph, P>, Op, Arity> : head_may_match<P, Op, Arity> {};

/// The indices of the rules whose pattern head can match a node of op Op with Arity operands:
/// computed once per (rule set, op, arity), so a node whose op heads no pattern (most of a
/// model: its linears and activations) tries no rule at all. Trying every rule at every node
/// instantiated a handful of classes per (rule, node), each naming the node.
template <class Rules, class Op, std::size_t Arity>
struct candidate_rules;
template <class... R, class Op, std::size_t Arity>
struct candidate_rules<rule_set<R...>, Op, Arity> {
    // Arrays and functions templated on sizes, not a lambda: see plan.hpp, "the table's
    // derived columns".
    static constexpr std::array<bool, sizeof...(R)> may{
        head_may_match<typename R::pattern_type, Op, Arity>::value...};
    static constexpr std::size_t count = count_set(may);
    static constexpr std::array<std::size_t, count> at = indices_of_set<count>(may);
    template <class Seq>
    struct pick;
    template <std::size_t... J>
    struct pick<std::index_sequence<J...>> {
        using type = std::index_sequence<at[J]...>;
    };
    using type = typename pick<std::make_index_sequence<count>>::type;
};

/// The first of candidates K... whose flag is set, or `none`.
template <std::size_t... K>
constexpr std::size_t first_flagged(std::initializer_list<bool> flags, std::size_t none) noexcept {
    constexpr std::size_t ks[] = {K..., 0};
    std::size_t i = 0;
    for (const bool f : flags) {
        if (f) return ks[i];
        ++i;
    }
    return none;
}

/// The index of the first rule that fires on node N (the number of rules when none does).
template <class Out>
using fires = std::bool_constant<!std::is_void<Out>::value && !std::is_same<Out, decline_t>::value>;
template <class Rules, class N, class Original, class Shared,
          class Candidates = typename candidate_rules<Rules, typename op_type_of<N>::type,
                                                      arity_t<N>::value>::type>
struct first_rule;
template <class... R, class N, class Original, class Shared, std::size_t... K>
struct first_rule<rule_set<R...>, N, Original, Shared, std::index_sequence<K...>>
    : std::integral_constant<std::size_t,
                             first_flagged<K...>(
                                 {fires<typename rule_result<type_at_t<K, type_list<R...>>, N,
                                                             Original, Shared>::type>::value...},
                                 sizeof...(R))> {};

template <class Rule, class N>
auto fire(const Rule& r, const N& n, rewrite_log* log) {
    using M = tmatch<typename Rule::pattern_type, N, tree_path<>>;
    using Out = decltype(detail::with_captures<typename M::caps>(
        n, r.build, std::make_index_sequence<max_placeholder<typename Rule::pattern_type>>{}));
    static_assert(expression<Out>,
                  "a rule's builder must return a fusegrad expression or fg::decline");
    if (log) log->emplace_back(r.name);
    return detail::with_captures<typename M::caps>(
        n, r.build, std::make_index_sequence<max_placeholder<typename Rule::pattern_type>>{});
}

/// What node N (rebuilt from E's rewritten operands) becomes: N itself when no rule fires, else
/// rule K's result; `own` lists the rule that fired.
template <bool Fired, class Shared, class Rules, class N, class E, class K>
struct fired_result {
    using type = N;
    using own = type_list<>;
};
template <class Shared, class... R, class N, class E, class K>
struct fired_result<true, Shared, rule_set<R...>, N, E, K> {
    using type = typename rule_result<type_at_t<K::value, type_list<R...>>, N, E, Shared>::type;
    using own = type_list<K>;
};

/// The rewrite of E on types alone: `type` is what rewrite_pass returns, `log` the indices of
/// the rules that fire, in firing order (bottom-up, operands left to right).
template <class Shared, class Rules, class E>
struct rewrite_t {
    using type = E;  // a leaf
    using log = type_list<>;
};
template <class Shared, class... R, class Op, class... C>
struct rewrite_t<Shared, rule_set<R...>, node<Op, C...>> {
    using E = node<Op, C...>;
    using N = node<Op, typename rewrite_t<Shared, rule_set<R...>, C>::type...>;
    using k = first_rule<rule_set<R...>, N, E, Shared>;
    using result = fired_result<(k::value < sizeof...(R)), Shared, rule_set<R...>, N, E, k>;
    using type = typename result::type;
    using log =
        concat_t<typename rewrite_t<Shared, rule_set<R...>, C>::log..., typename result::own>;
};

template <class Rules, class... K>
void replay_log(const Rules& rules, rewrite_log* log, type_list<K...>) {
    (log->emplace_back(hana::at_c<K::value>(rules.rules).name), ...);
}

/// Whether every leaf of Sub is in Super: one base lookup per leaf of Sub (core/node.hpp,
/// leaf_list), not a comparison per pair.
template <class Sub, class Super>
struct all_leaves_in;
template <class... L, class Super>
struct all_leaves_in<leaf_list<L...>, Super>
    : std::bool_constant<all_true({__is_base_of(leaf_tag<L>, Super)...})> {};

template <class Shared, class Rules, class E>
auto rewrite_pass(const E& e, const Rules& rules, rewrite_log* log);

// Rebuild node e from its rewritten operands, then try the rules on it.
template <class Shared, class Rules, class E, std::size_t... K>
auto rewrite_node(const E& e, const Rules& rules, rewrite_log* log, std::index_sequence<K...>) {
    using N = typename rewrite_t<Shared, Rules, E>::N;
    // Braced initialisation evaluates the operands left to right, so the log is in order.
    N rebuilt{e.op, {detail::rewrite_pass<Shared>(fusegrad::operand<K>(e), rules, log)...}};
    constexpr std::size_t k = rewrite_t<Shared, Rules, E>::k::value;
    if constexpr (k == decltype(hana::length(rules.rules))::value)
        return rebuilt;
    else
        return detail::fire(hana::at_c<k>(rules.rules), rebuilt, log);
}

// Instantiated per (Shared, subexpression), not per (whole graph, subexpression): a subtree
// that a pass leaves unchanged is the same instantiation in the next pass (memoized by the
// compiler), and no name spells the whole graph. A pure subtree that rewrites to a pure result
// over its own leaves is not walked at all: the result is built from its leaves (its type says
// everything else), so a shared subtree costs one step, not one per path.
template <class Shared, class Rules, class E>
auto rewrite_pass(const E& e, const Rules& rules, rewrite_log* log) {
    if constexpr (is_leaf_v<E>) {
        return e;
    } else {
        using RT = rewrite_t<Shared, Rules, E>;
        using R = typename RT::type;
        if constexpr (pure_t<E>::value && pure_t<R>::value &&
                      all_leaves_in<typename leaves_of<R>::type,
                                    typename leaves_of<E>::type>::value) {
            if (log) replay_log(rules, log, typename RT::log{});
            return detail::rebuild_from<R>(e);
        } else {
            return detail::rewrite_node<Shared>(e, rules, log,
                                                std::make_index_sequence<E::arity>{});
        }
    }
}

/// Which values of a table of N are shared: not leaves, read by more than one operand slot,
/// and pure. `at` lists them in id order (`count` of them).
template <std::size_t N>
struct sharing_scan {
    std::array<std::size_t, N> at{};
    std::size_t count = 0;
};
template <std::size_t N, std::size_t... Off>
constexpr int count_reads(std::array<std::size_t, N>& reads, std::size_t self,
                          std::index_sequence<Off...>) noexcept {
    (void)std::initializer_list<int>{(++reads[self - Off], 0)...};
    return 0;
}
/// candidate[i]: value i is pure and not a leaf; offsets: each value's operand offsets (plan.hpp,
/// entry), in id order.
template <std::size_t N, class... Offsets>
constexpr sharing_scan<N> scan_sharing(std::initializer_list<bool> candidate,
                                       Offsets... offsets) noexcept {
    std::array<std::size_t, N> reads{};
    std::size_t self = 0;
    // Braced initializers run left to right: value `self` is the one whose offsets these are.
    (void)std::initializer_list<int>{detail::count_reads(reads, self++, offsets)...};
    sharing_scan<N> r{};
    std::size_t i = 0;
    for (const bool c : candidate) {
        if (c && reads[i] > 1) r.at[r.count++] = i;
        ++i;
    }
    return r;
}

/// The pure values (not leaves) of a table that more than one operand slot reads: fusing
/// inside one of them would compute it twice.
///
/// Compile cost: read from the entries alone, every result a type. Each rewrite pass asks this
/// of its own input's table; reading the plan's columns (plan_tables) computed all of them per
/// pass, and a static data member of a class named after a table is a variable that g++
/// mangles, its name spelling the table (a 128-layer MLP: 2.3 s of g++'s time, three passes).
template <class List, class Scan = void>
struct shared_values;
template <class... Es>
struct shared_values<type_list<Es...>, void>
    : shared_values<type_list<Es...>,
                    std::integral_constant<sharing_scan<sizeof...(Es)>,
                                           detail::scan_sharing<sizeof...(Es)>(
                                               {(!leaf_t<typename Es::expr>::value &&
                                                 pure_t<typename Es::expr>::value)...},
                                               typename Es::operand_offsets{}...)>> {};
template <class... Es, class Scan>
struct shared_values<type_list<Es...>, Scan> {
    template <class Seq>
    struct pick;
    template <std::size_t... J>
    struct pick<std::index_sequence<J...>> {
        using type = type_list<typename type_at_t<Scan::value.at[J], type_list<Es...>>::expr...>;
    };
    using type = typename pick<std::make_index_sequence<Scan::value.count>>::type;
};
template <class E>
using shared_values_t = typename shared_values<typename plan<E>::entries>::type;

inline constexpr std::size_t max_rewrite_passes = 32;

template <std::size_t Pass, class E, class Rules>
auto rewrite_fixpoint(const E& e, const Rules& rules, rewrite_log* log) {
    auto r = detail::rewrite_pass<shared_values_t<E>>(e, rules, log);
    using R = decltype(r);
    if constexpr (std::is_same_v<R, E>) {
        return r;
    } else if constexpr (Pass + 1 >= max_rewrite_passes) {
        static_assert(
            Pass + 1 < max_rewrite_passes,
            "rewriting did not reach a fixpoint in 32 passes: do two rules undo each other?");
        return r;
    } else {
        return detail::rewrite_fixpoint<Pass + 1>(r, rules, log);
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
