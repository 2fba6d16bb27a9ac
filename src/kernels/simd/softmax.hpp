#pragma once
/// @file
/// Internal: the row softmax family written once against xsimd::batch<T, A>. Included only by
/// src/kernels/arch/softmax.*.cpp.
///
/// Same numerics as the reference: the row max is subtracted before exp (arguments <= 0, the
/// range where exp_nonpositive is ≤ 2 ulp), -inf entries give exactly 0, a NaN anywhere makes
/// the row NaN (through exp(NaN - max) in the denominator), an all -inf row gives NaN.

#include <cmath>
#include <cstddef>
#include <limits>

#include "batch_io.hpp"
#include "row_ops.hpp"
#include "softmax_decl.hpp"

namespace fusegrad::kernels::simd {

template <class A, class T>
void softmax_rows(std::size_t m, std::size_t n, const T* x, T* y) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    constexpr T ninf = -std::numeric_limits<T>::infinity();
    if (n == 0) return;
    for (std::size_t i = 0; i < m; ++i) {
        const T* xr = x + i * n;
        T* yr = y + i * n;
        const B mx(detail::row_max<A, T>(n, xr));
        // Store e^{x - max} and sum it, then divide. y may alias x: each batch of x is read
        // before the same batch of y is written, and x is not read again.
        B s(T(0));
        std::size_t j = 0;
        for (; j + L::size <= n; j += L::size) {
            const B e = exp_nonpositive<A, T>(B::load_unaligned(xr + j) - mx);
            e.store_unaligned(yr + j);
            s += e;
        }
        if (j < n) {  // padded with -inf: e^{-inf} = 0 adds nothing
            const B e = exp_nonpositive<A, T>(L::load(xr + j, n - j, ninf) - mx);
            L::store(yr + j, n - j, e);
            s += e;
        }
        detail::row_divide<A, T>(n, yr, xsimd::hadd(s));
    }
}

template <class A, class T>
void log_softmax_rows(std::size_t m, std::size_t n, const T* x, T* y) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    constexpr T ninf = -std::numeric_limits<T>::infinity();
    if (n == 0) return;
    for (std::size_t i = 0; i < m; ++i) {
        const T* xr = x + i * n;
        T* yr = y + i * n;
        const B mx(detail::row_max<A, T>(n, xr));
        const T denom = detail::row_sum<A, T>(
            n, xr, ninf, [&](const B& v) { return exp_nonpositive<A, T>(v - mx); });
        const B log_denom(std::log(denom));
        std::size_t j = 0;
        for (; j + L::size <= n; j += L::size)
            ((B::load_unaligned(xr + j) - mx) - log_denom).store_unaligned(yr + j);
        if (j < n) L::store(yr + j, n - j, (L::load(xr + j, n - j, T(0)) - mx) - log_denom);
    }
}

template <class A, class T>
void softmax_rows_backward(std::size_t m, std::size_t n, const T* s, const T* g, T beta, T* dx) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B vb(beta);
    for (std::size_t i = 0; i < m; ++i) {
        const T* sr = s + i * n;
        const T* gr = g + i * n;
        T* dr = dx + i * n;
        const B dot(detail::row_dot<A, T>(n, gr, sr));
        for (std::size_t j = 0; j < n; j += L::size) {
            const std::size_t c = n - j < L::size ? n - j : L::size;
            B r = L::load(sr + j, c, T(0)) * (L::load(gr + j, c, T(0)) - dot);
            if (beta != T(0)) r += vb * L::load(dr + j, c, T(0));
            L::store(dr + j, c, r);
        }
    }
}

template <class A, class T>
void log_softmax_rows_backward(std::size_t m, std::size_t n, const T* ls, const T* g, T beta,
                               T* dx) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B vb(beta);
    for (std::size_t i = 0; i < m; ++i) {
        const T* lr = ls + i * n;
        const T* gr = g + i * n;
        T* dr = dx + i * n;
        const B g_sum(detail::row_sum<A, T>(n, gr, T(0), [](const B& v) { return v; }));
        for (std::size_t j = 0; j < n; j += L::size) {
            const std::size_t c = n - j < L::size ? n - j : L::size;
            // log-probabilities are <= 0: exp_nonpositive's range (e^{-inf} = 0 exactly).
            B r =
                L::load(gr + j, c, T(0)) - exp_nonpositive<A, T>(L::load(lr + j, c, T(0))) * g_sum;
            if (beta != T(0)) r += vb * L::load(dr + j, c, T(0));
            L::store(dr + j, c, r);
        }
    }
}

}  // namespace fusegrad::kernels::simd

#define FUSEGRAD_INSTANTIATE_SOFTMAX_T(A, T)                                                       \
    template void fusegrad::kernels::simd::softmax_rows<A, T>(std::size_t, std::size_t, const T*,  \
                                                              T*);                                 \
    template void fusegrad::kernels::simd::log_softmax_rows<A, T>(std::size_t, std::size_t,        \
                                                                  const T*, T*);                   \
    template void fusegrad::kernels::simd::softmax_rows_backward<A, T>(std::size_t, std::size_t,   \
                                                                       const T*, const T*, T, T*); \
    template void fusegrad::kernels::simd::log_softmax_rows_backward<A, T>(                        \
        std::size_t, std::size_t, const T*, const T*, T, T*);

#define FUSEGRAD_INSTANTIATE_SOFTMAX(A)      \
    FUSEGRAD_INSTANTIATE_SOFTMAX_T(A, float) \
    FUSEGRAD_INSTANTIATE_SOFTMAX_T(A, double)
