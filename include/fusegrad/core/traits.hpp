#pragma once
/// @file
/// Compile-time questions about expressions: is it one, is it a leaf, does it need a gradient.

#include <concepts>
#include <cstddef>
#include <type_traits>

#include "fusegrad/core/leaf.hpp"
#include "fusegrad/core/node.hpp"

namespace fusegrad {

namespace detail {
template <class E>
struct expr_traits {
    static constexpr bool is_expr = false;
};
template <fixed_string Name, class Kind, class T, std::size_t R>
struct expr_traits<leaf<Name, Kind, T, R>> {
    static constexpr bool is_expr = true;
    static constexpr bool is_leaf = true;
    static constexpr bool is_named = true;
    static constexpr bool is_param = std::is_same_v<Kind, param_kind>;
    static constexpr bool requires_grad = is_param;
    static constexpr bool is_pure = true;
};
template <class T, std::size_t R>
struct expr_traits<constant_leaf<T, R>> {
    static constexpr bool is_expr = true;
    static constexpr bool is_leaf = true;
    static constexpr bool is_named = false;
    static constexpr bool is_param = false;
    static constexpr bool requires_grad = false;
    static constexpr bool is_pure = false;
};
template <class Op, class... C>
struct expr_traits<node<Op, C...>> {
    static constexpr bool is_expr = true;
    static constexpr bool is_leaf = false;
    static constexpr bool is_named = false;
    static constexpr bool is_param = false;
    static constexpr bool requires_grad = (expr_traits<C>::requires_grad || ...);
    // An op with run-time state (a scale factor, options) is not identified by its type alone.
    static constexpr bool is_pure = std::is_empty_v<Op> && (expr_traits<C>::is_pure && ...);
};
}  // namespace detail

/// A fusegrad expression: a leaf or a node. Everything the builder functions return.
template <class E>
concept expression = detail::expr_traits<std::remove_cvref_t<E>>::is_expr;

template <expression E>
inline constexpr bool is_leaf_v = detail::expr_traits<E>::is_leaf;
/// A leaf created by `fg::param`.
template <expression E>
inline constexpr bool is_param_v = detail::expr_traits<E>::is_param;
/// True when some param lies below E, so E's gradient is needed in the backward pass.
template <expression E>
inline constexpr bool requires_grad_v = detail::expr_traits<E>::requires_grad;
/// True when E's type alone determines its value (given the bindings of its named leaves):
/// two occurrences of such a type are the same value and are evaluated once.
template <expression E>
inline constexpr bool is_pure_v = detail::expr_traits<E>::is_pure;

/// True for a leaf holding integer class indices.
template <class E>
inline constexpr bool is_index_leaf_v = false;
template <fixed_string Name, class T>
requires std::integral<T>
inline constexpr bool is_index_leaf_v<leaf<Name, labels_kind, T, 1>> = true;

/// The element type of E's value: the leaf's for a leaf, the graph's scalar for a node.
template <class E, class Scalar>
struct value_type_of {
    using type = Scalar;
};
template <fixed_string Name, class Kind, class T, std::size_t R, class Scalar>
struct value_type_of<leaf<Name, Kind, T, R>, Scalar> {
    using type = T;
};
template <class T, std::size_t R, class Scalar>
struct value_type_of<constant_leaf<T, R>, Scalar> {
    using type = T;
};

}  // namespace fusegrad
