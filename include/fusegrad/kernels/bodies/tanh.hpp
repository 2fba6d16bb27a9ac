#pragma once
/// @file
/// The body of fg::tanh (see fusegrad/kernels/unary.hpp).

#include <cmath>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct tanh {
    static constexpr std::string_view name = "tanh";
    static constexpr keeps kept = keeps::output();

    template <class V>
    V forward(V x) const {
        using std::tanh;
        return tanh(x);
    }
    // dx = g (1 − y²)
    template <class V>
    V backward(V, V y, V g) const {
        using S = generic::scalar_t<V>;
        return g * (V(S(1)) - y * y);
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_UNARY_KERNEL(fusegrad::kernels::body::tanh)
