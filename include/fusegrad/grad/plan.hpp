#pragma once
/// @file
/// The flat table of an expression: one entry per distinct value, operands as integer ids,
/// computed entirely at compile time from the expression's type. Every later pass (the graph
/// runner, printing) reads this table; none walks the nested expression again, except the one
/// run-time walk that picks up the leaves' bindings and the ops' state (`bound_values`).
///
/// Lowering walks the expression in post-order and hash-conses it: each value is identified by
/// a key, a named leaf by its name, a pure subexpression by its type, anything with run-time
/// state (a constant, a scale factor) by its position in the tree. A pure subexpression whose key
/// is already in the table is not walked again, so a shared subtree (a residual connection)
/// costs one lookup, not a second walk. Post-order puts every value after its operands, so
/// forward runs the table in order and backward runs it in reverse.
///
/// Compile cost: type lookups by index go through one inheritance table per list (no recursive
/// `std::tuple_element`), pure subtrees carry no tree path, only ops with state get a slot in a
/// flat struct indexed by id (no recursive `std::tuple`), and derived columns are functions.

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/leaf.hpp"
#include "fusegrad/core/node.hpp"
#include "fusegrad/core/tensor_ref.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/core/type_list.hpp"

namespace fusegrad::detail {

/// Where a subexpression sits: the operand indices from the root down. Only values with
/// run-time state are keyed by it.
template <std::size_t... I>
struct path {};
/// The "path" of a value inside a pure subtree: it is keyed by its type, so where it sits does
/// not matter (and long paths would only cost compile time).
struct no_path {};

template <fixed_string Name>
struct name_key {};
template <class E, class Path>
struct path_key {};

template <class E, class Path>
struct key_of {
    using type = std::conditional_t<pure_t<E>::value, E, path_key<E, Path>>;
};
template <fixed_string Name, class Kind, class T, std::size_t R, class Path>
struct key_of<leaf<Name, Kind, T, R>, Path> {
    using type = name_key<Name>;
};
template <class E, class Path>
using key_of_t = typename key_of<E, Path>::type;

/// One value of the table: its key, the expression computing it, where its first occurrence
/// sits (`no_path` when that does not matter) and where its operands are, as offsets back from
/// its own id (operand c is value `id - offset_c`).
template <class E>
struct operand_types_of {
    using type = type_list<>;
};
template <class Op, class... C>
struct operand_types_of<node<Op, C...>> {  // a leaf's element type; void for a computed value
    using type = type_list<typename value_type_of<C, void>::type...>;
};

template <class Key, class Expr, class Path, class Offsets>
struct entry;
template <class Key, class Expr, class Path, std::size_t... Off>
struct entry<Key, Expr, Path, std::index_sequence<Off...>> {
    using key = Key;
    using expr = Expr;
    using path_type = Path;
    /// The element type of each operand's value; void stands for the graph's scalar type.
    using operand_types = typename operand_types_of<Expr>::type;
    /// The operands' offsets back from this value's id (a type, not a static array: see
    /// "compile cost" below). Relative, so that the values of a repeated layer have the same
    /// offsets: what is instantiated per offset list (operand_slots) is shared by every layer,
    /// where absolute ids made one function per value.
    using operand_offsets = std::index_sequence<Off...>;
};

// ---- O(1) lookups in a type list --------------------------------------------------------------

template <std::size_t I, class T>
struct indexed {
    using type = T;
};
template <class Seq, class... Ts>
struct index_table;
template <std::size_t... I, class... Ts>
struct index_table<std::index_sequence<I...>, Ts...> : indexed<I, Ts>... {};
template <std::size_t I, class T>
indexed<I, T> select_indexed(const indexed<I, T>*);  // declared only: for decltype

template <std::size_t I, class List>
struct type_at;
template <std::size_t I, class... Es>
struct type_at<I, type_list<Es...>> {
    using type = typename decltype(detail::select_indexed<I>(
        static_cast<const index_table<std::index_sequence_for<Es...>, Es...>*>(nullptr)))::type;
};
template <std::size_t I, class List>
using type_at_t = typename type_at<I, List>::type;

// Compile cost: the metafunctions of the lowering hold their results as types
// (std::integral_constant), never as static data members or variable templates. g++ gives every
// such variable a mangled name, and a name that spells a long list of entries costs time
// quadratic in its length; a type that is only used inside other types is never mangled.

/// The index of key K in the list, or the list's size when it is not there. `__is_same` (g++
/// and clang) compares without instantiating anything: with `std::is_same` every comparison
/// was a class template specialization, quadratic in the table's size over a lowering.
template <class K, class List>
struct key_index;
template <class K, class... Es>
struct key_index<K, type_list<Es...>>
    : std::integral_constant<std::size_t, first_true({__is_same(K, typename Es::key)...})> {};
template <class K, class List>
inline constexpr std::size_t index_of_key_v = key_index<K, List>::value;

template <class List>
struct list_length;
template <class... Es>
struct list_length<type_list<Es...>> : std::integral_constant<std::size_t, sizeof...(Es)> {};

// ---- the lowering's accumulator
// ------------------------------------------------------------------

/// The entries lowered so far, in chunks: `Done` a type_list of full chunks (type_lists of
/// lower_chunk entries each), `Cur` the last, partial one, N the count.
///
/// Compile cost: the lowering adds one entry per step, and a step that deduces or rebuilds the
/// whole list costs g++ memory and time in its length (the argument pack is copied), so a flat
/// list made the lowering quadratic with a large constant: 143 MB of g++'s memory and 0.9 s for
/// the 517 values of a 128-layer MLP, paid again by each rewrite pass's lowering. A step here
/// rebuilds at most one chunk; the full chunks are deduced only when one is added.
inline constexpr std::size_t lower_chunk = 32;
template <std::size_t N, class Done, class Cur>
struct entry_acc {};
using empty_acc = entry_acc<0, type_list<>, type_list<>>;

template <class Acc>
struct acc_size;
template <std::size_t N, class Done, class Cur>
struct acc_size<entry_acc<N, Done, Cur>> : std::integral_constant<std::size_t, N> {};

template <bool Full, class Acc, class Entry>
struct acc_append_impl;
template <std::size_t N, class Done, class... C, class Entry>
struct acc_append_impl<false, entry_acc<N, Done, type_list<C...>>, Entry> {
    using type = entry_acc<N + 1, Done, type_list<C..., Entry>>;
};
template <std::size_t N, class... D, class... C, class Entry>
struct acc_append_impl<true, entry_acc<N, type_list<D...>, type_list<C...>>, Entry> {
    using type = entry_acc<N + 1, type_list<D..., type_list<C..., Entry>>, type_list<>>;
};
template <class Acc, class Entry>
struct acc_append
    : acc_append_impl<(acc_size<Acc>::value % lower_chunk) + 1 == lower_chunk, Acc, Entry> {};

/// A chunk's keys as base classes, so that "is key K in this chunk" is one `__is_base_of` and
/// "where" one deduction, not a comparison per entry: the lookup of core/node.hpp's leaf lists
/// (`leaf_tag`, `indexed_leaf`, `position_of`), over keys. Completed once per chunk.
template <class Chunk>
struct chunk_keys;
template <class... Es>
struct chunk_keys<type_list<Es...>>
    : indexed_leaves<std::index_sequence_for<Es...>, typename Es::key...> {};

/// The id of key K in the accumulator, or its size when K is not there: the first full chunk
/// holding it (one `__is_base_of` per chunk), else the partial chunk (one comparison per
/// entry). Results are types, not static members (see "compile cost" above).
template <class K, std::size_t N, class Done, std::size_t Chunk, std::size_t InCur,
          bool InDone = (Chunk < list_length<Done>::value)>
struct acc_find_in
    : std::integral_constant<std::size_t,
                             (InCur < N % lower_chunk) ? N - N % lower_chunk + InCur : N> {};
template <class K, std::size_t N, class Done, std::size_t Chunk, std::size_t InCur>
struct acc_find_in<K, N, Done, Chunk, InCur, true>
    : std::integral_constant<std::size_t,
                             Chunk * lower_chunk +
                                 decltype(detail::position_of<K>(
                                     static_cast<const chunk_keys<type_at_t<Chunk, Done>>*>(
                                         nullptr)))::value> {};
template <class K, class Acc>
struct acc_find;
template <class K, std::size_t N, class... D, class... C>
struct acc_find<K, entry_acc<N, type_list<D...>, type_list<C...>>>
    : acc_find_in<K, N, type_list<D...>, first_true({__is_base_of(leaf_tag<K>, chunk_keys<D>)...}),
                  first_true({__is_same(K, typename C::key)...})> {};

/// Entry I of the accumulator.
template <std::size_t I, class Acc>
struct acc_at;
template <std::size_t I, std::size_t N, class... D, class Cur>
struct acc_at<I, entry_acc<N, type_list<D...>, Cur>> {  // chunk I / lower_chunk; Cur follows D...
    using type = type_at_t<I % lower_chunk, type_at_t<I / lower_chunk, type_list<D..., Cur>>>;
};

/// The entries as one list: the chunks concatenated.
template <class Acc>
struct acc_entries;
template <std::size_t N, class... D, class Cur>
struct acc_entries<entry_acc<N, type_list<D...>, Cur>> {
    using type = concat_t<D..., Cur>;
};

// ---- lowering (hash-consing) ------------------------------------------------------------------

/// lower<Acc, E, Path>: `list` is accumulator Acc with E's values added (those not in it yet),
/// `id` is E's id in it.
template <class Acc, class E, class Path>
struct lower;

template <class Acc, std::size_t Id>
struct lowered {  // E was already in the table
    using list = Acc;
    using id = std::integral_constant<std::size_t, Id>;
};

template <class E, class Found>
struct same_leaf_check : std::true_type {};
template <class E, class Expr>
struct same_leaf_check<E, std::type_identity<Expr>> : std::is_same<E, Expr> {};

/// The expression of a table entry, wrapped (void for no entry).
template <class Entry>
struct entry_expr_of {
    using type = std::type_identity<typename Entry::expr>;
};
template <>
struct entry_expr_of<void> {
    using type = void;
};

/// The path of operand I of a value at Path (`no_path` below a pure value).
template <class Path, std::size_t I>
struct child_path {
    using type = no_path;
};
template <std::size_t... P, std::size_t I>
struct child_path<path<P...>, I> {
    using type = path<P..., I>;
};

// Compile cost: the classes instantiated per value hold no member templates (g++ declares a
// member template, and its partial specializations, anew in every instantiation of its class).

// A leaf: added once per key. A second use of a name must be the very same leaf type.
template <class Acc, class E, class Path>
requires leaf_t<E>::value struct lower<Acc, E, Path> {
    using K = key_of_t<E, Path>;
    using size = acc_size<Acc>;
    using found = acc_find<K, Acc>;
    using seen = std::bool_constant<(found::value < size::value)>;
    using earlier =
        typename std::conditional_t<seen::value, acc_at<(seen::value ? found::value : 0), Acc>,
                                    std::type_identity<void>>::type;  // the entry of the first use,
                                                                      // or void
    static_assert(same_leaf_check<E, typename entry_expr_of<earlier>::type>::value,
                  "one leaf name is used for two different leaves (different kinds, element types "
                  "or ranks); give each variable its own name");
    using list = typename std::conditional_t<
        seen::value, std::type_identity<Acc>,
        acc_append<Acc, entry<K, E, std::conditional_t<pure_t<E>::value, no_path, Path>,
                              std::index_sequence<>>>>::type;
    using id = std::integral_constant<std::size_t, seen::value ? found::value : size::value>;
};

template <class Acc, class Path, std::size_t I, class Ids, class... C>
struct lower_operands {
    using list = Acc;
    using ids = Ids;
};
template <class Acc, class Path, std::size_t I, std::size_t... Ids, class C0, class... C>
struct lower_operands<Acc, Path, I, std::index_sequence<Ids...>, C0, C...> {
    using first = lower<Acc, C0, typename child_path<Path, I>::type>;
    using rest = lower_operands<typename first::list, Path, I + 1,
                                std::index_sequence<Ids..., first::id::value>, C...>;
    using list = typename rest::list;
    using ids = typename rest::ids;
};

/// Operand ids as offsets back from the id Self of the value reading them.
template <std::size_t Self, class Ids>
struct offsets_from;
template <std::size_t Self, std::size_t... Ids>
struct offsets_from<Self, std::index_sequence<Ids...>> {
    using type = std::index_sequence<(Self - Ids)...>;
};

template <class Acc, class E, class Path>
struct lower_new;
template <class Acc, class Op, class... C, class Path>
struct lower_new<Acc, node<Op, C...>, Path> {
    using E = node<Op, C...>;
    // Below a pure node everything is pure: keyed by type, so no path is carried down.
    using P = std::conditional_t<pure_t<E>::value, no_path, Path>;
    using ops = lower_operands<Acc, P, 0, std::index_sequence<>, C...>;
    using list =
        typename acc_append<typename ops::list,
                            entry<key_of_t<E, Path>, E, P,
                                  typename offsets_from<acc_size<typename ops::list>::value,
                                                        typename ops::ids>::type>>::type;
    using id = std::integral_constant<std::size_t, acc_size<list>::value - 1>;
};

// A node: a pure key already in the table means the whole subtree is (not walked again).
template <class Acc, class Op, class... C, class Path>
struct lower<Acc, node<Op, C...>, Path> {
    using E = node<Op, C...>;
    using size = acc_size<Acc>;
    using found = std::integral_constant<
        std::size_t, pure_t<E>::value ? acc_find<key_of_t<E, Path>, Acc>::value : size::value>;
    using impl = typename std::conditional_t<(found::value < size::value),
                                             std::type_identity<lowered<Acc, found::value>>,
                                             std::type_identity<lower_new<Acc, E, Path>>>::type;
    using list = typename impl::list;
    using id = typename impl::id;
};

// ---- the table --------------------------------------------------------------------------------

/// A named leaf's name; empty for anything else (a non-template overload, so that no
/// instantiation spells a node's type).
template <fixed_string Name, class Kind, class T, std::size_t R>
constexpr std::string_view leaf_name_of(const leaf<Name, Kind, T, R>*) noexcept {
    return Name.view();
}
constexpr std::string_view leaf_name_of(const void*) noexcept {
    return {};
}

/// Whether a leaf holds class labels (integers), as leaf_name_of: an overload, not a trait
/// instantiated per node type.
template <fixed_string Name, class T>
constexpr bool is_label_leaf(const leaf<Name, labels_kind, T, 1>*) noexcept {
    return true;
}
constexpr bool is_label_leaf(const void*) noexcept {
    return false;
}

/// The op of a node (void for a leaf), and what its vjp reads (core/keeps.hpp): classes, so
/// that only one instantiation per op spells anything.
template <class E>
struct op_of {
    using type = void;
};
template <class Op, class... C>
struct op_of<node<Op, C...>> {
    using type = Op;
};
/// An op's name ("softmax"); empty for a leaf.
template <class Op>
struct op_name {
    static constexpr std::string_view value = Op::name;
};
template <>
struct op_name<void> {
    static constexpr std::string_view value{};
};
/// Whether an op refuses empty operands: an op that averages over them (mean, the mean
/// cross-entropies) declares `static constexpr bool refuses_empty = true;`, and the graph then
/// refuses an empty batch with a shape_error naming it instead of computing 0/0.
template <class Op>
struct op_refuses_empty {
    static constexpr bool value = [] {
        if constexpr (requires { Op::refuses_empty; })
            return bool(Op::refuses_empty);
        else
            return false;
    }();
};
template <>
struct op_refuses_empty<void> {
    static constexpr bool value = false;
};
template <class Op>
struct op_reads {
    static constexpr keeps value = kept_of<Op>();
};
template <>
struct op_reads<void> {
    static constexpr keeps value = keeps::nothing();
};

/// An entry's operand offsets as an array: one instantiation per distinct offset list
/// (integers only, shared by every layer of a model and by every plan).
template <std::size_t M, std::size_t... Off>
constexpr std::array<std::size_t, M> operand_slots(std::index_sequence<Off...>) noexcept {
    return {Off...};
}

/// What a table entry keeps of its expression at run time: the op object for a node (op_of;
/// empty for a stateless op), nothing for a leaf (its binding lives in `bound_values::leaves`).
struct no_state {};
template <class E>
struct state_of {
    using op = typename op_of<E>::type;
    using type = std::conditional_t<std::is_void_v<op>, no_state, op>;
};

/// Whether an op object carries data (a scale factor, an option) that the graph must keep per
/// value. A stateless op is an empty class: every value of that op points at one shared object.
template <class S>
inline constexpr bool has_state_v = !std::is_same_v<S, no_state> && !std::is_empty_v<S>;
template <class S>
inline const S shared_op{};
/// The shared object of a stateless op; null for a leaf and for an op with state (its object
/// lives in the graph, `bound_values::ops`).
///
/// Compile cost: one instantiation per op type. A slot per value (the store this replaced)
/// instantiated a constructor and an accessor per value of every graph.
template <class S>
constexpr const void* shared_op_address() noexcept {
    if constexpr (std::is_same_v<S, no_state> || has_state_v<S>)
        return nullptr;
    else
        return &shared_op<S>;
}

// ---- the table's derived columns ---------------------------------------------------------------
// Functions templated on the table's sizes only, not lambdas in plan_tables' initializers: a
// lambda there is a class with an operator(), a static invoker and a conversion, three
// functions in g++'s call graph (-fdump-ipa-cgraph), each named after plan_tables, whose name
// spells every entry. Without them a 128-layer MLP's TU peaks 14 MB lower (g++ 12 -O2, same
// time within the noise).

/// a[i] && b[i].
template <std::size_t N>
constexpr std::array<bool, N> both_set(const std::array<bool, N>& a,
                                       const std::array<bool, N>& b) noexcept {
    std::array<bool, N> f{};
    for (std::size_t i = 0; i < N; ++i) f[i] = a[i] && b[i];
    return f;
}
/// How many flags are set.
template <std::size_t N>
constexpr std::size_t count_set(const std::array<bool, N>& f) noexcept {
    std::size_t k = 0;
    for (const bool b : f) k += b ? 1 : 0;
    return k;
}
/// The indices of the set flags, in order (K of them).
template <std::size_t K, std::size_t N>
constexpr std::array<std::size_t, K> indices_of_set(const std::array<bool, N>& f) noexcept {
    std::array<std::size_t, K> ids{};
    std::size_t k = 0;
    for (std::size_t i = 0; i < N; ++i)
        if (f[i]) ids[k++] = i;
    return ids;
}
/// Each set flag's place among the set flags; N where the flag is not set.
template <std::size_t N>
constexpr std::array<std::size_t, N> places_of_set(const std::array<bool, N>& f) noexcept {
    std::array<std::size_t, N> at{};
    std::size_t k = 0;
    for (std::size_t i = 0; i < N; ++i) at[i] = f[i] ? k++ : N;
    return at;
}
/// The operand ids as one row-major N × M array, from each value's operand offsets (value i's
/// operand c is value i - offsets[i][c]; slots past its arity stay 0).
template <std::size_t N, std::size_t M>
constexpr std::array<std::size_t, N * M> flatten_rows(
    const std::array<std::array<std::size_t, M>, N>& offsets,
    const std::array<std::size_t, N>& arity) noexcept {
    std::array<std::size_t, N * M> f{};
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t c = 0; c < arity[i]; ++c) f[i * M + c] = i - offsets[i][c];
    return f;
}
/// See table_columns::kept.
template <std::size_t N, std::size_t M>
constexpr std::array<bool, N> kept_values(const std::array<bool, N>& is_leaf,
                                          const std::array<bool, N>& requires_grad,
                                          const std::array<std::size_t, N>& arity,
                                          const std::array<std::size_t, N * M>& operands,
                                          const std::array<keeps, N>& reads) noexcept {
    std::array<bool, N> k{};
    k[N - 1] = true;
    for (std::size_t i = 0; i < N; ++i) {
        if (is_leaf[i]) k[i] = true;
        if (is_leaf[i] || !requires_grad[i]) continue;  // no vjp runs
        if (reads[i].has_output()) k[i] = true;
        for (std::size_t c = 0; c < arity[i]; ++c)
            if (reads[i].has_operand(c)) k[operands[i * M + c]] = true;
    }
    return k;
}
/// See table_columns::consumers.
template <std::size_t N, std::size_t M>
constexpr std::array<std::size_t, N> consumer_counts(
    const std::array<std::size_t, N>& arity,
    const std::array<std::size_t, N * M>& operands) noexcept {
    std::array<std::size_t, N> n{};
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t c = 0; c < arity[i]; ++c) ++n[operands[i * M + c]];
    return n;
}
/// See table_columns::accumulate.
template <std::size_t N, std::size_t M>
constexpr std::array<bool, N * M> accumulate_flags(
    const std::array<bool, N>& is_leaf, const std::array<bool, N>& requires_grad,
    const std::array<std::size_t, N>& arity,
    const std::array<std::size_t, N * M>& operands) noexcept {
    std::array<bool, N * M> acc{};
    std::array<bool, N> written{};
    for (std::size_t i = N; i-- > 0;) {
        if (is_leaf[i] || !requires_grad[i]) continue;
        for (std::size_t c = 0; c < arity[i]; ++c) {
            const auto s = operands[i * M + c];
            if (!requires_grad[s]) continue;
            acc[i * M + c] = written[s];
            written[s] = true;
        }
    }
    return acc;
}

