#pragma once
/// @file
/// The body of fg::binary_cross_entropy_with_logits (see fusegrad/kernels/binary.hpp): binary
/// cross-entropy of σ(s) against t, from the logit s, never forming σ(s) or its logs:
/// (1 − t) s + softplus(−s), softplus(−s) = max(−s, 0) + log1p(e^{−|s|}). Finite for every finite
/// s; its derivative in s is σ(s) − t, as softmax_xent's is softmax(s) − y.

#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/binary.hpp"
#include "fusegrad/kernels/bodies/sigmoid.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct sigmoid_bce {
    static constexpr std::string_view name = "sigmoid_bce";
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1);

    // (1 − t) s − log σ(s) = (s > 0 ? (1 − t) s : −t s) + log(1 + e^{−|s|}): nothing cancels for
    // s < 0 and t = 0 ((1 − t) s − log σ(s) computed as written lost 7 digits of 4.14e-8 at
    // s = −17 in double), and s = +inf gives +inf for t < 1, as PyTorch.
    template <class V>
    V forward(V s, V t) const {
        using S = generic::scalar_t<V>;
        using generic::select;
        using std::abs;
        using std::exp;
        using std::log1p;
        return select(s > V(S(0)), (V(S(1)) - t) * s, generic::neg(t * s)) +
               log1p(exp(generic::neg(abs(s))));
    }
    // ds = g (σ(s) − t)
    template <class V>
    V grad_a(V s, V t, V, V g) const {
        return g * (sigmoid{}.forward(s) - t);
    }
    // dt = −g s
    template <class V>
    V grad_b(V s, V, V, V g) const {
        return generic::neg(g * s);
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_BINARY_KERNEL(fusegrad::kernels::body::sigmoid_bce)
