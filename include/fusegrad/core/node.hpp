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
#include <new>
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

/// Whether every flag is true. Not a fold: clang nests a fold's operands and stops at 256
/// (`-fbracket-depth`), and a 128-layer model has 260 leaves.
constexpr bool all_true(std::initializer_list<bool> flags) noexcept {
    for (const bool f : flags)
        if (!f) return false;
    return true;
}

/// A leaf list answers "do you hold leaf X?" and "where?" by base-class lookup: leaf_list<L...>
/// derives from indexed_leaf<i, L_i>, each of which derives from leaf_tag<L_i>.
///
/// Compile cost: a question asked by comparing X with every element of the list (a pack
/// expansion of `__is_same`) costs g++ about 1 KB of its memory per comparison, so that asking
/// it for each leaf of one list against another is quadratic in the number of leaves: at 128
/// layers (260 leaves) 68 MB for one `all_leaves_in` of the rewriter. Asked through the bases,
/// it is one query per leaf asked about; a list's bases cost once, when the list is completed
/// (both questions through the bases: a TU that runs one rewrite pass over a 128-layer MLP went
/// from 815 to 721 MB of g++'s GGC total).
template <class L>
struct leaf_tag {};
template <std::size_t I, class L>
struct indexed_leaf : leaf_tag<L> {};
template <class Seq, class... L>
struct indexed_leaves;
template <std::size_t... I, class... L>
struct indexed_leaves<std::index_sequence<I...>, L...> : indexed_leaf<I, L>... {};

/// A list of distinct leaf types.
template <class... Ts>
struct leaf_list : indexed_leaves<std::index_sequence_for<Ts...>, Ts...> {};

/// A leaf list as a value of an empty class, for concatenating lists in decltype without
/// completing them (a completed list instantiates a base per leaf).
template <class List>
struct list_box {
    using type = List;
};
template <class... A, class... B>
list_box<leaf_list<A..., B...>> operator+(list_box<leaf_list<A...>>,
                                          list_box<leaf_list<B...>>);  // declared only: decltype

/// Whether the pack A... holds X: builtin comparisons, no class per (leaf, list). For the
/// builders' unions below: asking a list's bases instead (`__is_base_of(leaf_tag<X>, List)`)
/// completes every intermediate list, which costs g++ as much per leaf as a comparison, so only
/// the rewriter's questions about a few whole-model lists go through the bases.
template <class X, class... A>
struct holds_leaf : std::bool_constant<(first_true({__is_same(X, A)...}) < sizeof...(A))> {};

/// A followed by the leaves of B that A does not hold (both lists are free of repeats): one
/// pack expansion, not one step per leaf; a single new leaf (a layer's weight, its bias) is
/// one comparison per leaf of A and no fold.
template <class A, class B>
struct leaf_union;
template <class... A, class B0>
struct leaf_union<leaf_list<A...>, leaf_list<B0>> {
    using type =
        std::conditional_t<holds_leaf<B0, A...>::value, leaf_list<A...>, leaf_list<A..., B0>>;
};
template <class... A, class... B>
struct leaf_union<leaf_list<A...>, leaf_list<B...>> {
    using type = typename decltype((
        list_box<leaf_list<A...>>{} + ... +
        list_box<
            std::conditional_t<holds_leaf<B, A...>::value, leaf_list<>, leaf_list<B>>>{}))::type;
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

template <class L, std::size_t I>
std::integral_constant<std::size_t, I> position_of(const indexed_leaf<I, L>*);  // decltype only

/// The position of leaf X in a leaf list that holds it: one lookup in the list's base classes,
/// not a comparison per element.
template <class X, class List>
struct leaf_index {
    using type = decltype(detail::position_of<X>(static_cast<const List*>(nullptr)));
};

/// Where each leaf of Sub sits in Super (every leaf of Sub is in Super), and whether Sub is a
/// prefix of Super (the common case: a node's first operand's leaves are the first of its own).
///
/// Compile cost: one base lookup per leaf of Sub (leaf_list, above), no class per leaf, and the
/// result is data that a loop reads, not an index pack that a fold unrolls (quadratic code over
/// a deep chain).
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
        constexpr std::size_t pos[] = {decltype(detail::position_of<S>(
                                           static_cast<const leaf_list<P...>*>(nullptr)))::value...,
                                       0};
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

/// Tag: a leaf store whose slots the caller constructs (merge_sources, gather_bindings).
struct unfilled_t {};

/// A pure node's leaves: one binding per distinct named leaf, in the order of its leaf list,
/// and the name of the first leaf found bound to two different arrays below (empty when none;
/// `fg::compile` reports it).
///
/// Compile cost: an array, filled by loops, not a struct of typed slots copied leaf by leaf:
/// every function instantiated per leaf list costs a mangled name that spells the list. A node
/// built from operands does not value-initialize its slots first (the slots are a union member,
/// constructed once each by the loop that fills them): that initialization was a loop of K
/// slots compiled for every node type, and g++'s loop passes over it were about 1.3 s of the
/// 6 s it took to compile the construction of a 128-layer MLP (g++ 12 -O2).
template <std::size_t K>
struct leaf_store {
    union {
        named_binding slots[K > 0 ? K : 1];
    };
    std::string_view conflict{};

