#pragma once
/// @file
/// Patterns over expression types, and matching them. A pattern is a type built from op tags
/// and placeholders: `pattern<op::nll, pattern<op::softmax, _1_t>, _2_t>` matches
/// `nll(softmax(s), y)` and captures s and y. Matching is decided on types (`tmatch`) and yields
/// each capture's placeholder index, path and type.

#include <algorithm>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/grad/plan.hpp"

namespace fusegrad {

/// Matches any subexpression and captures it as argument I (1-based) of a rule's builder. A
/// placeholder used twice in one pattern matches only where both places hold the same type.
template <std::size_t I>
struct placeholder {
    static_assert(I >= 1, "placeholders count from 1: _1, _2, ...");
    static constexpr std::size_t index = I;
};

/// Matches a node whose op type is exactly `Op` (or one of a set: `one_of<A, B>`) and whose
/// operands match `Sub...`.
template <class Op, class... Sub>
struct pattern {};

/// In place of an op type: any of these ops (`pattern<one_of<op::sum, op::mean>, _1_t>`).
template <class... Ops>
struct one_of {};

/// Matches a node whose op is `Op` (or `one_of<...>`), whatever its operands, capturing none.
template <class Op>
struct node_of {};

/// Matches what `P` (a `pattern` or `node_of`) matches and also captures the matched node itself
/// as argument I of the builder: `pattern<op::sum, as<_1_t, node_of<op::softmax_xent<none>>>>`
/// hands the builder the inner node, to read its options. A builder that looks inside a capture
/// must match it this way: the node is then inside the match, so the rule does not fire where
/// that node is shared (fusing would compute it twice).
template <class Placeholder, class P>
struct as {};

namespace placeholders {
using _1_t = placeholder<1>;
using _2_t = placeholder<2>;
using _3_t = placeholder<3>;
using _4_t = placeholder<4>;
using _5_t = placeholder<5>;
using _6_t = placeholder<6>;
}  // namespace placeholders

namespace detail {

/// The highest placeholder index in a pattern: how many arguments its builder takes.
template <class P>
inline constexpr std::size_t max_placeholder = 0;
template <std::size_t I>
inline constexpr std::size_t max_placeholder<placeholder<I>> = I;
template <class Op, class... Sub>
inline constexpr std::size_t max_placeholder<pattern<Op, Sub...>> =
    std::max({std::size_t{0}, max_placeholder<Sub>...});
template <std::size_t I, class P>
inline constexpr std::size_t max_placeholder<as<placeholder<I>, P>> = std::max(I,
                                                                               max_placeholder<P>);

/// Whether a node's op type `NodeOp` is what a pattern asks for.
template <class Want, class NodeOp>
struct op_matches : std::is_same<Want, NodeOp> {};
template <class... Ops, class NodeOp>
struct op_matches<one_of<Ops...>, NodeOp> : std::bool_constant<(__is_same(Ops, NodeOp) || ...)> {};

// ---- type-level matching -----------------------------------------------------------------
// Matching is decided on types alone, by class templates: trying the rules on a node that no
// rule matches instantiates no function (every function instantiation costs a mangled name that
// spells the node's subtree). A match yields the captures as (placeholder, path, type) triples;
// only a rule that fires reads the captured values, along their paths.

template <std::size_t... I>
struct tree_path {};

/// Capture I, found at Path (from the match's top), of type E.
template <std::size_t I, class Path, class E>
struct cap {
    using index = std::integral_constant<std::size_t, I>;
    using path = Path;
    using type = E;
};

template <class E>
struct arity_t : std::integral_constant<std::size_t, 0> {};
template <class Op, class... C>
struct arity_t<node<Op, C...>> : std::integral_constant<std::size_t, sizeof...(C)> {};

template <class E>
struct op_type_of {
    using type = void;  // a leaf
};
template <class Op, class... C>
struct op_type_of<node<Op, C...>> {
    using type = Op;
};

template <class Caps>
struct consistent;
template <class... C>
struct consistent<type_list<C...>> {
    template <class A>
    using ok_with_all =
        std::bool_constant<((A::index::value != C::index::value ||
                             std::is_same<typename A::type, typename C::type>::value) &&
                            ...)>;
    using type = std::bool_constant<(ok_with_all<C>::value && ...)>;
};

template <class P, class E, class Path>
struct tmatch;

template <std::size_t I, class E, class Path>
struct tmatch<placeholder<I>, E, Path> {
    using ok = std::true_type;
    using caps = type_list<cap<I, Path, E>>;
};

template <class Op, class E, class Path>
struct tmatch<node_of<Op>, E, Path> {
    using ok = std::bool_constant<!leaf_t<E>::value &&
                                  op_matches<Op, typename op_type_of<E>::type>::value>;
    using caps = type_list<>;
};

template <std::size_t I, class P, class E, class Path>
struct tmatch<as<placeholder<I>, P>, E, Path> {
    using ok = typename tmatch<P, E, Path>::ok;
    using caps = concat_t<typename tmatch<P, E, Path>::caps, type_list<cap<I, Path, E>>>;
};

template <bool HeadOk, class Subs, class E, class Path, class Seq>
struct pattern_tmatch {
    using ok = std::false_type;
    using caps = type_list<>;
};
template <class... Sub, class Op, class... C, std::size_t... Q, std::size_t... K>
struct pattern_tmatch<true, type_list<Sub...>, node<Op, C...>, tree_path<Q...>,
                      std::index_sequence<K...>> {
    using all_caps = concat_t<typename tmatch<Sub, C, tree_path<Q..., K>>::caps...>;
    using ok = std::bool_constant<(tmatch<Sub, C, tree_path<Q..., K>>::ok::value && ...) &&
                                  consistent<all_caps>::type::value>;
    using caps = all_caps;
};

/// Whether a sub-pattern can match a node of op ChildOp (void: a leaf) with Arity operands,
/// judged on those alone: its own op and arity, not its operands'.
template <class P, class ChildOp, std::size_t Arity>
struct shallow_ok : std::true_type {};  // a placeholder
template <class Op, class ChildOp, std::size_t Arity>
struct shallow_ok<node_of<Op>, ChildOp, Arity> : op_matches<Op, ChildOp> {};
template <class Op, class... Sub, class ChildOp, std::size_t Arity>
struct shallow_ok<pattern<Op, Sub...>, ChildOp, Arity>
    : std::bool_constant<op_matches<Op, ChildOp>::value && Arity == sizeof...(Sub)> {};
template <std::size_t I, class P, class ChildOp, std::size_t Arity>
struct shallow_ok<as<placeholder<I>, P>, ChildOp, Arity> : shallow_ok<P, ChildOp, Arity> {};

/// Whether node<NOp, C...> passes pattern<Op, Sub...>'s first look: its op and arity, and each
/// operand's op and arity against its sub-pattern. Decided on op types and counts, so that a
/// node that fails it (a rule's top op matched but not its operands, at every linear layer of
/// an MLP for linear(embedding(...), ...)) instantiates nothing named by its operands' types:
/// g++ hashes every such type whole, which costs the depth of the graph at each layer.
template <bool SameArity, class Subs, class... C>
struct operands_shallow_ok : std::false_type {};
template <class... Sub, class... C>
struct operands_shallow_ok<true, type_list<Sub...>, C...>
    : std::bool_constant<(shallow_ok<Sub, typename op_type_of<C>::type, arity_t<C>::value>::value &&
                          ...)> {};

/// No match, without naming the node: the base of every node a pattern's first look rejects.
struct no_tmatch {
    using ok = std::false_type;
    using caps = type_list<>;
};
template <bool TopOk, class Subs, class E, class Path>
struct pattern_tmatch_if : no_tmatch {};
template <class... Sub, class NOp, class... C, class Path>
struct pattern_tmatch_if<true, type_list<Sub...>, node<NOp, C...>, Path>
    : std::conditional_t<
          operands_shallow_ok<sizeof...(C) == sizeof...(Sub), type_list<Sub...>, C...>::value,
          pattern_tmatch<true, type_list<Sub...>, node<NOp, C...>, Path,
                         std::index_sequence_for<Sub...>>,
          no_tmatch> {};

template <class Op, class... Sub, class E, class Path>
struct tmatch<pattern<Op, Sub...>, E, Path> : no_tmatch {};  // a leaf
template <class Op, class... Sub, class NOp, class... C, class Path>
struct tmatch<pattern<Op, Sub...>, node<NOp, C...>, Path>
    : pattern_tmatch_if<op_matches<Op, NOp>::value, type_list<Sub...>, node<NOp, C...>, Path> {};

/// The capture with placeholder index I (the first, when repeated).
template <std::size_t I, class Caps>
struct capture_of;
template <std::size_t I, class... C>
struct capture_of<I, type_list<C...>> {
    using pos = std::integral_constant<std::size_t, first_true({(C::index::value == I)...})>;
    static_assert(pos::value < sizeof...(C),
                  "a rule's pattern does not use every placeholder up to its highest");
    using type = type_at_t<(pos::value < sizeof...(C) ? pos::value : 0), type_list<C...>>;
};

/// The subexpression of n at Path, by value (a pure node rebuilds its operands on request).
template <class E>
constexpr E at_path(const E& e, tree_path<>) {
    return e;
}
template <class E, std::size_t I, std::size_t... Rest>
constexpr auto at_path(const E& e, tree_path<I, Rest...>) {
    return detail::at_path(fusegrad::operand<I>(e), tree_path<Rest...>{});
}

// ---- where a match sits in the whole graph ------------------------------------------------

template <class List, class Path>
struct prepend_all;
template <class... P, std::size_t... I>
struct prepend_all<std::tuple<P...>, tree_path<I...>> {
    template <class Q>
    struct one;
    template <std::size_t... J>
    struct one<tree_path<J...>> {
        using type = tree_path<I..., J...>;
    };
    using type = std::tuple<typename one<P>::type...>;
};

/// Where the interior of a match sits: the paths (from the match's top) of the nodes matched
/// by a nested pattern (`pattern`, `node_of`, `as`), not the top and not the placeholders.
/// Fusing folds these away.
template <class P>
struct interior_paths {
    using type = std::tuple<>;
};
template <class Op, class... Sub>
struct interior_paths<pattern<Op, Sub...>> {
    template <std::size_t K, class S>
    struct below {  // a placeholder operand: nothing inside
        using type = std::tuple<>;
    };
    template <std::size_t K, class Op2, class... Sub2>
    struct below<K, pattern<Op2, Sub2...>> {  // a nested pattern: it, then its own interior
        using type = decltype(std::tuple_cat(
            std::declval<std::tuple<tree_path<K>>>(),
            std::declval<typename prepend_all<typename interior_paths<pattern<Op2, Sub2...>>::type,
                                              tree_path<K>>::type>()));
    };
    template <std::size_t K, class Op2>
    struct below<K, node_of<Op2>> {
        using type = std::tuple<tree_path<K>>;
    };
    template <std::size_t K, class Ph, class P2>
    struct below<K, as<Ph, P2>> : below<K, P2> {};
    template <class Seq>
    struct all;
    template <std::size_t... K>
    struct all<std::index_sequence<K...>> {
        using type = decltype(std::tuple_cat(std::declval<typename below<K, Sub>::type>()...));
    };
    using type = typename all<std::index_sequence_for<Sub...>>::type;
};
template <class Ph, class P>
struct interior_paths<as<Ph, P>> : interior_paths<P> {};

/// The deepest subtree of E along Path (a path may run past a leaf of E).
template <class E, class Path>
struct subtree_along {
    using type = E;
};
template <class Op, class... C, std::size_t I, std::size_t... Rest>
requires(I < sizeof...(C)) struct subtree_along<node<Op, C...>, tree_path<I, Rest...>> {
    using type =
        typename subtree_along<std::tuple_element_t<I, std::tuple<C...>>, tree_path<Rest...>>::type;
};

template <class X, class List>
struct in_list;
template <class X, class... S>
struct in_list<X, type_list<S...>>
    : std::bool_constant<(first_true({__is_same(X, S)...}) < sizeof...(S))> {};

/// True when no interior node of a match is a shared value of the graph: `Shared` lists the
/// pure values that more than one operand reads (from the graph's table, before this pass), and
/// fusing one use of such a value would compute it twice (a softmax that is also an output,
/// say). The question is asked of `Original`, the node as it stands before this pass rewrote its
/// operands (identical subtrees rewrite identically, so sharing there is sharing after).
template <class Paths, class Original, class Shared>
struct none_shared;
template <class... Path, class Original, class Shared>
struct none_shared<std::tuple<Path...>, Original, Shared>
    : std::bool_constant<(!in_list<typename subtree_along<Original, Path>::type, Shared>::value &&
                          ...)> {};

/// Whether no pure node inside pattern P's match in Original (not the top, not a capture) is a
/// shared value. A class, not a constexpr function: it is asked for every (rule, node) pair of
/// every pass, and a function instantiated per node costs a mangled name that spells the node.
template <class P, class Original, class Shared>
struct interior_single_use : none_shared<typename interior_paths<P>::type, Original, Shared> {};

}  // namespace detail
}  // namespace fusegrad
