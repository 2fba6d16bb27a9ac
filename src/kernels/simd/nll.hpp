#pragma once
/// @file
/// Internal: the nll / nll_logp family written once against xsimd::batch<T, A>. Included only
/// by src/kernels/arch/nll.*.cpp.
///
/// Where the vector part is:
/// - nll_index_rows: one element per row is gathered (scalar loads: the offsets i·n + y_i do not
///   fit the 32-bit indices of a hardware gather for large m·n), a batch of rows at a time, and
///   the logs are taken as one batch log.
/// - the index backwards: the m×n gradient is all zeros (or beta·old) but one element per row;
///   that fill is the vector part, the label element is written after it in scalar code.
/// - the probability-target kernels are full row loops: batch log, select, multiply, sum.
/// - nll_logp_index_rows (one load and a negation per row) has no vector part and stays in the
///   front door's scalar loop on every set.
///
/// Numerics against the scalar reference: the log is xsimd::log on finite normal positives and
/// std::log on every other lane (0 → -inf, negatives → NaN, subnormals, +inf, NaN), ≤ 2 ulp from
/// std::log; everything else is the reference's own operation order except the row sums of the
/// probability-target forwards (lane-wise, then hadd) and a possible FMA in r + beta · old.

#include <cmath>
#include <cstddef>
#include <limits>

#include "batch_io.hpp"
#include "nll_decl.hpp"

namespace fusegrad::kernels::simd {

namespace detail {

/// log x lane by lane: the batch log where it is accurate (finite normal positives), std::log
/// on the other lanes so that 0, negatives, subnormals, +inf and NaN give std::log's results.
template <class A, class T>
xsimd::batch<T, A> nll_log(const xsimd::batch<T, A>& x) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const auto bad =
        (x < B(std::numeric_limits<T>::min())) | (x > B(std::numeric_limits<T>::max())) | (x != x);
    const B r = xsimd::log(x);
    if (!xsimd::any(bad)) return r;
    alignas(64) T xs[L::size];
    alignas(64) T rs[L::size];
    x.store_aligned(xs);
    r.store_aligned(rs);
    for (std::size_t k = 0; k < L::size; ++k) {
        const T v = xs[k];
        if (!(v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max()))
            rs[k] = std::log(v);
    }
    return B::load_aligned(rs);
}

/// row[0..n) = 0 + beta · row (beta != 0), or 0 (beta == 0, row not read). 0 + beta · old, not
/// beta · old, as the reference: a -0 product becomes +0.
template <class A, class T>
void zero_or_scale_row(std::size_t n, T beta, T* row) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B zero(T(0));
    std::size_t j = 0;
    if (beta == T(0)) {
        for (; j + L::size <= n; j += L::size) zero.store_unaligned(row + j);
        if (j < n) L::store(row + j, n - j, zero);
        return;
    }
    const B vb(beta);
    for (; j + L::size <= n; j += L::size)
        (zero + vb * B::load_unaligned(row + j)).store_unaligned(row + j);
    if (j < n) L::store(row + j, n - j, zero + vb * L::load(row + j, n - j, T(0)));
}

/// d[j] = f(j, c)[k] + beta · d[j] over a row of n, a batch at a time: f(j, c) returns the
/// batch of results for d[j .. j + c) (c = L::size but in the last, padded batch). d is not read
/// when beta == 0. Full batches go straight through load/store_unaligned (f is inlined with
/// c = L::size), the tail through the masked lanes<A, T>::load/store.
template <class A, class T, class F>
void row_write(std::size_t n, T* d, T beta, F f) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    std::size_t j = 0;
    if (beta == T(0)) {
        for (; j + L::size <= n; j += L::size) f(j, L::size).store_unaligned(d + j);
        if (j < n) L::store(d + j, n - j, f(j, n - j));
        return;
    }
    const B vb(beta);
    for (; j + L::size <= n; j += L::size)
        (f(j, L::size) + vb * B::load_unaligned(d + j)).store_unaligned(d + j);
    if (j < n) L::store(d + j, n - j, f(j, n - j) + vb * L::load(d + j, n - j, T(0)));
}

