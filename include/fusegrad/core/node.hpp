#pragma once
/// @file
/// The one generic node template: an op applied to operand expressions.
///
/// What a node holds depends on whether it is *pure* (every op below it stateless, every leaf
/// named), in which case its type and the bindings of its named leaves determine its value:
///
/// - a node with state somewhere below holds its operands by value (`operands<C...>`);
/// - a pure node holds only its distinct named leaves, once each, flat (`leaf_store`). Its
///   operands are rebuilt from them on request (`fg::operand<I>(n)` returns them by value).
///
/// So a subexpression used twice costs nothing in the value: the residual chain
/// `h = relu(linear(h, W, b)) + h` spells h twice per level in its type, and a tree of values
/// would double at every level (2^depth copies of x); here each level holds its leaves once.

#include <cstddef>
#include <initializer_list>
#include <string_view>
#include <type_traits>
#include <utility>

#include "fusegrad/core/leaf.hpp"
#include "fusegrad/core/tensor_ref.hpp"

namespace fusegrad {

template <class Op, class... Children>
struct node;

namespace detail {

// ---- operands held by value ---------------------------------------------------------------------

/// One member per index, without std::tuple's recursion: the operands of a node, and the
/// op state and gradients of a graph's table (grad/plan.hpp). Read with `operand_get<I>`.
template <std::size_t I, class T>
struct operand_slot {
    [[no_unique_address]] T value{};
};
template <class Seq, class... C>
struct operand_list;
template <std::size_t... I, class... C>
struct operand_list<std::index_sequence<I...>, C...> : operand_slot<I, C>... {};

template <std::size_t I, class T>
constexpr T& operand_get(operand_slot<I, T>& s) noexcept {
    return s.value;
}
template <std::size_t I, class T>
constexpr const T& operand_get(const operand_slot<I, T>& s) noexcept {
    return s.value;
}

// ---- purity and the leaf sets of pure nodes -----------------------------------------------------

template <class E>
struct is_pure_expr : std::false_type {};  // a constant leaf
template <fixed_string Name, class Kind, class T, std::size_t R>
struct is_pure_expr<leaf<Name, Kind, T, R>> : std::true_type {};
template <class Op, class... C>
struct is_pure_expr<node<Op, C...>>
    : std::bool_constant<std::is_empty_v<Op> && (is_pure_expr<C>::value && ...)> {};

/// The index of the first true flag, or the number of flags. Not a template: the types whose
/// flags these are never reach a mangled name (the lowering's key lookup uses it too).
constexpr std::size_t first_true(std::initializer_list<bool> flags) noexcept {
    std::size_t i = 0;
    for (const bool f : flags) {
        if (f) return i;
        ++i;
    }
    return i;
}

template <class... Ts>
struct leaf_list {};

template <class L>
struct leaf_tag {};
template <class List>
struct leaf_lookup;
template <class... L>
struct leaf_lookup<leaf_list<L...>> : leaf_tag<L>... {};
template <class X, class List>
struct has_leaf : std::is_base_of<leaf_tag<X>, leaf_lookup<List>> {};

template <class... A, class... B>
leaf_list<A..., B...> operator+(leaf_list<A...>, leaf_list<B...>);  // declared only: decltype

/// A followed by the leaves of B that A does not hold (both lists are free of repeats): one
/// pack expansion, not one step per leaf.
template <class A, class B>
struct leaf_union;
template <class... A, class... B>
struct leaf_union<leaf_list<A...>, leaf_list<B...>> {
    using type = decltype((
        leaf_list<A...>{} + ... +
        std::conditional_t<has_leaf<B, leaf_list<A...>>::value, leaf_list<>, leaf_list<B>>{}));
};

/// The distinct named leaves of a pure expression, in order of first appearance.
template <class E>
struct leaves_of {
    using type = leaf_list<>;
};
template <fixed_string Name, class Kind, class T, std::size_t R>
struct leaves_of<leaf<Name, Kind, T, R>> {
    using type = leaf_list<leaf<Name, Kind, T, R>>;
};
template <class List, class... C>
struct leaves_fold {
    using type = List;
};
template <class List, class C0, class... C>
struct leaves_fold<List, C0, C...> {
    using type = typename leaves_fold<typename leaf_union<List, typename leaves_of<C0>::type>::type,
                                      C...>::type;
};
template <class Op, class C0, class... C>
struct leaves_of<node<Op, C0, C...>> {
    using type = typename leaves_fold<typename leaves_of<C0>::type, C...>::type;
};

template <std::size_t I, class L>
struct indexed_leaf {};
template <class Seq, class... L>
struct leaf_positions_impl;
template <std::size_t... I, class... L>
struct leaf_positions_impl<std::index_sequence<I...>, L...> : indexed_leaf<I, L>... {};
template <class List>
struct leaf_positions;
template <class... L>
struct leaf_positions<leaf_list<L...>> {
    using type = leaf_positions_impl<std::index_sequence_for<L...>, L...>;
};
template <class L, std::size_t I>
std::integral_constant<std::size_t, I> position_of(const indexed_leaf<I, L>*);  // decltype only

/// The position of leaf X in a leaf list that holds it: one lookup in the list's base classes,
/// not a comparison per element.
template <class X, class List>
struct leaf_index {
    using type =
        decltype(position_of<X>(static_cast<const typename leaf_positions<List>::type*>(nullptr)));
};

/// The position of type X among P... (or sizeof...(P)): builtin comparisons, one class per
/// (leaf, list), no deduction against a base per element.
template <class X, class... P>
struct index_in : std::integral_constant<std::size_t, first_true({__is_same(X, P)...})> {};

/// Where each leaf of Sub sits in Super (every leaf of Sub is in Super), and whether Sub is a
/// prefix of Super (the common case: a node's first operand's leaves are the first of its own).
///
/// Compile cost: one builtin comparison per (leaf, leaf) pair, not a template
/// instantiation per leaf (a lookup per leaf costs a deduction against every base of a position
/// table, cubic over a residual chain), and the result is data that a loop reads, not an index
/// pack that a fold unrolls (quadratic code over a deep chain).
template <class Sub, class Super>
struct leaf_map;
template <class... S, class... P>
struct leaf_map<leaf_list<S...>, leaf_list<P...>> {
    static constexpr std::size_t size = sizeof...(S);
    struct result {
        std::size_t at[sizeof...(S) > 0 ? sizeof...(S) : 1]{};
        bool prefix = true;
    };
    static constexpr result compute() {
        constexpr std::size_t pos[] = {index_in<S, P...>::value..., 0};
        result r{};
        for (std::size_t i = 0; i < sizeof...(S); ++i) {
            r.at[i] = pos[i];
            if (pos[i] != i) r.prefix = false;
        }
        return r;
    }
    static constexpr result value = compute();
};

/// One leaf's binding and its name.
struct named_binding {
    array_binding ref{};
    std::string_view name{};
};

/// A pure node's leaves: one binding per distinct named leaf, in the order of its leaf list,
/// and the name of the first leaf found bound to two different arrays below (empty when none;
/// `fg::compile` reports it).
///
/// Compile cost: an array, copied through index maps (`std::index_sequence`, integers mangle
/// cheaply), not a struct of typed slots copied leaf by leaf: every function or lambda
/// instantiated per leaf list costs a mangled name that spells the list.
template <std::size_t K>
struct leaf_store {
    named_binding slots[K > 0 ? K : 1]{};
    std::string_view conflict{};
};

/// dst takes src when it has no binding yet; a different array under the same name is a
/// conflict, recorded once.
inline void merge_binding(named_binding& dst, const named_binding& src,
                          std::string_view& conflict) noexcept {
    if (dst.ref.source == nullptr)
        dst = src;
    else if (dst.ref.source != src.ref.source && conflict.empty())
        conflict = src.name;
}
/// Merges n bindings of src into dst: src[i] into dst[i] (map null: src is a prefix of dst) or
/// into dst[map[i]]. A loop, not a fold: one small function for every node of every model.
inline void merge_bindings(named_binding* dst, const named_binding* src, const std::size_t* map,
                           std::size_t n, std::string_view& conflict) noexcept {
    for (std::size_t i = 0; i < n; ++i) merge_binding(dst[map ? map[i] : i], src[i], conflict);
}
/// dst[i] = src[map[i]] (map null: src[i]) for i < n.
inline void gather_bindings(named_binding* dst, const named_binding* src, const std::size_t* map,
                            std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) dst[i] = src[map ? map[i] : i];
}
/// The map of leaf list Sub into Super for the two loops above: null when Sub is a prefix.
template <class Sub, class Super>
constexpr const std::size_t* leaf_map_data() noexcept {
    if constexpr (leaf_map<Sub, Super>::value.prefix)
        return nullptr;
    else
        return leaf_map<Sub, Super>::value.at;
}

template <class List>
struct leaf_count;
template <class... L>
struct leaf_count<leaf_list<L...>> : std::integral_constant<std::size_t, sizeof...(L)> {};

/// Tag for building a pure node from the leaf store of a node holding all of its leaves.
struct from_leaves_t {};

/// A pure node's leaf store, as a base: a function that merges an operand's leaves takes it by
/// this base, so it is templated on the leaf count only, not on the operand's type (whose name
/// spells the whole subexpression).
template <std::size_t K>
struct with_leaves {
    leaf_store<K> leaves;
};

/// Where operand X's leaves go in the leaf list Super of its node: a leaf's slot, or the map of
/// a pure node's leaves (null: a prefix, as the first operand's always is).
template <bool First, class Sub, class Super>
struct map_of {  // the first operand: a prefix, and no map is computed
    static constexpr const std::size_t* value = nullptr;
};
template <class Sub, class Super>
struct map_of<false, Sub, Super> {
    static constexpr const std::size_t* value =
        leaf_map<Sub, Super>::value.prefix ? nullptr : leaf_map<Sub, Super>::value.at;
};
template <bool First, class X, class Super>
struct merge_target {
    static constexpr std::size_t slot = 0;
    static constexpr const std::size_t* map = map_of<First, typename X::leaf_types, Super>::value;
};
template <bool First, fixed_string Name, class Kind, class T, std::size_t R, class Super>
struct merge_target<First, leaf<Name, Kind, T, R>, Super> {
    static constexpr std::size_t slot = leaf_index<leaf<Name, Kind, T, R>, Super>::type::value;
    static constexpr const std::size_t* map = nullptr;
};

/// An operand's leaves into a node's store: the first binding of a name wins; another array
/// under it is a conflict (a conflict found below stays the one reported).
template <std::size_t N, fixed_string Name, class Kind, class T, std::size_t R>
void merge_operand(leaf_store<N>& store, const leaf<Name, Kind, T, R>& x, std::size_t slot,
                   const std::size_t*) noexcept {
    merge_binding(store.slots[slot], named_binding{x.ref, Name.view()}, store.conflict);
}
template <std::size_t N, std::size_t M>
void merge_operand(leaf_store<N>& store, const with_leaves<M>& x, std::size_t,
                   const std::size_t* map) noexcept {
    if (store.conflict.empty()) store.conflict = x.leaves.conflict;
    merge_bindings(store.slots, x.leaves.slots, map, M, store.conflict);
}

template <class Op, bool Pure, class Seq, class... C>
struct node_storage;
template <class Op, class Seq, class... C>
struct node_storage<Op, false, Seq, C...> {
    [[no_unique_address]] Op op;
    operand_list<Seq, C...> children;

