#pragma once
/// @file
/// What every elementwise unary op shares: its result has the operand's shape.

#include <cstddef>

#include "fusegrad/core/shape.hpp"

namespace fusegrad::op {

/// Base of the elementwise unary ops (exp, log, relu, neg, scale).
struct elementwise_unary {
    template <std::size_t R>
    static constexpr std::size_t result_rank = R;
    shape infer(const shape& x) const { return x; }
};

}  // namespace fusegrad::op
