#pragma once
/// @file
/// What every elementwise unary op shares: its result has the operand's shape.

#include <cstddef>

#include "fusegrad/core/shape.hpp"
#include "fusegrad/core/type_list.hpp"

namespace fusegrad::op {

/// Base of the elementwise unary ops (exp, log, relu, neg, scale).
struct elementwise_unary {
    template <std::size_t R>
    static constexpr std::size_t result_rank = R;
    shape infer(const shape& x) const { return x; }
};

}  // namespace fusegrad::op

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using elementwise = fusegrad::detail::type_list<>;
}  // namespace fusegrad::op::header_ops