/// Σ over a row of n of the batches f(j, c) (c = L::size but in the last, padded batch),
/// lane-wise, then across the lanes.
template <class A, class T, class F>
T row_sum(std::size_t n, F f) {
    using L = lanes<A, T>;
    typename L::batch acc(T(0));
    std::size_t j = 0;
    for (; j + L::size <= n; j += L::size) acc += f(j, L::size);
    if (j < n) acc += f(j, n - j);
    return xsimd::hadd(acc);
}

}  // namespace detail

template <class A, class T, class I>
void nll_index_rows(std::size_t m, std::size_t n, const T* p, const I* y, T* out) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    alignas(64) T buf[L::size];
    for (std::size_t i = 0; i < m; i += L::size) {
        const std::size_t c = m - i < L::size ? m - i : L::size;
        for (std::size_t k = 0; k < L::size; ++k)
            buf[k] = k < c ? p[(i + k) * n + static_cast<std::size_t>(y[i + k])] : T(1);
        // -0 - x, not -x: xsimd 8.1's avx512f negation is 0 - x, which turns -log 1 into +0.
        L::store(out + i, c, B(T(-0.0)) - detail::nll_log<A, T>(B::load_aligned(buf)));
    }
}

template <class A, class T, class I>
void nll_index_rows_backward(std::size_t m, std::size_t n, const T* p, const I* y, const T* g,
                             T beta, T* dp) {
    for (std::size_t i = 0; i < m; ++i) {
        const auto label = static_cast<std::size_t>(y[i]);
        T* dr = dp + i * n;
        const T old = beta == T(0) ? T(0) : dr[label];
        detail::zero_or_scale_row<A, T>(n, beta, dr);
        // p is read only at the label: elsewhere the result is 0 whatever p holds.
        const T r = -g[i] / p[i * n + label];
        dr[label] = beta == T(0) ? r : r + beta * old;
    }
}

template <class A, class T>
void nll_prob_rows(std::size_t m, std::size_t n, const T* p, const T* y, T* out) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B zero(T(0));
    for (std::size_t i = 0; i < m; ++i) {
        const T* pr = p + i * n;
        const T* yr = y + i * n;
        const T s = detail::row_sum<A, T>(n, [&](std::size_t j, std::size_t c) {
            const B yv = L::load(yr + j, c, T(0));  // padding: y = 0, p = 1 adds nothing
            const auto live = yv != zero;
            // One-hot-like targets: a batch with no target mass needs no log.
            if (!xsimd::any(live)) return zero;
            // 0 · log 0 = 0: the select drops the NaN of 0 · -inf.
            return xsimd::select(live, yv * detail::nll_log<A, T>(L::load(pr + j, c, T(1))), zero);
        });
        out[i] = T(0) - s;  // +0 for an empty row, as the reference
    }
}

template <class A, class T>
void nll_prob_rows_backward(std::size_t m, std::size_t n, const T* p, const T* y, const T* g,
                            T beta_p, T* dp, T beta_y, T* dy) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B zero(T(0));
    for (std::size_t i = 0; i < m; ++i) {
        const T* pr = p + i * n;
        const T* yr = y + i * n;
        const B ng(-g[i]);
        if (dp != nullptr)
            detail::row_write<A, T>(n, dp + i * n, beta_p, [&](std::size_t j, std::size_t c) {
                const B yv = L::load(yr + j, c, T(0));  // padding: y = 0, p = 1
                // (-g · y) / p, the reference's order; 0 where y == 0 whatever p is.
                return xsimd::select(yv == zero, zero, (ng * yv) / L::load(pr + j, c, T(1)));
            });
        if (dy != nullptr)
            detail::row_write<A, T>(n, dy + i * n, beta_y, [&](std::size_t j, std::size_t c) {
                return ng * detail::nll_log<A, T>(L::load(pr + j, c, T(1)));
            });
    }
}

