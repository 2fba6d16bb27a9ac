#pragma once
/// @file
/// Internal: the elementwise kernels written once against xsimd::batch<T, A>. Every element,
/// the partial last batch included, goes through the same batch arithmetic, so a result never
/// depends on where a chunk or a row starts. Included only by src/kernels/arch/elementwise.*.cpp.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "batch_io.hpp"
#include "elementwise_decl.hpp"

namespace fusegrad::kernels::simd {

namespace detail {

/// y = f(x) batch by batch over n elements (y may alias x: each batch is read before written).
template <class A, class T, class F>
void map1(std::size_t n, const T* x, T* y, F f) {
    using L = lanes<A, T>;
    std::size_t j = 0;
    for (; j + L::size <= n; j += L::size)
        f(L::batch::load_unaligned(x + j)).store_unaligned(y + j);
    if (j < n) L::store(y + j, n - j, f(L::load(x + j, n - j, T(0))));
}

/// y = f(a, b) + beta · y; y is not read when beta == 0.
template <class A, class T, class F>
void map2_beta(std::size_t n, const T* a, const T* b, T beta, T* y, F f) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    std::size_t j = 0;
    if (beta == T(0)) {
        for (; j + L::size <= n; j += L::size)
            f(B::load_unaligned(a + j), B::load_unaligned(b + j)).store_unaligned(y + j);
        if (j < n)
            L::store(y + j, n - j, f(L::load(a + j, n - j, T(1)), L::load(b + j, n - j, T(1))));
        return;
    }
    const B vb(beta);
    for (; j + L::size <= n; j += L::size)
        (f(B::load_unaligned(a + j), B::load_unaligned(b + j)) + vb * B::load_unaligned(y + j))
            .store_unaligned(y + j);
    if (j < n) {
        const std::size_t c = n - j;
        L::store(
            y + j, c,
            f(L::load(a + j, c, T(1)), L::load(b + j, c, T(1))) + vb * L::load(y + j, c, T(0)));
    }
}

/// Recomputes with `scalar` the lanes of r where `bad` holds (the rare out-of-range inputs).
template <class A, class T, class Bool, class F>
xsimd::batch<T, A> fix_lanes(const xsimd::batch<T, A>& x, xsimd::batch<T, A> r, const Bool& bad,
                             F scalar) {
    using L = lanes<A, T>;
    if (!xsimd::any(bad)) return r;
    alignas(64) T xs[L::size];
    alignas(64) T rs[L::size];
    x.store_aligned(xs);
    r.store_aligned(rs);
    const auto mask = xsimd::select(bad, typename L::batch(T(1)), typename L::batch(T(0)));
    alignas(64) T ms[L::size];
    mask.store_aligned(ms);
    for (std::size_t i = 0; i < L::size; ++i)
        if (ms[i] != T(0)) rs[i] = scalar(xs[i]);
    return L::batch::load_aligned(rs);
}

}  // namespace detail

template <class A, class T>
void fill(std::size_t n, T value, T* y) {
    using L = lanes<A, T>;
    const typename L::batch v(value);
    std::size_t j = 0;
    for (; j + L::size <= n; j += L::size) v.store_unaligned(y + j);
    for (; j < n; ++j) y[j] = value;
}

template <class A, class T>
void axpby(std::size_t n, T alpha, const T* x, T beta, T* y) {
    using B = xsimd::batch<T, A>;
    const B va(alpha);
    // x is passed twice: map2_beta's second operand is unused here.
    detail::map2_beta<A, T>(n, x, x, beta, y, [&](const B& a, const B&) { return va * a; });
}

template <class A, class T>
void add(std::size_t n, const T* a, const T* b, T* y) {
    using B = xsimd::batch<T, A>;
    detail::map2_beta<A, T>(n, a, b, T(0), y, [](const B& u, const B& v) { return u + v; });
}

