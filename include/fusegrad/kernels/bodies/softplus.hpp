#pragma once
/// @file
/// The body of fg::softplus (see fusegrad/kernels/unary.hpp), as PyTorch's: log(1 + e^{βx}) / β,
/// and x itself where βx > threshold.

#include <cmath>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/bodies/sigmoid.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct softplus {
    static constexpr std::string_view name = "softplus";
    static constexpr keeps kept = keeps::operand(0);
    double beta = 1.0;
    double threshold = 20.0;

    template <class V>
    V forward(V x) const {
        using S = generic::scalar_t<V>;
        using generic::select;
        using std::exp;
        using std::log1p;
        const V bx = V(S(beta)) * x;
        return select(bx > V(S(threshold)), x, log1p(exp(bx)) / V(S(beta)));
    }
    // dx = g σ(βx), and g where βx > threshold
    template <class V>
    V backward(V x, V, V g) const {
        using S = generic::scalar_t<V>;
        using generic::select;
        const V bx = V(S(beta)) * x;
        return select(bx > V(S(threshold)), g, g * sigmoid{}.forward(bx));
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_UNARY_KERNEL(fusegrad::kernels::body::softplus)
