#pragma once
/// @file
/// The body of fg::sigmoid (see fusegrad/kernels/unary.hpp): σ(x) = 1 / (1 + e^{−x}).

#include <cmath>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct sigmoid {
    static constexpr std::string_view name = "sigmoid";
    static constexpr keeps kept = keeps::output();

    // As PyTorch: e^{−x} overflows to +inf for x below about −88 (float), and 1 / (1 + inf) is
    // the right limit, 0; above, 1 / (1 + e^{−x}) loses no relative accuracy.
    template <class V>
    V forward(V x) const {
        using S = generic::scalar_t<V>;
        using std::exp;
        return V(S(1)) / (V(S(1)) + exp(generic::neg(x)));
    }
    // dx = g σ (1 − σ)
    template <class V>
    V backward(V, V y, V g) const {
        using S = generic::scalar_t<V>;
        return g * y * (V(S(1)) - y);
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_UNARY_KERNEL(fusegrad::kernels::body::sigmoid)
