#pragma once
/// @file
/// The body of fg::mul (see fusegrad/kernels/binary.hpp): y = a · b.

#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/binary.hpp"

namespace fusegrad::kernels::body {

struct mul {
    static constexpr std::string_view name = "mul";
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1);

    template <class V>
    V forward(V a, V b) const {
        return a * b;
    }
    // da = g b;  db = g a
    template <class V>
    V grad_a(V, V b, V, V g) const {
        return g * b;
    }
    template <class V>
    V grad_b(V a, V, V, V g) const {
        return g * a;
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_BINARY_KERNEL(fusegrad::kernels::body::mul)
