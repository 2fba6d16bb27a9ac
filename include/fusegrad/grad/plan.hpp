#pragma once
/// @file
/// The evaluation plan, computed entirely at compile time from the expression's type.
///
/// The expression tree is walked in post-order and flattened into a list of *values*, each
/// identified by a key: a named leaf by its name, a pure subexpression by its type, anything
/// with run-time state (a constant, a scale factor) by its position in the tree. Two
/// occurrences with one key are one value, evaluated once (common-subexpression elimination);
/// its gradient sums the contributions of every use. Post-order puts every value after its
/// operands, so forward runs the list in order and backward runs it in reverse.

#include <algorithm>
#include <array>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "fusegrad/core/leaf.hpp"
#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"

namespace fusegrad::detail {

template <class... Ts>
struct type_list {};

/// Where a subexpression sits: the operand indices from the root down.
template <std::size_t... I>
struct path {};

template <fixed_string Name>
struct name_key {};
template <class E, class Path>
struct path_key {};

template <class E, class Path>
struct key_of {
    using type = std::conditional_t<is_pure_v<E>, E, path_key<E, Path>>;
};
template <fixed_string Name, class Kind, class T, std::size_t R, class Path>
struct key_of<leaf<Name, Kind, T, R>, Path> {
    using type = name_key<Name>;
};
template <class E, class Path>
using key_of_t = typename key_of<E, Path>::type;

/// One value of the plan: its key, the expression computing it, and where its first
/// occurrence sits in the tree.
template <class Key, class Expr, class Path>
struct entry {
    using key = Key;
    using expr = Expr;
    using path_type = Path;
};

template <class K, class... Es>
constexpr std::size_t index_of_key(type_list<Es...>) {
    constexpr std::array<bool, sizeof...(Es)> match{std::is_same_v<K, typename Es::key>...};
    for (std::size_t i = 0; i < match.size(); ++i)
        if (match[i]) return i;
    return sizeof...(Es);
}

template <class List, class K>
inline constexpr bool contains_key_v = false;
template <class... Es, class K>
inline constexpr bool contains_key_v<type_list<Es...>, K> = (std::is_same_v<K, typename Es::key> ||
                                                             ...);

// ---- flattening -----------------------------------------------------------------------------

template <class List, class E, class Path>
struct flatten;

template <class List, class Path, std::size_t I, class... C>
struct flatten_children {
    using type = List;
};
template <class List, std::size_t... P, std::size_t I, class C0, class... C>
struct flatten_children<List, path<P...>, I, C0, C...> {
    using type = typename flatten_children<typename flatten<List, C0, path<P..., I>>::type,
                                           path<P...>, I + 1, C...>::type;
};

template <class List, class Entry>
struct append {
    using type = List;
};
template <class... Es, class Entry>
struct append<type_list<Es...>, Entry> {
    using type = type_list<Es..., Entry>;
};

template <class List, class K>
struct expr_for_key;
template <class... Es, class K>
struct expr_for_key<type_list<Es...>, K> {
    using type =
        typename std::tuple_element_t<index_of_key<K>(type_list<Es...>{}), std::tuple<Es...>>::expr;
};

// A leaf: added once per key. A second use of a name must be the very same leaf type.
template <class List, class E, class Path, bool Seen = contains_key_v<List, key_of_t<E, Path>>>
struct add_leaf {
    using type = typename append<List, entry<key_of_t<E, Path>, E, Path>>::type;
};
template <class List, class E, class Path>
struct add_leaf<List, E, Path, true> {
    static_assert(std::is_same_v<E, typename expr_for_key<List, key_of_t<E, Path>>::type>,
                  "one leaf name is used for two different leaves (different kinds, element types "
                  "or ranks); give each variable its own name");
    using type = List;
};
template <class List, class E, class Path>
requires is_leaf_v<E>
struct flatten<List, E, Path> {
    using type = typename add_leaf<List, E, Path>::type;
};

// A node: a key already planned means the whole subtree is (CSE); otherwise plan the operands,
// then the node.
template <class List, class Op, class... C, std::size_t... P>
struct flatten<List, node<Op, C...>, path<P...>> {
    using E = node<Op, C...>;
    using K = key_of_t<E, path<P...>>;
    using with_children = typename flatten_children<List, path<P...>, 0, C...>::type;
    using type = typename std::conditional_t<contains_key_v<List, K>, std::type_identity<List>,
                                             append<with_children, entry<K, E, path<P...>>>>::type;
};

// ---- access ---------------------------------------------------------------------------------

template <class E>
constexpr E& get_at(E& e, path<>) noexcept {
    return e;
}
template <class E, std::size_t I, std::size_t... Rest>
constexpr auto& get_at(E& e, path<I, Rest...>) noexcept {
    return get_at(std::get<I>(e.children), path<Rest...>{});
}

template <class E>
inline constexpr std::size_t arity_of = 0;
template <class Op, class... C>
inline constexpr std::size_t arity_of<node<Op, C...>> = sizeof...(C);

// ---- the plan -------------------------------------------------------------------------------

template <class List>
struct plan_tables;

template <class... Es>
struct plan_tables<type_list<Es...>> {
    static constexpr std::size_t size = sizeof...(Es);
    static constexpr std::size_t max_arity =
        std::max({std::size_t{1}, arity_of<typename Es::expr>...});
    using slots = std::array<std::size_t, max_arity>;

