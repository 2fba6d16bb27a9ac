#pragma once
/// @file
/// Patterns over expression types, and matching them. A pattern is a type built from op tags
/// and placeholders: `pattern<op::nll, pattern<op::softmax, _1_t>, _2_t>` matches
/// `nll(softmax(s), y)` and captures s and y. Matching yields a `hana::optional` holding a
/// `hana::tuple` of `hana::pair<hana::size_t<I>, capture>`.

#include <algorithm>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/hana/at.hpp>
#include <boost/hana/flatten.hpp>
#include <boost/hana/integral_constant.hpp>
#include <boost/hana/optional.hpp>
#include <boost/hana/pair.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/unpack.hpp>

#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"

namespace fusegrad {

namespace hana = boost::hana;

/// Matches any subexpression and captures it as argument I (1-based) of a rule's builder. A
/// placeholder used twice in one pattern matches only where both places hold the same type.
template <std::size_t I>
struct placeholder {
    static_assert(I >= 1, "placeholders count from 1: _1, _2, ...");
    static constexpr std::size_t index = I;
};

/// Matches a node whose op type is exactly `Op` and whose operands match `Sub...`.
template <class Op, class... Sub>
struct pattern {};

namespace placeholders {
using _1_t = placeholder<1>;
using _2_t = placeholder<2>;
using _3_t = placeholder<3>;
using _4_t = placeholder<4>;
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

template <class Pair>
struct capture_parts;
template <std::size_t I, class E>
struct capture_parts<hana::pair<hana::size_t<I>, E>> {
    static constexpr std::size_t index = I;
    using type = E;
};

// Repeated placeholders must have captured one type.
template <class P, class... Q>
inline constexpr bool consistent_with =
    ((capture_parts<P>::index != capture_parts<Q>::index ||
      std::is_same_v<typename capture_parts<P>::type, typename capture_parts<Q>::type>)&&...);
template <class Tuple>
inline constexpr bool consistent_captures = true;
template <class... P>
inline constexpr bool consistent_captures<hana::tuple<P...>> = (consistent_with<P, P...> && ...);

template <std::size_t I, class E>
constexpr auto match(placeholder<I>, const E& e) {
    return hana::just(hana::make_tuple(hana::make_pair(hana::size_c<I>, e)));
}

template <class Op, class... Sub, class E>
constexpr auto match(pattern<Op, Sub...>, const E& e);

template <class... Sub, class Node, std::size_t... K>
constexpr auto match_operands(const Node& n, std::index_sequence<K...>) {
    auto parts = hana::make_tuple(match(Sub{}, std::get<K>(n.children))...);
    constexpr bool all_matched =
        (decltype(hana::is_just(hana::at_c<K>(std::declval<decltype(parts)>())))::value && ...);
    if constexpr (!all_matched) {
        return hana::nothing;
    } else {
        auto captures = hana::flatten(hana::make_tuple(*hana::at_c<K>(parts)...));
        if constexpr (!consistent_captures<decltype(captures)>)
            return hana::nothing;
        else
            return hana::just(captures);
    }
}

template <class Op, class... Sub, class E>
constexpr auto match(pattern<Op, Sub...>, const E& e) {
    if constexpr (is_leaf_v<E>) {
        return hana::nothing;
    } else if constexpr (!std::is_same_v<typename E::op_type, Op> || E::arity != sizeof...(Sub)) {
        return hana::nothing;
    } else {
        return match_operands<Sub...>(e, std::index_sequence_for<Sub...>{});
    }
}

/// Capture I (1-based placeholder index) of a successful match.
template <std::size_t I, class... P>
constexpr const auto& capture(const hana::tuple<P...>& captures) {
    constexpr std::size_t pos = [] {
        constexpr std::size_t idx[] = {capture_parts<P>::index..., 0};
        for (std::size_t k = 0; k < sizeof...(P); ++k)
            if (idx[k] == I) return k;
        return sizeof...(P);
    }();
    static_assert(pos < sizeof...(P),
                  "a rule's pattern does not use every placeholder up to its highest");
    return hana::second(hana::at_c<pos>(captures));
}

// ---- where a match sits in the whole graph ------------------------------------------------

/// How many times the subtree type T occurs in E (T itself included).
template <class T, class E>
inline constexpr std::size_t occurrences = std::is_same_v<T, E> ? 1 : 0;
template <class T, class Op, class... C>
inline constexpr std::size_t occurrences<T, node<Op, C...>> =
    (std::is_same_v<T, node<Op, C...>> ? 1 : 0) + (occurrences<T, C> + ... + 0);

template <std::size_t... I>
struct tree_path {};

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
/// by a nested pattern, not the top and not the placeholders. Fusing folds these away.
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
    template <class Seq>
    struct all;
    template <std::size_t... K>
    struct all<std::index_sequence<K...>> {
        using type = decltype(std::tuple_cat(std::declval<typename below<K, Sub>::type>()...));
    };
    using type = typename all<std::index_sequence_for<Sub...>>::type;
};

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

/// True when no pure interior node of a match is also used elsewhere in `Root`: the graph
/// computes such a value once and shares it, and fusing one use would compute it twice. The
/// question is asked of `Original`, the node as it stands in Root before this pass rewrote its
/// operands (identical subtrees rewrite identically, so sharing there is sharing after).
// (Class templates rather than a generic lambda folding over the paths: clang 14 crashes on
// the latter.)
template <class Original, class Root, class Path>
struct interior_node_single_use {
    using X = typename subtree_along<Original, Path>::type;
    static constexpr bool value =
        !is_pure_v<X> ||
        occurrences<X, Root> == occurrences<Original, Root> * occurrences<X, Original>;
};
template <class Paths, class Original, class Root>
struct all_interior_single_use;
template <class... Path, class Original, class Root>
struct all_interior_single_use<std::tuple<Path...>, Original, Root> {
    static constexpr bool value = (interior_node_single_use<Original, Root, Path>::value && ...);
};

template <class P, class Original, class Root>
constexpr bool interior_single_use() {
    return all_interior_single_use<typename interior_paths<P>::type, Original, Root>::value;
}

}  // namespace detail
}  // namespace fusegrad