    node_storage() = default;
    node_storage(Op o, operand_list<Seq, C...> ch)
        : op(o), children(static_cast<operand_list<Seq, C...>&&>(ch)) {}
};
// The operand indices K are the class's own parameters, so the constructor expands over them
// directly: no lambda or member function per node (each would be named after the node).
template <class Op, std::size_t... K, class... C>
struct node_storage<Op, true, std::index_sequence<K...>, C...>
    : with_leaves<leaf_count<typename leaves_of<node<Op, C...>>::type>::value> {
    using leaf_types = typename leaves_of<node<Op, C...>>::type;
    [[no_unique_address]] Op op;

    node_storage() = default;
    node_storage(Op o, const operand_list<std::index_sequence<K...>, C...>& ch) : op(o) {
        const int merged[] = {
            (merge_operand(this->leaves, static_cast<const operand_slot<K, C>&>(ch).value,
                           merge_target<K == 0, C, leaf_types>::slot,
                           merge_target<K == 0, C, leaf_types>::map),
             0)...};
        (void)merged;
    }
    /// From the store of a pure node X whose leaves include all of ours.
    template <class X>
    node_storage(from_leaves_t, const X& x) {
        gather_bindings(this->leaves.slots, x.leaves.slots,
                        leaf_map_data<leaf_types, typename X::leaf_types>(),
                        leaf_count<leaf_types>::value);
        this->leaves.conflict = x.leaves.conflict;  // a conflict below x stays reported
    }
};

}  // namespace detail