    template <class Entry>
    struct child_slots {
        static constexpr slots value{};
    };
    template <class K, class Op, class... C, std::size_t... P>
    struct child_slots<entry<K, node<Op, C...>, path<P...>>> {
        static constexpr slots value = []<std::size_t... I>(std::index_sequence<I...>) {
            return slots{index_of_key<key_of_t<C, path<P..., I>>>(type_list<Es...>{})...};
        }
        (std::index_sequence_for<C...>{});
    };

    static constexpr std::array<bool, size> is_leaf{is_leaf_v<typename Es::expr>...};
    static constexpr std::array<bool, size> requires_grad{requires_grad_v<typename Es::expr>...};
    static constexpr std::array<std::size_t, size> arity{arity_of<typename Es::expr>...};
    static constexpr std::array<slots, size> children{child_slots<Es>::value...};

    /// accumulate[i][c]: whether value i's vjp adds into (rather than overwrites) the gradient
    /// of its operand c, i.e. whether a use met earlier in the backward pass wrote it first.
    static constexpr std::array<std::array<bool, max_arity>, size> accumulate = [] {
        std::array<std::array<bool, max_arity>, size> acc{};
        std::array<bool, size> written{};
        for (std::size_t i = size; i-- > 0;) {
            if (is_leaf[i] || !requires_grad[i]) continue;
            for (std::size_t c = 0; c < arity[i]; ++c) {
                const auto s = children[i][c];
                if (!requires_grad[s]) continue;
                acc[i][c] = written[s];
                written[s] = true;
            }
        }
        return acc;
    }();
};

template <std::size_t I, class List>
struct type_at;
template <std::size_t I, class... Es>
struct type_at<I, type_list<Es...>> {
    using type = std::tuple_element_t<I, std::tuple<Es...>>;
};

/// Everything compile() knows before seeing a shape.
template <class Expr>
struct plan {
    using entries = typename flatten<type_list<>, Expr, path<>>::type;
    using tables = plan_tables<entries>;
    static constexpr std::size_t size = tables::size;
    static constexpr std::size_t root = size - 1;

    template <std::size_t I>
    using entry_at = typename type_at<I, entries>::type;
    template <std::size_t I>
    using expr_at = typename entry_at<I>::expr;

    template <fixed_string Name>
    static constexpr std::size_t slot_of = index_of_key<name_key<Name>>(entries{});
};

}  // namespace fusegrad::detail
