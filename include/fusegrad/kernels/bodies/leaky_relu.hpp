#pragma once
/// @file
/// The body of fg::leaky_relu (see fusegrad/kernels/unary.hpp): x for x > 0, slope · x otherwise.

#include <cmath>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct leaky_relu {
    static constexpr std::string_view name = "leaky_relu";
    static constexpr keeps kept = keeps::operand(0);
    double negative_slope = 0.01;

    template <class V>
    V forward(V x) const {
        using S = generic::scalar_t<V>;
        using generic::select;
        return select(x > V(S(0)), x, V(S(negative_slope)) * x);
    }
    // dx = g for x > 0, slope · g otherwise (at 0 too, as PyTorch)
    template <class V>
    V backward(V x, V, V g) const {
        using S = generic::scalar_t<V>;
        using generic::select;
        return select(x > V(S(0)), g, V(S(negative_slope)) * g);
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_UNARY_KERNEL(fusegrad::kernels::body::leaky_relu)
