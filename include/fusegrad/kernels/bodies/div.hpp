#pragma once
/// @file
/// The body of fg::div (see fusegrad/kernels/binary.hpp): y = a / b.

#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/binary.hpp"
#include "fusegrad/kernels/unary.hpp"  // generic::neg

namespace fusegrad::kernels::body {

struct div {
    static constexpr std::string_view name = "div";
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1);

    // IEEE division, as PyTorch: x / 0 is ±inf (0 / 0 NaN).
    template <class V>
    V forward(V a, V b) const {
        return a / b;
    }
    // da = g / b;  db = −g a / b², computed as −(g (a / b)) / b: b² is not formed, so it cannot
    // overflow or underflow where the result itself is finite.
    template <class V>
    V grad_a(V, V b, V, V g) const {
        return g / b;
    }
    template <class V>
    V grad_b(V a, V b, V, V g) const {
        return generic::neg(g * (a / b)) / b;
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_BINARY_KERNEL(fusegrad::kernels::body::div)
