#pragma once
/// @file
/// The body of fg::log_sigmoid (see fusegrad/kernels/unary.hpp): log σ(x) = −softplus(−x),
/// computed as min(x, 0) − log1p(e^{−|x|}): finite for every finite x, where log(sigmoid(x))
/// is −inf once σ(x) underflows (x below about −88 in float).

#include <cmath>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/bodies/sigmoid.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct log_sigmoid {
    static constexpr std::string_view name = "log_sigmoid";
    static constexpr keeps kept = keeps::operand(0);

    template <class V>
    V forward(V x) const {
        using S = generic::scalar_t<V>;
        using generic::select;
        using std::abs;
        using std::exp;
        using std::log1p;
        const V zero = V(S(0));
        return select(x < zero, x, zero) - log1p(exp(generic::neg(abs(x))));
    }
    // dx = g σ(−x)
    template <class V>
    V backward(V x, V, V g) const {
        return g * sigmoid{}.forward(generic::neg(x));
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_UNARY_KERNEL(fusegrad::kernels::body::log_sigmoid)
