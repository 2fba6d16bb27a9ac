#pragma once
/// @file
/// The body of fg::binary_cross_entropy's elementwise term (see fusegrad/kernels/binary.hpp),
/// as PyTorch's: −[t log p + (1 − t) log(1 − p)] with each log clamped at −100, so p = 0 or 1
/// gives a finite loss.

#include <cmath>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/binary.hpp"
#include "fusegrad/kernels/unary.hpp"

namespace fusegrad::kernels::body {

struct binary_cross_entropy {
    static constexpr std::string_view name = "binary_cross_entropy";
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1);

    template <class V>
    V forward(V p, V t) const {
        using S = generic::scalar_t<V>;
        using generic::select;
        using std::log;
        using std::log1p;
        const V lo = V(S(-100));
        // log1p(±0) = ±0, which xsimd 8.1's log1p does not keep (the loss at p = 0, t = −0)
        const V q = generic::neg(p);
        const V log_p = log(p), log_q = select(q == V(S(0)), q, log1p(q));
        return (t - V(S(1))) * select(log_q < lo, lo, log_q) - t * select(log_p < lo, lo, log_p);
    }
    // dp = g (p − t) / max(p (1 − p), ε), PyTorch's guard against p = 0 or 1, with its ε: the
    // float nearest 1e-12, in double too (1e-12f = 9.99999996e-13)
    template <class V>
    V grad_a(V p, V t, V, V g) const {
        using S = generic::scalar_t<V>;
        using generic::select;
        const V d = (V(S(1)) - p) * p, eps = V(S(1e-12f));
        return g * (p - t) / select(d < eps, eps, d);
    }
    // dt = g (log(1 − p) − log p) = −g logit(p), unclamped as in PyTorch
    template <class V>
    V grad_b(V p, V, V, V g) const {
        using std::log;
        using std::log1p;
        return g * (log1p(generic::neg(p)) - log(p));
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_BINARY_KERNEL(fusegrad::kernels::body::binary_cross_entropy)
