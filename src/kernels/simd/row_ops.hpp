#pragma once
/// @file
/// Internal: reductions and maps over one contiguous row, written once against
/// xsimd::batch<T, A>, shared by the row kernel families (softmax, norm). Included only by the
/// per-arch files (needs the arch's flags).

#include <cstddef>
#include <limits>

#include "batch_io.hpp"

namespace fusegrad::kernels::simd {

namespace detail {

template <class A, class T>
T row_max(std::size_t n, const T* x) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    constexpr T ninf = -std::numeric_limits<T>::infinity();
    B m0(ninf), m1(ninf);
    std::size_t j = 0;
    for (; j + 2 * L::size <= n; j += 2 * L::size) {
        m0 = xsimd::max(m0, B::load_unaligned(x + j));
        m1 = xsimd::max(m1, B::load_unaligned(x + j + L::size));
    }
    for (; j < n; j += L::size)
        m0 = xsimd::max(m0, L::load(x + j, n - j < L::size ? n - j : L::size, ninf));
    return L::max_lane(xsimd::max(m0, m1));
}

/// The largest entry of a row (n >= 1), or NaN when the row has a NaN anywhere (xsimd::isnan:
/// its `!=` is the ordered compare, false for a NaN).
template <class A, class T>
T row_max_or_nan(std::size_t n, const T* x) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    using M = typename B::batch_bool_type;
    constexpr T ninf = -std::numeric_limits<T>::infinity();
    B m0(ninf), m1(ninf);
    M nan0(false), nan1(false);
    std::size_t j = 0;
    for (; j + 2 * L::size <= n; j += 2 * L::size) {
        const B a = B::load_unaligned(x + j), b = B::load_unaligned(x + j + L::size);
        m0 = xsimd::max(m0, a);
        m1 = xsimd::max(m1, b);
        nan0 = nan0 | xsimd::isnan(a);
        nan1 = nan1 | xsimd::isnan(b);
    }
    for (; j < n; j += L::size) {
        const B a = L::load(x + j, n - j < L::size ? n - j : L::size, ninf);
        m0 = xsimd::max(m0, a);
        nan0 = nan0 | xsimd::isnan(a);
    }
    if (xsimd::any(nan0 | nan1)) return std::numeric_limits<T>::quiet_NaN();
    return L::max_lane(xsimd::max(m0, m1));
}

/// Σ_j f(j-th batch) over a row, the tail padded with `fill` (f(fill) must be 0).
template <class A, class T, class F>
T row_sum(std::size_t n, const T* x, T fill, F f) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    B s0(T(0)), s1(T(0));
    std::size_t j = 0;
    for (; j + 2 * L::size <= n; j += 2 * L::size) {
        s0 += f(B::load_unaligned(x + j));
        s1 += f(B::load_unaligned(x + j + L::size));
    }
    for (; j < n; j += L::size) s0 += f(L::load(x + j, n - j < L::size ? n - j : L::size, fill));
    return xsimd::hadd(s0 + s1);
}

/// Σ_j a_j b_j over a row.
template <class A, class T>
T row_dot(std::size_t n, const T* a, const T* b) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    B s0(T(0)), s1(T(0));
    std::size_t j = 0;
    for (; j + 2 * L::size <= n; j += 2 * L::size) {
        s0 = xsimd::fma(B::load_unaligned(a + j), B::load_unaligned(b + j), s0);
        s1 = xsimd::fma(B::load_unaligned(a + j + L::size), B::load_unaligned(b + j + L::size), s1);
    }
    for (; j < n; j += L::size) {
        const std::size_t c = n - j < L::size ? n - j : L::size;
        s0 = xsimd::fma(L::load(a + j, c, T(0)), L::load(b + j, c, T(0)), s0);
    }
    return xsimd::hadd(s0 + s1);
}

/// y = x / d over a row (y may alias x).
template <class A, class T>
void row_divide(std::size_t n, T* y, T d) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B vd(d);
    std::size_t j = 0;
    for (; j + L::size <= n; j += L::size) (B::load_unaligned(y + j) / vd).store_unaligned(y + j);
    for (; j < n; ++j) y[j] /= d;
}

}  // namespace detail

}  // namespace fusegrad::kernels::simd
