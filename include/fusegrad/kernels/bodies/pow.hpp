#pragma once
/// @file
/// The body of fg::pow (see fusegrad/kernels/unary.hpp): x^p for a scalar exponent p, as PyTorch's
/// pow(tensor, scalar).

#include <cmath>
#include <limits>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct pow {
    static constexpr std::string_view name = "pow";
    static constexpr keeps kept = keeps::operand(0);
    double exponent = 1.0;

    // x^p; a negative x with a non-integer p is NaN. At x = ±0 (where xsimd's pow gives 0) the
    // result is settled here, as IEEE pow and PyTorch.
    template <class V>
    static V power(V x, double p) {
        using S = generic::scalar_t<V>;
        using generic::select;
        using std::pow;
        if (p == 0.0) return V(S(1));
        if (p == 1.0) return x;
        if (p == 2.0) return x * x;
        if (p == 3.0) return x * x * x;
        // As PyTorch, which computes these exponents so (also for the p − 1 of a gradient): exact
        // rounding for ½, and the sign of a −0 base kept (1 / −0 = −inf).
        // A NaN exponent gives NaN, except 1^NaN = 1 (IEEE pow and PyTorch; xsimd 8.1's pow gave
        // NaN at 1, 0 at −inf and inf at ±0).
        if (std::isnan(p))
            return select(x == V(S(1)), V(S(1)), V(std::numeric_limits<S>::quiet_NaN()));
        using std::sqrt;
        if (p == 0.5) return sqrt(x);
        if (p == -0.5) return V(S(1)) / sqrt(x);
        if (p == -1.0) return V(S(1)) / x;
        if (p == -2.0) return V(S(1)) / (x * x);
        // At ±0 and −inf, as IEEE pow: at ±0, 0 for p > 0 and inf for p < 0; at −inf, inf for
        // p > 0 and 0 for p < 0; with the sign of the base for an odd integer p. (xsimd 8.1's pow
        // gives 0 at ±0 and NaN at −inf.)
        using std::abs;
        using std::copysign;
        constexpr S inf = std::numeric_limits<S>::infinity();
        // The exponent as pow() sees it: in float a double beyond FLT_MAX is inf, and an odd
        // double may round to an even float. ±inf counts as an integer (x^±inf depends on |x|).
        const double ps = double(S(p));
        const bool integer = std::floor(ps) == ps;
        const bool odd = integer && std::fmod(std::abs(ps), 2.0) == 1.0;
        // An integer exponent: |x|^p, negated for an odd p and a negative x. xsimd 8.1's pow
        // gave the wrong sign for huge even exponents: (−1)^(1e39) and (−2)^(1e39) were −1 and
        // −inf in double.
        const V base = integer ? V(abs(x)) : x;
        const V at_zero_magnitude(p > 0 ? S(0) : inf);
        const V at_zero = odd ? copysign(at_zero_magnitude, x) : at_zero_magnitude;
        const V at_ninf(odd ? (p > 0 ? -inf : S(-0.0)) : (p > 0 ? inf : S(0)));
        // A subnormal base is scaled into the normal range first, |x| 2^k, and the result by
        // 2^{−kp}: xsimd 8.1's pow is wrong there (1e-310^0.3 gave 5.5e-98, not 1e-93). Only a
        // batch that holds one pays for it.
        using generic::any;
        const auto subnormal = abs(x) < V(std::numeric_limits<S>::min()) && x != V(S(0));
        V r;
        if (any(subnormal)) {
            constexpr double k = sizeof(S) == 4 ? 24.0 : 54.0;
            const V scaled = select(subnormal, base * V(S(std::ldexp(1.0, int(k)))), base);
            r = pow(scaled, V(S(p)));
            // with the exponent pow() saw, S(p): in float the double p would be 3.5 ulp off
            const double f = std::pow(2.0, -k * double(S(p)));  // > 1 only for p < 0: r >= 1
            r = select(subnormal, r * V(f > double(std::numeric_limits<S>::max()) ? inf : S(f)), r);
        } else {
            r = pow(base, V(S(p)));
        }
        if (odd) r = select(x < V(S(0)), generic::neg(r), r);
        // (±1)^(±inf) = 1, as IEEE pow and PyTorch (xsimd 8.1's pow gives NaN).
        if (std::isinf(ps)) r = select(abs(x) == V(S(1)), V(S(1)), r);
        return select(x == V(S(0)), at_zero, select(x == V(-inf), at_ninf, r));
    }

    template <class V>
    V forward(V x) const {
        return power(x, exponent);
    }
    // dx = g p x^{p−1}; 0 for p = 0 (PyTorch masks it so)
    template <class V>
    V backward(V x, V, V g) const {
        using S = generic::scalar_t<V>;
        if (exponent == 0.0) return V(S(0));
        return g * V(S(exponent)) * power(x, exponent - 1.0);
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_UNARY_KERNEL(fusegrad::kernels::body::pow)