/// The columns of a table of N values with at most M operands each: flat arrays indexed by id.
/// Gathered in one constant (plan_tables::columns), not one static member per column: g++
/// mangles each static data member of a class named after a table, a name that spells every
/// entry, and the mangler's search for substitutions is linear in what it has seen, so each
/// such name costs time that grows with the square of the model (a 128-layer MLP: twenty
/// members, 35 KB names each).
template <std::size_t N, std::size_t M>
struct table_columns {
    std::array<bool, N> is_leaf{};
    std::array<bool, N> requires_grad{};
    std::array<std::size_t, N> arity{};
    /// params[i]: value i is a param (a leaf that takes a gradient).
    std::array<bool, N> params{};
    /// shared_ops[i]: the one object of value i's op when the op is stateless, else null.
    std::array<const void*, N> shared_ops{};
    /// stateful[i]: value i's op has state; stateful_index[i]: its place among those values.
    std::array<bool, N> stateful{};
    std::array<std::size_t, N> stateful_index{};
    /// names[i]: the name of value i when it is a named leaf, else empty.
    std::array<std::string_view, N> names{};
    /// op_names[i]: the name of value i's op; empty for a leaf.
    std::array<std::string_view, N> op_names{};
    /// refuses_empty[i]: value i's op averages over its operands (see op_refuses_empty).
    std::array<bool, N> refuses_empty{};
    /// labels[i]: value i is a leaf of class labels (integers).
    std::array<bool, N> labels{};
    /// reads[i]: what value i's vjp reads of the forward (core/keeps.hpp); nothing for a leaf.
    std::array<keeps, N> reads{};
    /// operands[i * M + c]: the id of value i's operand c (row-major, N × M, one flat array:
    /// the graph's run-time loops read it through a pointer, grad/runtime.hpp).
    std::array<std::size_t, N * M> operands{};
    /// kept[i]: a backward reads value i's output (its own vjp or a consumer's, as declared),
    /// or it is the graph's value. Leaves count as kept: they are the caller's arrays.
    std::array<bool, N> kept{};
    /// consumers[i]: how many operand slots of other values read value i (a value read twice
    /// by one op, `add(x, x)`, counts twice). The root has none.
    std::array<std::size_t, N> consumers{};
    /// accumulate[i * M + c]: whether value i's vjp adds into (rather than overwrites) the
    /// gradient of its operand c, i.e. whether a use met earlier in the backward pass wrote
    /// it first (row-major as `operands`).
    std::array<bool, N * M> accumulate{};