/// A node's operands: an aggregate with one member per operand, `operands<A, B>{a, b}`.
///
/// Not a `std::tuple`: libstdc++'s tuple is a recursive class whose constructors carry heavy
/// constraints, and a deep model instantiates them for every level's ever larger types (a
/// 64-layer MLP took 12.8 s and 1.2 GB of g++ just to build the expression; with this flat
/// aggregate 1.9 s and 240 MB). Read operand I with `fg::operand<I>(node)`.
template <class... C>
using operands = detail::operand_list<std::index_sequence_for<C...>, C...>;

/// `Op` is a policy struct holding the maths (see docs/design.md, "the op-struct contract");
/// the node holds only plumbing. Built as `node<Op, A, B>{op, {a, b}}`; what it keeps is in
/// this file's header comment.
template <class Op, class... Children>
struct node : detail::node_storage<Op, detail::is_pure_expr<node<Op, Children...>>::value,
                                   std::index_sequence_for<Children...>, Children...> {
    using op_type = Op;
    static constexpr std::size_t arity = sizeof...(Children);
    static constexpr std::size_t rank = Op::template result_rank<Children::rank...>;
    using storage = detail::node_storage<Op, detail::is_pure_expr<node>::value,
                                         std::index_sequence_for<Children...>, Children...>;

    node() = default;
    node(Op op, operands<Children...> children)
        : storage(op, static_cast<operands<Children...>&&>(children)) {}
    template <class X>
    node(detail::from_leaves_t t, const X& from) : storage(t, from) {}
};

