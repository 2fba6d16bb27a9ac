#pragma once
/// @file
/// fg::make_node(op, operands...): the node of an op over expressions. Every builder returns
/// one; a user's own op is built the same way, without spelling the node type.

#include <type_traits>
#include <utility>

#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"

namespace fusegrad {

/// The node applying `op` (an op struct, holding its state if it has any) to the operands.
///   auto y = fg::make_node(my_op{}, x, fg::param<"W">(W));
template <class Op, expression... C>
auto make_node(Op op, C&&... c) {
    return node<Op, std::remove_cvref_t<C>...>{std::move(op), {std::forward<C>(c)...}};
}

namespace detail {
template <class E>
constexpr void check_real_operand() {
    static_assert(!is_index_leaf_v<std::remove_cvref_t<E>>,
                  "class-index labels can only be the second operand of fg::nll");
}
/// make_node for the built-in builders: labels are not values.
template <class Op, class... C>
auto make_value_node(Op op, C&&... c) {
    (check_real_operand<C>(), ...);
    return fusegrad::make_node(std::move(op), std::forward<C>(c)...);
}
}  // namespace detail

}  // namespace fusegrad