    /// The id of value i's operand c.
    constexpr std::size_t child(std::size_t i, std::size_t c) const noexcept {
        return operands[i * M + c];
    }
};

/// The derived columns of c, from its per-value columns and each value's operand offsets.
template <std::size_t N, std::size_t M>
constexpr table_columns<N, M> derive_columns(
    table_columns<N, M> c, const std::array<std::array<std::size_t, M>, N>& offsets) noexcept {
    c.params = both_set(c.is_leaf, c.requires_grad);
    c.stateful_index = places_of_set(c.stateful);
    c.operands = flatten_rows<N, M>(offsets, c.arity);
    c.kept = kept_values<N, M>(c.is_leaf, c.requires_grad, c.arity, c.operands, c.reads);
    c.consumers = consumer_counts<N, M>(c.arity, c.operands);
    c.accumulate = accumulate_flags<N, M>(c.is_leaf, c.requires_grad, c.arity, c.operands);
    return c;
}

template <class List>
struct plan_tables;

template <class... Es>
struct plan_tables<type_list<Es...>> {
    static constexpr std::size_t size = sizeof...(Es);
    static constexpr std::size_t max_arity =
        std::max({std::size_t{1}, Es::operand_offsets::size()...});

    static constexpr table_columns<size, max_arity> columns = derive_columns<size, max_arity>(
        {.is_leaf = {leaf_t<typename Es::expr>::value...},
         .requires_grad = {requires_grad_t<typename Es::expr>::value...},
         .arity = {Es::operand_offsets::size()...},
         .shared_ops = {shared_op_address<typename state_of<typename Es::expr>::type>()...},
         .stateful = {has_state_v<typename state_of<typename Es::expr>::type>...},
         .names = {detail::leaf_name_of(static_cast<const typename Es::expr*>(nullptr))...},
         .op_names = {op_name<typename op_of<typename Es::expr>::type>::value...},
         .refuses_empty = {op_refuses_empty<typename op_of<typename Es::expr>::type>::value...},
         .labels = {detail::is_label_leaf(static_cast<const typename Es::expr*>(nullptr))...},
         .reads = {op_reads<typename op_of<typename Es::expr>::type>::value...}},
        {operand_slots<max_arity>(typename Es::operand_offsets{})...});