namespace detail {
/// Operand C of a pure node, rebuilt from the node's leaves.
/// Expression C (a named leaf, or a pure node) rebuilt from the leaves of pure node x.
template <class C, class X>
C rebuild_from(const X& x) {
    if constexpr (requires { C::name; }) {
        C c{};
        static_cast<array_binding&>(c.ref) =
            x.leaves.slots[leaf_index<C, typename X::leaf_types>::type::value].ref;
        return c;
    } else {
        return C(from_leaves_t{}, x);
    }
}
template <std::size_t I, class... C>
using nth_operand_t = std::remove_cvref_t<decltype(operand_get<I>(
    std::declval<const operand_list<std::index_sequence_for<C...>, C...>&>()))>;
}  // namespace detail

/// Operand I of a node: a reference for a node with state below, a value (rebuilt from the
/// node's leaves) for a pure node. Bind it as `const auto&`.
template <std::size_t I, class Op, class... C>
constexpr decltype(auto) operand(const node<Op, C...>& n) {
    if constexpr (detail::is_pure_expr<node<Op, C...>>::value)
        return detail::rebuild_from<detail::nth_operand_t<I, C...>>(n);
    else
        return static_cast<const detail::nth_operand_t<I, C...>&>(
            detail::operand_get<I>(n.children));
}

/// `f(operand<0>(n), operand<1>(n), ...)`: what `std::apply` does for a tuple.
template <class F, class Op, class... C>
constexpr decltype(auto) apply_operands(F&& f, const node<Op, C...>& n) {
    return [&]<std::size_t... I>(std::index_sequence<I...>)->decltype(auto) {
        return std::forward<F>(f)(operand<I>(n)...);
    }
    (std::index_sequence_for<C...>{});
}

}  // namespace fusegrad
