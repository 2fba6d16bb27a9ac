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
/// The node type a built-in builder returns for op Op over operands C... (any references and
/// cv-qualifiers dropped), refusing labels, which are not values: a builder returns
/// `value_node_t<Op, C...>{op, {c...}}`.
///
/// Compile cost: a class and an alias, not a function. A builder is instantiated once per node
/// of a model, under a name that spells the node's operands, and so was the function
/// `make_value_node` it went through: one function fewer per node took a 128-layer MLP's TU
/// from 817 to 803 MB of g++'s allocations and its peak from 607 to 600 MB (g++ 12 -O2).
template <class Op, class... C>
struct value_node {
    static_assert(all_true({!is_index_leaf<C>::value...}),
                  "class-index labels can only be the second operand of fg::nll");
    using type = node<Op, C...>;
};
template <class Op, class... C>
using value_node_t = typename value_node<std::remove_cvref_t<Op>, std::remove_cvref_t<C>...>::type;
}  // namespace detail

}  // namespace fusegrad