    /// The values whose op has state, in id order (columns.stateful_index: each value's place
    /// among them).
    static constexpr std::size_t stateful_count = count_set(columns.stateful);
    static constexpr std::array<std::size_t, stateful_count> stateful_ids =
        indices_of_set<stateful_count>(columns.stateful);
};

/// Everything compile() knows before seeing a shape.
template <class Expr>
struct plan {
    using entries = typename acc_entries<typename lower<empty_acc, Expr, path<>>::list>::type;
    using tables = plan_tables<entries>;
    static constexpr std::size_t size = tables::size;
    static constexpr std::size_t root = size - 1;

    template <std::size_t I>
    using entry_at = type_at_t<I, entries>;
    template <std::size_t I>
    using expr_at = typename entry_at<I>::expr;

    template <fixed_string Name>
    static constexpr std::size_t slot_of = index_of_key_v<name_key<Name>, entries>;
};

// ---- flat storage indexed by id ---------------------------------------------------------------

/// Flat storage indexed by id: the same aggregate as a node's operands (core/node.hpp).
template <class Seq, class... Ts>
using flat_store = operand_list<Seq, Ts...>;

/// The values' op objects, as the graph keeps them: only ops with state (a scale factor, an
/// option) have a slot, in id order; see `shared_op` for the others.
template <class Plan, class Seq = std::make_index_sequence<Plan::tables::stateful_count>>
struct op_store_of;
template <class Plan, std::size_t... K>
struct op_store_of<Plan, std::index_sequence<K...>> {
    using type = flat_store<
        std::index_sequence<K...>,
        typename state_of<typename Plan::template expr_at<Plan::tables::stateful_ids[K]>>::type...>;
};

