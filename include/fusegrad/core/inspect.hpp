#pragma once
/// @file
/// Compile-time questions about the ops in an expression: does it contain one, how many.

#include <cstddef>
#include <type_traits>

#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"

namespace fusegrad {

namespace detail {
template <class E, class Op>
struct op_count : std::integral_constant<std::size_t, 0> {};
template <class NodeOp, class... C, class Op>
struct op_count<node<NodeOp, C...>, Op>
    : std::integral_constant<std::size_t, std::size_t{std::is_same_v<NodeOp, Op>} +
                                              (std::size_t{0} + ... + op_count<C, Op>::value)> {};
}  // namespace detail

/// The number of nodes of the expression tree `Expr` whose op type is `Op`. Every occurrence
/// counts, including those the plan merges (`sum(exp(a)) + sum(exp(a))` has two `exp`). For an
/// op class template, pass the full type: `count_op<E, op::softmax_xent<R>>`.
template <expression Expr, class Op>
inline constexpr std::size_t count_op =
    detail::op_count<std::remove_cvref_t<Expr>, std::remove_cv_t<Op>>::value;

/// True when some node of the expression `Expr` has the op type `Op` (the full type, as for
/// `count_op`): `static_assert(!fg::contains_op<decltype(fused), fg::op::softmax>);`.
template <expression Expr, class Op>
inline constexpr bool contains_op = count_op<Expr, Op> != 0;

}  // namespace fusegrad
