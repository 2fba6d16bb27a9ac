#pragma once
/// @file
/// The body of fg::abs (see fusegrad/kernels/unary.hpp): |x|.

#include <cmath>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct abs {
    static constexpr std::string_view name = "abs";
    static constexpr keeps kept = keeps::operand(0);

    template <class V>
    V forward(V x) const {
        using std::abs;
        return abs(x);
    }
    // dx = g · sign(x), sign(0) = sign(NaN) = 0 (as PyTorch: no gradient at the kink), as a
    // product, so that the zeros carry g's sign as PyTorch's do
    template <class V>
    V backward(V x, V, V g) const {
        using S = generic::scalar_t<V>;
        using generic::select;
        const V zero(S(0));
        return g * select(x > zero, V(S(1)), select(x < zero, V(S(-1)), zero));
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_UNARY_KERNEL(fusegrad::kernels::body::abs)
