#pragma once
/// @file
/// Internal: loads and stores of one batch at a time with a partial tail, and the guarded exp
/// that every SIMD kernel uses. Included only by the per-arch files (needs the arch's flags).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <immintrin.h>

#include <xsimd/xsimd.hpp>

namespace fusegrad::kernels::simd {

/// Batch helpers for one (arch, value type) pair.
template <class A, class T>
struct lanes {
    using batch = xsimd::batch<T, A>;
    static constexpr std::size_t size = batch::size;

    /// `count` (1..size) elements from p, the other lanes set to `fill`. Never reads past
    /// p + count, so a row end or an unaligned pointer is fine.
    static batch load(const T* p, std::size_t count, T fill) {
        if (count == size) return batch::load_unaligned(p);
        // AVX-512 and AVX2 have masked loads (masked-out lanes are not read, so they cannot
        // fault); elsewhere the lanes go through a stack buffer (a store-forwarding stall).
        if constexpr (std::is_same_v<A, xsimd::avx512f>) {
            const auto k = static_cast<__mmask16>((1u << count) - 1u);
            if constexpr (std::is_same_v<T, float>)
                return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), k, p);
            else
                return _mm512_mask_loadu_pd(_mm512_set1_pd(fill), static_cast<__mmask8>(k), p);
        } else if constexpr (std::is_same_v<A, xsimd::fma3<xsimd::avx2>>) {
            const auto c = static_cast<int>(count);
            if constexpr (std::is_same_v<T, float>) {
                const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(c),
                                                     _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
                return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m),
                                        _mm256_castsi256_ps(m));
            } else {
                const __m256i m =
                    _mm256_cmpgt_epi64(_mm256_set1_epi64x(c), _mm256_setr_epi64x(0, 1, 2, 3));
                return _mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, m),
                                        _mm256_castsi256_pd(m));
            }
        } else {
            alignas(64) T buf[size];
            for (std::size_t i = 0; i < size; ++i) buf[i] = i < count ? p[i] : fill;
            return batch::load_aligned(buf);
        }
    }

    /// Writes the first `count` lanes of b to p.
    static void store(T* p, std::size_t count, const batch& b) {
        if (count == size) {
            b.store_unaligned(p);
            return;
        }
        if constexpr (std::is_same_v<A, xsimd::avx512f>) {
            const auto k = static_cast<__mmask16>((1u << count) - 1u);
            if constexpr (std::is_same_v<T, float>)
                _mm512_mask_storeu_ps(p, k, b);
            else
                _mm512_mask_storeu_pd(p, static_cast<__mmask8>(k), b);
        } else if constexpr (std::is_same_v<A, xsimd::fma3<xsimd::avx2>>) {
            const auto c = static_cast<int>(count);
            if constexpr (std::is_same_v<T, float>)
                _mm256_maskstore_ps(p,
                                    _mm256_cmpgt_epi32(_mm256_set1_epi32(c),
                                                       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                                    b);
            else
                _mm256_maskstore_pd(
                    p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(c), _mm256_setr_epi64x(0, 1, 2, 3)),
                    b);
        } else {
            alignas(64) T buf[size];
            b.store_aligned(buf);
            for (std::size_t i = 0; i < count; ++i) p[i] = buf[i];
        }
    }

    /// Writes b to p, which must be aligned to the batch (sizeof(batch) bytes), with a
    /// non-temporal store: the line goes to memory without first being read into the cache.
    /// Weakly ordered: the writer calls stream_fence() before anything else may read p.
    static void stream(T* p, const batch& b) {
        if constexpr (std::is_same_v<A, xsimd::avx512f>) {
            if constexpr (std::is_same_v<T, float>)
                _mm512_stream_ps(p, b);
            else
                _mm512_stream_pd(p, b);
        } else if constexpr (std::is_same_v<A, xsimd::fma3<xsimd::avx2>>) {
            if constexpr (std::is_same_v<T, float>)
                _mm256_stream_ps(p, b);
            else
                _mm256_stream_pd(p, b);
        } else if constexpr (std::is_same_v<A, xsimd::sse4_2>) {
            if constexpr (std::is_same_v<T, float>)
                _mm_stream_ps(p, b);
            else
                _mm_stream_pd(p, b);
        } else {
            b.store_aligned(p);
        }
    }
    /// Whether a run of rows of n elements starting at p can be written with stream(): p on a
    /// batch boundary and every row a whole number of batches.
    static bool streamable(const T* p, std::size_t n) {
        return n % size == 0 && reinterpret_cast<std::uintptr_t>(p) % sizeof(batch) == 0;
    }

    /// The largest lane (a NaN lane may or may not win; callers propagate NaN separately).
    static T max_lane(const batch& b) {
        alignas(64) T buf[size];
        b.store_aligned(buf);
        T m = buf[0];
        for (std::size_t i = 1; i < size; ++i) m = buf[i] > m ? buf[i] : m;
        return m;
    }
};

