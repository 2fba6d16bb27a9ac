#pragma once
/// @file
/// The body of fg::silu (see fusegrad/kernels/unary.hpp): x σ(x), PyTorch's SiLU (swish).

#include <cmath>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/bodies/sigmoid.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct silu {
    static constexpr std::string_view name = "silu";
    static constexpr keeps kept = keeps::operand(0);

    template <class V>
    V forward(V x) const {
        return x * sigmoid{}.forward(x);
    }
    // dx = g σ (1 + x (1 − σ))
    template <class V>
    V backward(V x, V, V g) const {
        using S = generic::scalar_t<V>;
        const V s = sigmoid{}.forward(x);
        return g * s * (V(S(1)) + x * (V(S(1)) - s));
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_UNARY_KERNEL(fusegrad::kernels::body::silu)
