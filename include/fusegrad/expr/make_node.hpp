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
///
/// Compile cost: builders are instantiated once per node of a model, with names that spell the
/// node's operands, so each builder's path to the node is one function: no helper in between,
/// and operands forwarded by a cast (std::forward is a function too).
template <class Op, expression... C>
auto make_node(Op op, C&&... c) {
    return node<Op, std::remove_cvref_t<C>...>{static_cast<Op&&>(op), {static_cast<C&&>(c)...}};
}

namespace detail {
/// make_node for the built-in builders: labels are not values.
template <class Op, class... C>
auto make_value_node(Op op, C&&... c) {
    static_assert(all_true({!is_index_leaf<std::remove_cvref_t<C>>::value...}),
                  "class-index labels can only be the second operand of fg::nll");
    return node<Op, std::remove_cvref_t<C>...>{static_cast<Op&&>(op), {static_cast<C&&>(c)...}};
}
}  // namespace detail

}  // namespace fusegrad