/// Orders the non-temporal stores (lanes::stream) before every later store: a kernel that
/// streamed calls it before it returns (before another thread or the caller may read).
inline void stream_fence() {
    _mm_sfence();
}

/// Below this, xsimd::exp leaves its accurate range (float: results under FLT_MIN, where
/// xsimd 8.1 is erratic between -87.68 and -87.33; double: under DBL_MIN).
template <class T>
inline constexpr T exp_low = sizeof(T) == 4 ? T(-87.3) : T(-708.0);
/// Above this, xsimd::exp overflows early (float: +inf from 88.376, std::exp is finite to 88.72).
template <class T>
inline constexpr T exp_high = sizeof(T) == 4 ? T(88.3) : T(709.0);

/// e^x for x <= 0 in float: the Cephes expf scheme (x = n ln2 + r, |r| <= ln2 / 2, a degree-6
/// polynomial for e^r, 2^n put straight into the exponent bits). Within 1 ulp of the correctly
/// rounded e^x on [exp_low, 0] (checked exhaustively over every float there), and a little faster
/// than xsimd::exp, which also handles overflow, subnormals and specials that a non-positive
/// argument cannot reach (the caller maps x < exp_low to 0).
template <class A>
xsimd::batch<float, A> exp_nonpositive_core(const xsimd::batch<float, A>& x) {
    using B = xsimd::batch<float, A>;
    const B n = xsimd::nearbyint(x * B(1.44269504088896341f));
    B r = xsimd::fma(n, B(-0.693359375f), x);  // ln 2 in two parts: n · hi is exact
    r = xsimd::fma(n, B(2.12194440e-4f), r);
    B p = B(1.9875691500e-4f);
    p = xsimd::fma(p, r, B(1.3981999507e-3f));
    p = xsimd::fma(p, r, B(8.3334519073e-3f));
    p = xsimd::fma(p, r, B(4.1665795894e-2f));
    p = xsimd::fma(p, r, B(1.6666665459e-1f));
    p = xsimd::fma(p, r, B(5.0000001201e-1f));
    const B e = xsimd::fma(p, r * r, r) + B(1.0f);
    // 2^n for n in [-126, 0]: (n + 127) << 23 is a normal float's bit pattern.
    const auto bits = (xsimd::to_int(n) + xsimd::batch<std::int32_t, A>(127)) << 23;
    return e * xsimd::bitwise_cast<B>(bits);
}

/// The same for double: xsimd::exp (≤ 1 ulp here).
template <class A>
xsimd::batch<double, A> exp_nonpositive_core(const xsimd::batch<double, A>& x) {
    return xsimd::exp(x);
}

/// e^x for x <= 0 (softmax arguments after the max is subtracted): ≤ 2 ulp on [exp_low, 0],
/// exactly 0 below exp_low (an absolute error under FLT_MIN / DBL_MIN) and at -inf; NaN stays
/// NaN (every step propagates it and NaN < exp_low is false).
template <class A, class T>
xsimd::batch<T, A> exp_nonpositive(const xsimd::batch<T, A>& x) {
    using B = xsimd::batch<T, A>;
    return xsimd::select(x < B(exp_low<T>), B(T(0)), exp_nonpositive_core<A>(x));
}

}  // namespace fusegrad::kernels::simd
