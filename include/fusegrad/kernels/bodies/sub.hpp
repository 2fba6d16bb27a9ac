#pragma once
/// @file
/// The body of fg::sub (see fusegrad/kernels/binary.hpp): y = a − b.

#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/binary.hpp"
#include "fusegrad/kernels/unary.hpp"  // generic::neg

namespace fusegrad::kernels::body {

struct sub {
    static constexpr std::string_view name = "sub";
    static constexpr keeps kept = keeps::nothing();

    template <class V>
    V forward(V a, V b) const {
        return a - b;
    }
    // da = g;  db = −g
    template <class V>
    V grad_a(V, V, V, V g) const {
        return g;
    }
    template <class V>
    V grad_b(V, V, V, V g) const {
        return generic::neg(g);
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_BINARY_KERNEL(fusegrad::kernels::body::sub)
