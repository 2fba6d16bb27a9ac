#pragma once
/// @file
/// Internal: sum and column sums written once against xsimd::batch<T, A>. Included only by
/// src/kernels/arch/reduce.*.cpp.

#include <cstddef>

#include "batch_io.hpp"
#include "reduce_decl.hpp"

namespace fusegrad::kernels::simd {

template <class A, class T>
T sum(std::size_t n, const T* x) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    constexpr std::size_t W = L::size;
    // Four independent accumulators hide the add latency; each lane then sums n / (4 W)
    // elements (128 for float at a 4096-element chunk with AVX2), the same order of error as
    // the reference's 128-element leaves.
    B a0(T(0)), a1(T(0)), a2(T(0)), a3(T(0));
    std::size_t j = 0;
    for (; j + 4 * W <= n; j += 4 * W) {
        a0 += B::load_unaligned(x + j);
        a1 += B::load_unaligned(x + j + W);
        a2 += B::load_unaligned(x + j + 2 * W);
        a3 += B::load_unaligned(x + j + 3 * W);
    }
    for (; j < n; j += W) a0 += L::load(x + j, n - j < W ? n - j : W, T(0));
    return xsimd::hadd((a0 + a1) + (a2 + a3));
}

template <class A, class T>
void col_sums(std::size_t m, std::size_t n, const T* x, std::size_t ld, T beta, T* y) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    constexpr std::size_t W = L::size;
    // Rows are summed in blocks of kRows into a block sum that is then added to the total, so
    // the error grows like kRows + m / kRows rather than m.
    constexpr std::size_t kRows = 128;
    for (std::size_t j = 0; j < n; j += W) {
        const std::size_t c = n - j < W ? n - j : W;
        B total(T(0));
        for (std::size_t i0 = 0; i0 < m; i0 += kRows) {
            const std::size_t i1 = m - i0 < kRows ? m : i0 + kRows;
            B block(T(0));
            for (std::size_t i = i0; i < i1; ++i) block += L::load(x + i * ld + j, c, T(0));
            total += block;
        }
        if (beta != T(0)) total += B(beta) * L::load(y + j, c, T(0));
        L::store(y + j, c, total);
    }
}

}  // namespace fusegrad::kernels::simd

#define FUSEGRAD_INSTANTIATE_REDUCE_T(A, T)                                                   \
    template T fusegrad::kernels::simd::sum<A, T>(std::size_t, const T*);                     \
    template void fusegrad::kernels::simd::col_sums<A, T>(std::size_t, std::size_t, const T*, \
                                                          std::size_t, T, T*);
#define FUSEGRAD_INSTANTIATE_REDUCE(A)      \
    FUSEGRAD_INSTANTIATE_REDUCE_T(A, float) \
    FUSEGRAD_INSTANTIATE_REDUCE_T(A, double)
