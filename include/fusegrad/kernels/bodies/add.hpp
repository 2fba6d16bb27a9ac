#pragma once
/// @file
/// The body of fg::add (see fusegrad/kernels/binary.hpp): y = a + b. op::add runs the
/// elementwise kernels it always had for the layouts they cover (equal shapes, b a scalar or a
/// row of a) and this body through the binary front door for every other broadcast.

#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/binary.hpp"

namespace fusegrad::kernels::body {

struct add {
    static constexpr std::string_view name = "add";
    static constexpr keeps kept = keeps::nothing();

    template <class V>
    V forward(V a, V b) const {
        return a + b;
    }
    // da = g;  db = g
    template <class V>
    V grad_a(V, V, V, V g) const {
        return g;
    }
    template <class V>
    V grad_b(V, V, V, V g) const {
        return g;
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_BINARY_KERNEL(fusegrad::kernels::body::add)
