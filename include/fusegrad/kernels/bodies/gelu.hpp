#pragma once
/// @file
/// The body of fg::gelu (see fusegrad/kernels/unary.hpp), as PyTorch's: x Φ(x) with the erf, or its
/// tanh approximation.

#include <cmath>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct gelu {
    static constexpr std::string_view name = "gelu";
    static constexpr keeps kept = keeps::operand(0);
    bool tanh_approximation = false;  // PyTorch's approximate="tanh"

    static constexpr double sqrt1_2 = 0.70710678118654752440;       // 1/√2
    static constexpr double inv_sqrt_2pi = 0.39894228040143267794;  // 1/√(2π)
    static constexpr double sqrt_2_pi = 0.79788456080286535588;     // √(2/π)
    static constexpr double kappa = 0.044715;

    // erfc(−x/√2) = 2Φ(x), its argument held to [−l, l], past which erfc is 2 or 0 to the last
    // bit (l = 11 in float, 28 in double): xsimd 8.1's erfc squares its argument and gave NaN
    // from |x| ≈ 1e154 in double (and −0 for +0 in float), where std::erfc gives 2 or +0. x86's
    // max drops a NaN z, which is harmless: every use multiplies by x, the NaN itself. (A
    // compare-and-select per bound instead cost 15% of the forward, AMD EPYC family 25 model 17.)
    template <class V>
    static V twice_cdf(V x) {
        using S = generic::scalar_t<V>;
        using std::erfc;
        using std::max;
        using std::min;
        constexpr S l = S(sizeof(S) == 4 ? 11.0 : 28.0);
        return erfc(min(max(generic::neg(x) * V(S(sqrt1_2)), V(-l)), V(l)));
    }

    // erf: ½ x (1 + erf(x/√2)), computed as ½ x erfc(−x/√2), which does not cancel for x < 0
    // (PyTorch's 1 + erf loses the digits of Φ(x) there, to 0 below x ≈ −8.3 in double);
    // tanh: ½ x (1 + tanh(√(2/π) (x + κx³)))
    template <class V>
    V forward(V x) const {
        using S = generic::scalar_t<V>;
        using std::tanh;
        const V half(S(0.5)), one(S(1));
        if (tanh_approximation)
            return half * x * (one + tanh(V(S(sqrt_2_pi)) * (x + V(S(kappa)) * x * x * x)));
        return half * x * twice_cdf(x);
    }
    // erf: dx = g (Φ(x) + x φ(x));  tanh: as PyTorch's GeluBackward, with t = tanh(inner):
    // dx = g (½ (1 + t) + ½ x (1 − t²) √(2/π) (1 + 3κx²))
    template <class V>
    V backward(V x, V, V g) const {
        using S = generic::scalar_t<V>;
        using std::exp;
        using std::tanh;
        const V half(S(0.5)), one(S(1));
        if (tanh_approximation) {
            const V x2 = x * x;
            const V t = tanh(V(S(sqrt_2_pi)) * (x + V(S(kappa)) * x2 * x));
            const V inner_d = V(S(sqrt_2_pi)) * (one + V(S(3 * kappa)) * x2);
            return g * (half * (one + t) + half * x * (one - t * t) * inner_d);
        }
        const V cdf = half * twice_cdf(x);
        const V pdf = V(S(inv_sqrt_2pi)) * exp(V(S(-0.5)) * x * x);
        return g * (cdf + x * pdf);
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_UNARY_KERNEL(fusegrad::kernels::body::gelu)
