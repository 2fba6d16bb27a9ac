#pragma once
/// @file
/// The one generic node template: an op applied to operand expressions.

#include <cstddef>
#include <tuple>

namespace fusegrad {

/// `Op` is a policy struct holding the maths (see docs/design.md, "the op-struct contract");
/// the node holds only plumbing. Operands are held by value: leaves are small references to
/// the caller's arrays, so a whole expression is a small value that copies freely and never
/// refers to a temporary.
template <class Op, class... Children>
struct node {
    using op_type = Op;
    static constexpr std::size_t arity = sizeof...(Children);
    static constexpr std::size_t rank = Op::template result_rank<Children::rank...>;

    [[no_unique_address]] Op op;
    std::tuple<Children...> children;
};

}  // namespace fusegrad