    leaf_store() noexcept : slots{} {}
    /// Slots [0, K) left for the caller to construct, every one of them, before any is read.
    explicit leaf_store(unfilled_t) noexcept {
        if constexpr (K == 0) ::new (static_cast<void*>(slots)) named_binding{};
    }
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
/// Constructs dst[i] as a copy of src[map[i]] (map null: src[i]) for i < n.
inline void gather_bindings(named_binding* dst, const named_binding* src, const std::size_t* map,
                            std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i)
        ::new (static_cast<void*>(dst + i)) named_binding(src[map ? map[i] : i]);
}
/// The map of leaf list Sub into Super for gather_bindings: null when Sub is a prefix.
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

template <std::size_t K>
struct with_leaves;

/// An operand of a pure node as its node's construction sees it: its named leaves (one for a
/// leaf, a pure node's whole store) and the conflict found below it. Converted from the
/// operand by a constructor templated on the leaf type or the leaf count only, never on a
/// node's type (whose name spells the whole subexpression).
///
/// A leaf is referred to, not copied: the conversion is four stores, compiled in every
/// builder of a model (a copy of its binding was fifteen).
struct leaf_source {
    const named_binding* slots = nullptr;  // null: the one leaf below
    std::size_t count = 0;
    const array_binding* leaf_ref = nullptr;
    std::string_view leaf_name{};
    std::string_view conflict{};

    template <fixed_string Name, class Kind, class T, std::size_t R>
    leaf_source(const leaf<Name, Kind, T, R>& x) noexcept
        : count(1), leaf_ref(&x.ref), leaf_name(Name.view()) {}
    template <std::size_t M>
    leaf_source(const with_leaves<M>& x) noexcept;

    /// Binding i of this operand's leaves.
    named_binding at(std::size_t i) const noexcept {
        return slots ? slots[i] : named_binding{*leaf_ref, leaf_name};
    }
};

/// Merges the operands' leaves into dst (capacity K), in order of first appearance: each
/// operand's leaves not seen yet are appended, a name seen before is merged (merge_binding).
/// That is the order of the node's leaf list (leaf_union), so the type's compile-time indices
/// (leaf_index, leaf_map) address the same slots. (Two different leaves under one name, say an
/// input and a param, are two entries of the type's list and one slot here; `fg::compile`
/// refuses such an expression at compile time.) A loop over names, not code per node: a
/// node's construction instantiates nothing named after it.
///
/// dst's slots are constructed here (leaf_store's unfilled slots): the type counts every
/// distinct leaf, so all `capacity` of them are; any left over (there are none) are
/// value-initialized, so that no slot is ever read unconstructed.
inline void merge_sources(named_binding* dst, std::size_t capacity, std::string_view& conflict,
                          const leaf_source* src, std::size_t n) noexcept {
    std::size_t count = 0;
    for (std::size_t k = 0; k < n; ++k) {
        if (conflict.empty()) conflict = src[k].conflict;
        if (k == 0) {  // the first operand's leaves are distinct: the prefix
            for (; count < src[k].count && count < capacity; ++count)
                ::new (static_cast<void*>(dst + count)) named_binding(src[k].at(count));
            continue;
        }
        for (std::size_t i = 0; i < src[k].count; ++i) {
            const named_binding b = src[k].at(i);
            std::size_t j = 0;
            while (j < count && dst[j].name != b.name) ++j;
            if (j < count)
                merge_binding(dst[j], b, conflict);
            else if (count < capacity)  // always: the type counts every distinct leaf
                ::new (static_cast<void*>(dst + count++)) named_binding(b);
        }
    }
    for (; count < capacity; ++count) ::new (static_cast<void*>(dst + count)) named_binding{};
}

/// A pure node's leaf store, as a base: a node is built from `{op, {operands...}}` (an
/// aggregate), and the store from the braced operands by this class's constructor, templated
/// on the leaf count only. A function that reads an operand's leaves takes it by this base.
template <std::size_t K>
struct with_leaves {
    leaf_store<K> leaves;

