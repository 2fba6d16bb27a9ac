#pragma once
/// @file
/// The body of fg::sqrt (see fusegrad/kernels/unary.hpp).

#include <cmath>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct sqrt {
    static constexpr std::string_view name = "sqrt";
    static constexpr keeps kept = keeps::output();

    template <class V>
    V forward(V x) const {
        using std::sqrt;
        return sqrt(x);
    }
    // dx = g / (2 y): +inf at x = 0, as PyTorch
    template <class V>
    V backward(V, V y, V g) const {
        using S = generic::scalar_t<V>;
        return g / (V(S(2)) * y);
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_UNARY_KERNEL(fusegrad::kernels::body::sqrt)
