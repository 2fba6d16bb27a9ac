#pragma once
/// @file
/// A list of types, and the concatenation of lists (the op registry is one, header by header).

namespace fusegrad::detail {

template <class... Ts>
struct type_list {};

/// One list of every type of the lists, in order.
///
/// Compile cost: a class, not a fold over `operator+`. An operator is looked up by
/// argument-dependent lookup, and clang 14 walks the template arguments of every class in the
/// argument's type before checking whether it has seen the class: a list holding a residual
/// chain's subexpression (a rule's capture) cost a walk of every path through it, doubling with
/// every level. Lists are few (a node's operands, the op headers), so the recursion is shallow.
template <class... Lists>
struct concat;
template <>
struct concat<> {
    using type = type_list<>;
};
template <class... A>
struct concat<type_list<A...>> {
    using type = type_list<A...>;
};
template <class... A, class... B, class... Rest>
struct concat<type_list<A...>, type_list<B...>, Rest...> : concat<type_list<A..., B...>, Rest...> {
};
template <class... Lists>
using concat_t = typename concat<Lists...>::type;

}  // namespace fusegrad::detail
