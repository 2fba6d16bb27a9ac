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
// The traits are types (std::bool_constant), not static data members: g++ gives every
// instantiated variable a mangled name, and in a deep model these names spell long
// subexpressions (see grad/plan.hpp, "compile cost").
template <class E>
struct expr_traits {
    using is_expr = std::false_type;
};
template <fixed_string Name, class Kind, class T, std::size_t R>
struct expr_traits<leaf<Name, Kind, T, R>> {
    using is_expr = std::true_type;
    using is_leaf = std::true_type;
    using is_named = std::true_type;
    using is_param = std::is_same<Kind, param_kind>;
    using requires_grad = is_param;
    using is_pure = std::true_type;
};
template <class T, std::size_t R>
struct expr_traits<constant_leaf<T, R>> {
    using is_expr = std::true_type;
    using is_leaf = std::true_type;
    using is_named = std::false_type;
    using is_param = std::false_type;
    using requires_grad = std::false_type;
    using is_pure = std::false_type;
};
template <class Op, class... C>
struct expr_traits<node<Op, C...>> {
    using is_expr = std::true_type;
    using is_leaf = std::false_type;
    using is_named = std::false_type;
    using is_param = std::false_type;
    using requires_grad = std::bool_constant<(expr_traits<C>::requires_grad::value || ...)>;
    // An op with run-time state (a scale factor, options) is not identified by its type alone.
    using is_pure =
        std::bool_constant<std::is_empty_v<Op> && (expr_traits<C>::is_pure::value && ...)>;
};
template <class E>
using pure_t = typename expr_traits<E>::is_pure;
template <class E>
using leaf_t = typename expr_traits<E>::is_leaf;
template <class E>
using requires_grad_t = typename expr_traits<E>::requires_grad;
}  // namespace detail

/// A fusegrad expression: a leaf or a node. Everything the builder functions return.
template <class E>
concept expression = detail::expr_traits<std::remove_cvref_t<E>>::is_expr::value;

template <expression E>
inline constexpr bool is_leaf_v = detail::expr_traits<E>::is_leaf::value;
/// A leaf created by `fg::param`.
template <expression E>
inline constexpr bool is_param_v = detail::expr_traits<E>::is_param::value;
/// True when some param lies below E, so E's gradient is needed in the backward pass.
template <expression E>
inline constexpr bool requires_grad_v = detail::expr_traits<E>::requires_grad::value;
/// True when E's type alone determines its value (given the bindings of its named leaves):
/// two occurrences of such a type are the same value and are evaluated once.
template <expression E>
inline constexpr bool is_pure_v = detail::expr_traits<E>::is_pure::value;

/// True for a leaf holding integer class indices. (value_node, every built-in builder's
/// path, tests the class: a variable template instantiated per node type costs g++ a variable
/// named after the whole node.)
template <class E>
struct is_index_leaf : std::false_type {};
template <fixed_string Name, class T>
requires std::integral<T>
struct is_index_leaf<leaf<Name, labels_kind, T, 1>> : std::true_type {
};
template <class E>
inline constexpr bool is_index_leaf_v = is_index_leaf<E>::value;

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
