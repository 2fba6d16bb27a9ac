#pragma once
/// @file
/// The body of fg::square (see fusegrad/kernels/unary.hpp): x².

#include <cmath>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct square {
    static constexpr std::string_view name = "square";
    static constexpr keeps kept = keeps::operand(0);

    template <class V>
    V forward(V x) const {
        return x * x;
    }
    // dx = 2 x g
    template <class V>
    V backward(V x, V, V g) const {
        using S = generic::scalar_t<V>;
        return V(S(2)) * x * g;
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_UNARY_KERNEL(fusegrad::kernels::body::square)