    with_leaves() = default;
    with_leaves(std::initializer_list<leaf_source> operands) noexcept : leaves(unfilled_t{}) {
        merge_sources(leaves.slots, K, leaves.conflict, operands.begin(), operands.size());
    }
    /// From the store of a pure node holding all of these leaves (map: where each sits there;
    /// null when they are its first K).
    with_leaves(from_leaves_t, const named_binding* src, const std::size_t* map,
                std::string_view conflict) noexcept
        : leaves(unfilled_t{}) {
        gather_bindings(leaves.slots, src, map, K);
        leaves.conflict = conflict;  // a conflict below the source stays reported
    }
};

template <std::size_t M>
leaf_source::leaf_source(const with_leaves<M>& x) noexcept
    : slots(x.leaves.slots), count(M), conflict(x.leaves.conflict) {}

/// A node's arity and rank: static members of a class named by the two numbers, which every
/// node of that shape shares. Declared in the node, each would be a variable named after the
/// node, whose mangled name spells its whole subexpression (two per node of a deep model).
template <std::size_t Arity, std::size_t Rank>
struct node_sizes {
    static constexpr std::size_t arity = Arity;
    static constexpr std::size_t rank = Rank;
};
/// A node's op (empty for a stateless op) and its sizes, as its first base:
/// `node<Op, A, B>{op, {a, b}}` initializes it from `op` and the second base from `{a, b}`.
/// (A constructor, so that the empty node_sizes base needs no initializer of its own.)
template <class Op, std::size_t Arity, std::size_t Rank>
struct op_part : node_sizes<Arity, Rank> {
    [[no_unique_address]] Op op;
    constexpr op_part() = default;
    constexpr op_part(Op o) noexcept(std::is_nothrow_move_constructible_v<Op>)
        : op(static_cast<Op&&>(o)) {}
};
/// A node with state below holds its operands by value.
template <class Seq, class... C>
struct children_part {
    operand_list<Seq, C...> children;
};
/// What a node keeps of its operands: its distinct named leaves when pure, else the operands.
struct no_leaf_types {
    using leaf_types = void;
};
template <bool Pure, class... C>
struct operand_part_of {
    using type = children_part<std::index_sequence_for<C...>, C...>;
};
template <>
struct operand_part_of<true> {  // a pure op without operands
    using leaf_types = leaf_list<>;
    using type = with_leaves<0>;
};
template <class C0, class... C>
struct operand_part_of<true, C0, C...> {
    using leaf_types = typename leaves_fold<typename leaves_of<C0>::type, C...>::type;
    using type = with_leaves<leaf_count<leaf_types>::value>;
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
///
/// An aggregate: building a node instantiates no constructor named after it. Each function
/// instantiated per node costs a mangled name that spells the node's subexpression, so over a
/// deep model their total grows with the square of its depth (a 128-layer MLP: a constructor
/// for the node and one for its storage, per node, took 2 s of g++'s time).
template <class Op, class... Children>
struct node : detail::op_part<Op, sizeof...(Children), Op::template result_rank<Children::rank...>>,
              detail::operand_part_of<detail::is_pure_expr<node<Op, Children...>>::value,
                                      Children...>::type {
    using op_type = Op;
    /// A pure node's distinct named leaves, in the order its store holds them.
    using leaf_types = typename std::conditional_t<detail::is_pure_expr<node>::value,
                                                   detail::operand_part_of<true, Children...>,
                                                   detail::no_leaf_types>::leaf_types;
};

namespace detail {
/// Whether C is a named leaf. A trait, not `requires { C::name; }`: when a requires-expression
/// fails, clang 14 formats its diagnostic into a string at once, printing C's type in full, and
/// the printed type of a residual chain (which spells each level's input twice) doubles with
/// every level: at 16 levels, 200 MB of clang's memory for messages nobody saw.
template <class C>
struct is_pure_leaf : std::false_type {};
template <fixed_string Name, class Kind, class T, std::size_t R>
struct is_pure_leaf<leaf<Name, Kind, T, R>> : std::true_type {};

/// Expression C (a named leaf, or a pure node) rebuilt from the leaves of pure node x.
template <class C, class X>
C rebuild_from(const X& x) {
    if constexpr (is_pure_leaf<C>::value) {
        C c{};
        static_cast<array_binding&>(c.ref) =
            x.leaves.slots[leaf_index<C, typename X::leaf_types>::type::value].ref;
        return c;
    } else {
        return C{{},
                 with_leaves<leaf_count<typename C::leaf_types>::value>(
                     from_leaves_t{}, x.leaves.slots,
                     leaf_map_data<typename C::leaf_types, typename X::leaf_types>(),
                     x.leaves.conflict)};
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
        return std::forward<F>(f)(fusegrad::operand<I>(n)...);
    }
    (std::index_sequence_for<C...>{});
}

}  // namespace fusegrad