template <class A, class T, class I>
void nll_logp_index_rows_backward(std::size_t m, std::size_t n, const I* y, const T* g, T beta,
                                  T* dlogp) {
    for (std::size_t i = 0; i < m; ++i) {
        const auto label = static_cast<std::size_t>(y[i]);
        T* dr = dlogp + i * n;
        const T old = beta == T(0) ? T(0) : dr[label];
        detail::zero_or_scale_row<A, T>(n, beta, dr);
        dr[label] = beta == T(0) ? -g[i] : -g[i] + beta * old;
    }
}

template <class A, class T>
void nll_logp_prob_rows(std::size_t m, std::size_t n, const T* logp, const T* y, T* out) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B zero(T(0));
    for (std::size_t i = 0; i < m; ++i) {
        const T* lr = logp + i * n;
        const T* yr = y + i * n;
        const T s = detail::row_sum<A, T>(n, [&](std::size_t j, std::size_t c) {
            const B yv = L::load(yr + j, c, T(0));
            // 0 · (-inf) = 0: a class with no target mass adds nothing.
            return xsimd::select(yv != zero, yv * L::load(lr + j, c, T(0)), zero);
        });
        out[i] = T(0) - s;  // +0 for an empty row, as the reference
    }
}

template <class A, class T>
void nll_logp_prob_rows_backward(std::size_t m, std::size_t n, const T* logp, const T* y,
                                 const T* g, T beta_p, T* dlogp, T beta_y, T* dy) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    for (std::size_t i = 0; i < m; ++i) {
        const T* lr = logp + i * n;
        const T* yr = y + i * n;
        const B ng(-g[i]);
        if (dlogp != nullptr)
            detail::row_write<A, T>(n, dlogp + i * n, beta_p, [&](std::size_t j, std::size_t c) {
                return ng * L::load(yr + j, c, T(0));
            });
        if (dy != nullptr)
            detail::row_write<A, T>(n, dy + i * n, beta_y, [&](std::size_t j, std::size_t c) {
                return ng * L::load(lr + j, c, T(0));
            });
    }
}

}  // namespace fusegrad::kernels::simd

#define FUSEGRAD_INSTANTIATE_NLL_INDEX(A, T, I)                                              \
    template void fusegrad::kernels::simd::nll_index_rows<A, T, I>(std::size_t, std::size_t, \
                                                                   const T*, const I*, T*);  \
    template void fusegrad::kernels::simd::nll_index_rows_backward<A, T, I>(                 \
        std::size_t, std::size_t, const T*, const I*, const T*, T, T*);                      \
    template void fusegrad::kernels::simd::nll_logp_index_rows_backward<A, T, I>(            \
        std::size_t, std::size_t, const I*, const T*, T, T*);
#define FUSEGRAD_INSTANTIATE_NLL_T(A, T)                                                           \
    FUSEGRAD_INSTANTIATE_NLL_INDEX(A, T, std::int32_t)                                             \
    FUSEGRAD_INSTANTIATE_NLL_INDEX(A, T, std::int64_t)                                             \
    template void fusegrad::kernels::simd::nll_prob_rows<A, T>(std::size_t, std::size_t, const T*, \
                                                               const T*, T*);                      \
    template void fusegrad::kernels::simd::nll_prob_rows_backward<A, T>(                           \
        std::size_t, std::size_t, const T*, const T*, const T*, T, T*, T, T*);                     \
    template void fusegrad::kernels::simd::nll_logp_prob_rows<A, T>(std::size_t, std::size_t,      \
                                                                    const T*, const T*, T*);       \
    template void fusegrad::kernels::simd::nll_logp_prob_rows_backward<A, T>(                      \
        std::size_t, std::size_t, const T*, const T*, const T*, T, T*, T, T*);
#define FUSEGRAD_INSTANTIATE_NLL(A)      \
    FUSEGRAD_INSTANTIATE_NLL_T(A, float) \
    FUSEGRAD_INSTANTIATE_NLL_T(A, double)