/// Where a walk of the expression reports the leaves it meets. Not a template: the walk's
/// instantiations name only the subexpression they visit, never the whole graph.
struct leaf_binder {
    array_binding* leaves;
    bool* seen;
    const std::string_view* names;  // per value: a named leaf's name, else empty
    std::size_t size;
    std::string_view conflict{};  // the first name found bound to two different arrays

    void at(std::size_t slot, const array_binding& ref, bool named) noexcept {
        if (!seen[slot]) {
            seen[slot] = true;
            leaves[slot] = ref;
        } else if (named && leaves[slot].source != ref.source && conflict.empty()) {
            conflict = names[slot];
        }
    }
    void named(std::string_view name, const array_binding& ref) noexcept {
        for (std::size_t i = 0; i < size; ++i)
            if (names[i] == name) return at(i, ref, true);
    }
};

/// A pure subtree: its named leaves, held flat by the node (core/node.hpp), and any conflict
/// found when it was built. No walk: a shared subtree costs its distinct leaves, once.
template <class E>
void bind_pure_leaves(const E& e, leaf_binder& b) {
    if constexpr (leaf_t<E>::value) {
        b.named(E::name.view(), e.ref);
    } else {
        if (!e.leaves.conflict.empty() && b.conflict.empty()) b.conflict = e.leaves.conflict;
        for (const auto& s : e.leaves.slots)
            if (!s.name.empty()) b.named(s.name, s.ref);
    }
}