template <class A, class T>
void add_scalar(std::size_t n, const T* a, T s, T* y) {
    using B = xsimd::batch<T, A>;
    const B vs(s);
    detail::map1<A, T>(n, a, y, [&](const B& u) { return u + vs; });
}

template <class A, class T>
void add_row(std::size_t m, std::size_t n, const T* x, const T* row, T* y) {
    for (std::size_t i = 0; i < m; ++i) add<A, T>(n, x + i * n, row, y + i * n);
}

template <class A, class T>
void broadcast_row(std::size_t m, std::size_t n, const T* row, T* y) {
    using L = lanes<A, T>;
    for (std::size_t i = 0; i < m; ++i) {
        T* yr = y + i * n;
        std::size_t j = 0;
        for (; j + L::size <= n; j += L::size)
            L::batch::load_unaligned(row + j).store_unaligned(yr + j);
        for (; j < n; ++j) yr[j] = row[j];
    }
}

template <class A, class T>
void exp(std::size_t n, const T* x, T* y) {
    using B = xsimd::batch<T, A>;
    // xsimd::exp is ≤ 2 ulp inside [exp_low, exp_high]; outside (results near 0 or near the
    // overflow edge, ±inf, NaN) the lane is redone with std::exp, so the map is accurate on
    // the whole line and equals std::exp at the edges.
    detail::map1<A, T>(n, x, y, [](const B& v) {
        const auto bad = (v < B(exp_low<T>)) | (v > B(exp_high<T>)) | (v != v);
        return detail::fix_lanes<A, T>(v, xsimd::exp(v), bad, [](T s) { return std::exp(s); });
    });
}

template <class A, class T>
void log(std::size_t n, const T* x, T* y) {
    using B = xsimd::batch<T, A>;
    // The batch log is used on finite normal positives; 0, negatives, subnormals, ±inf and NaN
    // go to std::log (log 0 = -inf, log of a negative = NaN, exactly as the reference).
    detail::map1<A, T>(n, x, y, [](const B& v) {
        const auto bad = (v < B(std::numeric_limits<T>::min())) |
                         (v > B(std::numeric_limits<T>::max())) | (v != v);
        return detail::fix_lanes<A, T>(v, xsimd::log(v), bad, [](T s) { return std::log(s); });
    });
}

template <class A, class T>
void relu(std::size_t n, const T* x, T* y) {
    using B = xsimd::batch<T, A>;
    // select, not max: NaN stays NaN and -0 stays -0, as std::max(x, 0) in the reference.
    detail::map1<A, T>(n, x, y, [](const B& v) { return xsimd::select(v < B(T(0)), B(T(0)), v); });
}

template <class A, class T>
void mul(std::size_t n, const T* a, const T* b, T beta, T* y) {
    using B = xsimd::batch<T, A>;
    detail::map2_beta<A, T>(n, a, b, beta, y, [](const B& u, const B& v) { return u * v; });
}

template <class A, class T>
void div(std::size_t n, const T* a, const T* b, T beta, T* y) {
    using B = xsimd::batch<T, A>;
    detail::map2_beta<A, T>(n, a, b, beta, y, [](const B& u, const B& v) { return u / v; });
}

template <class A, class T>
void relu_backward(std::size_t n, const T* x, const T* g, T beta, T* y) {
    using B = xsimd::batch<T, A>;
    detail::map2_beta<A, T>(n, x, g, beta, y, [](const B& u, const B& v) {
        return xsimd::select(u <= B(T(0)), B(T(0)), v);  // NaN x passes g, as PyTorch
    });
}

