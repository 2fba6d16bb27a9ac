#pragma once
/// @file
/// The one generic node template: an op applied to operand expressions.

#include <cstddef>
#include <utility>

namespace fusegrad {

namespace detail {
template <std::size_t I, class T>
struct operand_slot {
    T value;
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
/// the node holds only plumbing. Operands are held by value: leaves are small references to
/// the caller's arrays, so a whole expression is a small value that copies freely and never
/// refers to a temporary. Built as `node<Op, A, B>{op, {a, b}}`.
template <class Op, class... Children>
struct node {
    using op_type = Op;
    static constexpr std::size_t arity = sizeof...(Children);
    static constexpr std::size_t rank = Op::template result_rank<Children::rank...>;

    [[no_unique_address]] Op op;
    operands<Children...> children;
};

/// Operand I of a node.
template <std::size_t I, class Op, class... C>
constexpr const auto& operand(const node<Op, C...>& n) noexcept {
    return detail::operand_get<I>(n.children);
}
template <std::size_t I, class Op, class... C>
constexpr auto& operand(node<Op, C...>& n) noexcept {
    return detail::operand_get<I>(n.children);
}

/// `f(operand<0>(n), operand<1>(n), ...)`: what `std::apply` does for a tuple.
template <class F, class Op, class... C>
constexpr decltype(auto) apply_operands(F&& f, const node<Op, C...>& n) {
    return [&]<std::size_t... I>(std::index_sequence<I...>)->decltype(auto) {
        return std::forward<F>(f)(detail::operand_get<I>(n.children)...);
    }
    (std::index_sequence_for<C...>{});
}

}  // namespace fusegrad