/// The run-time part of an expression, in table order: each leaf's binding and each op's state.
/// Filled by one walk of the expression; a name bound to two different arrays is reported.
template <class Plan>
struct bound_values {
    static constexpr std::size_t N = Plan::size;
    std::array<array_binding, N> leaves{};
    typename op_store_of<Plan>::type ops{};  // the ops with state only

    /// Where each value's op object sits (null for a leaf): what the graph's step tables and
    /// the printers pass to their per-op functions.
    std::array<const void*, N> op_addresses() const noexcept {
        using tables = typename Plan::tables;
        std::array<const void*, N> at = tables::columns.shared_ops;
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            // A braced list, not a fold: clang nests a fold's operands (its limit is 256).
            const int done[] = {0, (at[tables::stateful_ids[K]] = &operand_get<K>(ops), 0)...};
            (void)done;
        }
        (std::make_index_sequence<tables::stateful_count>{});
        return at;
    }

    /// Walks `e` once. Returns the name of a leaf bound to two different arrays, or an empty
    /// view when there is none.
    template <class E>
    std::string_view bind(const E& e) {
        std::array<bool, N> seen{};
        leaf_binder b{leaves.data(), seen.data(), Plan::tables::columns.names.data(), N};
        walk(e, path<>{}, b);
        return b.conflict;
    }

  private:
    // Through nodes with state (keyed by path): record the op, carry the path down. Only these
    // instantiations name the graph (through Plan); models are mostly pure.
    template <class E, class Path>
    void walk(const E& e, Path, leaf_binder& b) {
        if constexpr (pure_t<E>::value) {
            detail::bind_pure_leaves(e, b);
        } else if constexpr (leaf_t<E>::value) {  // a constant
            b.at(index_of_key_v<key_of_t<E, Path>, typename Plan::entries>, e.ref, false);
        } else {
            if constexpr (has_state_v<std::remove_cvref_t<decltype(e.op)>>) {
                constexpr std::size_t id =
                    index_of_key_v<key_of_t<E, Path>, typename Plan::entries>;
                operand_get<Plan::tables::columns.stateful_index[id]>(ops) = e.op;
            }
            walk_operands(e, Path{}, b, std::make_index_sequence<E::arity>{});
        }
    }
    template <class E, std::size_t... P, std::size_t... C>
    void walk_operands(const E& e, path<P...>, leaf_binder& b, std::index_sequence<C...>) {
        (walk(fusegrad::operand<C>(e), path<P..., C>{}, b), ...);
    }
};

}  // namespace fusegrad::detail