// The hash runs on 64-bit integer batches (xsimd; AVX-512DQ multiplies 8 lanes at once, the
// other sets fall back to xsimd's emulation) and fills a batch of multipliers (scale or 0); the
// arithmetic on x is then the reference's, lane for lane: bitwise the same result.
template <class A, class T>
void dropout(std::size_t n, std::size_t first, const T* x, std::uint64_t key,
             std::uint64_t threshold, T scale, T beta, T* y) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    using U = xsimd::batch<std::uint64_t, A>;
    constexpr std::size_t UL = U::size;
    alignas(64) std::uint64_t iota_lanes[UL];
    for (std::size_t q = 0; q < UL; ++q) iota_lanes[q] = q;
    const U iota = U::load_aligned(iota_lanes), vt(threshold);
    const B vs(scale), vb(beta), zero(T(0));
    alignas(64) T keep[L::size];
    alignas(64) std::uint64_t h[UL];
    for (std::size_t j = 0; j < n; j += L::size) {
        const std::size_t c = n - j < L::size ? n - j : L::size;
        for (std::size_t k = 0; k < L::size; k += UL) {
            U z = U(key + (first + j + k)) + iota;
            z += U(0x9e3779b97f4a7c15ull);  // splitmix64, as kernels::splitmix64
            z = (z ^ (z >> 30)) * U(0xbf58476d1ce4e5b9ull);
            z = (z ^ (z >> 27)) * U(0x94d049bb133111ebull);
            z = z ^ (z >> 31);
            // 0 or 1 per lane, compared in the integer batch: no branch per element.
            xsimd::select((z >> 11) >= vt, U(1), U(0)).store_aligned(h);
            for (std::size_t q = 0; q < UL; ++q) keep[k + q] = static_cast<T>(h[q]);
        }
        // x · 0 where dropped, as PyTorch (a NaN or ±inf x gives NaN there)
        B r = L::load(x + j, c, T(0)) * xsimd::select(B::load_aligned(keep) != zero, vs, zero);
        if (beta != T(0)) r += vb * L::load(y + j, c, T(0));
        L::store(y + j, c, r);
    }
}

}  // namespace fusegrad::kernels::simd

/// Explicitly instantiates every elementwise body for arch A, float and double.
#define FUSEGRAD_INSTANTIATE_ELEMENTWISE_T(A, T)                                                   \
    template void fusegrad::kernels::simd::fill<A, T>(std::size_t, T, T*);                         \
    template void fusegrad::kernels::simd::axpby<A, T>(std::size_t, T, const T*, T, T*);           \
    template void fusegrad::kernels::simd::add<A, T>(std::size_t, const T*, const T*, T*);         \
    template void fusegrad::kernels::simd::add_scalar<A, T>(std::size_t, const T*, T, T*);         \
    template void fusegrad::kernels::simd::add_row<A, T>(std::size_t, std::size_t, const T*,       \
                                                         const T*, T*);                            \
    template void fusegrad::kernels::simd::broadcast_row<A, T>(std::size_t, std::size_t, const T*, \
                                                               T*);                                \
    template void fusegrad::kernels::simd::exp<A, T>(std::size_t, const T*, T*);                   \
    template void fusegrad::kernels::simd::log<A, T>(std::size_t, const T*, T*);                   \
    template void fusegrad::kernels::simd::relu<A, T>(std::size_t, const T*, T*);                  \
    template void fusegrad::kernels::simd::mul<A, T>(std::size_t, const T*, const T*, T, T*);      \
    template void fusegrad::kernels::simd::div<A, T>(std::size_t, const T*, const T*, T, T*);      \
    template void fusegrad::kernels::simd::relu_backward<A, T>(std::size_t, const T*, const T*, T, \
                                                               T*);                                \
    template void fusegrad::kernels::simd::dropout<A, T>(std::size_t, std::size_t, const T*,       \
                                                         std::uint64_t, std::uint64_t, T, T, T*);
#define FUSEGRAD_INSTANTIATE_ELEMENTWISE(A)      \
    FUSEGRAD_INSTANTIATE_ELEMENTWISE_T(A, float) \
    FUSEGRAD_INSTANTIATE_ELEMENTWISE_T(A, double)
