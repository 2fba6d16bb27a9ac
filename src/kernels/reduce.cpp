/// @file
/// Reductions: sum and col_sums. Scalar reference (pairwise) and front doors that run the SIMD
/// body of the active instruction set over fixed chunks.
///
/// sum: the input is cut into chunks of kSumChunk elements (boundaries fixed by n alone); each
/// chunk is summed by one thread into its own slot, and the slots are then added pairwise in
/// chunk order, so the result is the same for every thread count and the error grows like
/// log n beyond one chunk.
/// col_sums: columns are split into fixed groups, each summed by one thread: nothing is shared.

#include <algorithm>
#include <cstddef>
#include <vector>

#include "dispatch.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "parallel.hpp"
#include "simd/reduce_decl.hpp"

namespace fusegrad::kernels {

namespace {

/// Below this many elements a plain left-to-right loop is used; above it the range is halved
/// and the halves summed recursively. The error bound is about (kBlock + log2(n / kBlock)) * ε
/// times Σ|x|, and the recursion depth is log2(n / kBlock): no allocation.
constexpr std::size_t kBlock = 128;

/// Elements per chunk of sum (a multiple of every lane count).
constexpr std::size_t kSumChunk = 4096;

/// Columns per chunk of col_sums (a multiple of every lane count).
constexpr std::size_t kColChunk = 256;

/// Σ x[first + i * stride] for i in [0, n). x is only indexed, never offset, so an empty
/// range never forms a pointer past a (possibly null) empty buffer.
template <class T>
T pairwise_sum(std::size_t n, const T* x, std::size_t first, std::size_t stride) {
    if (n <= kBlock) {
        T acc = T(0);
        for (std::size_t i = 0; i < n; ++i) acc += x[first + i * stride];
        return acc;
    }
    const std::size_t half = n / 2;
    return pairwise_sum(half, x, first, stride) +
           pairwise_sum(n - half, x, first + half * stride, stride);
}

template <class T>
void reference_col_sums(std::size_t m, std::size_t n, const T* x, std::size_t ld, T beta, T* y) {
    // Column j is the strided sequence x[j], x[ld + j], ...; each is summed pairwise, so a
    // column gets the same accuracy (and the same result) as sum() over a copy of it. With
    // m == 0 the sum is 0 and y[j] becomes beta * y[j].
    for (std::size_t j = 0; j < n; ++j) {
        const T s = pairwise_sum(m, x, j, ld);
        y[j] = beta == T(0) ? s : s + beta * y[j];
    }
}

}  // namespace

template <class T>
T sum(std::size_t n, const T* x) {
    return detail::dispatch([&](auto arch_tag) -> T {
        using A = decltype(arch_tag);
        if constexpr (detail::is_scalar_v<A>) {
            return pairwise_sum(n, x, 0, 1);
        } else {
            if (n <= kSumChunk) return simd::sum<A, T>(n, x);
            const std::size_t chunks = (n + kSumChunk - 1) / kSumChunk;
            T* const parts = detail::chunk_partials<struct sum_site, T>(chunks);
            // A sum costs about a quarter of an element-operation per element (2^18 floats:
            // 9.4 µs on one thread, 11.4 µs on two when counted as one): threads from 2^19
            // elements per thread.
            const std::size_t threads =
                detail::threads_for(chunks, n / 4, detail::kMinParallelWork);
            detail::for_each_chunk_on(threads, n, kSumChunk,
                                      [&](std::size_t c, std::size_t b, std::size_t e) {
                                          parts[c] = simd::sum<A, T>(e - b, x + b);
                                      });
            return pairwise_sum(chunks, parts, 0, 1);
        }
    });
}

template <class T>
void col_sums_ld(std::size_t m, std::size_t n, const T* x, std::size_t ld, T beta, T* y) {
    detail::dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        detail::for_each_chunk(n, kColChunk, m, [&](std::size_t, std::size_t b, std::size_t e) {
            // x + b is formed only for a non-empty chunk; with m == 0 x is never read.
            const T* xb = m > 0 ? x + b : x;
            if constexpr (detail::is_scalar_v<A>)
                reference_col_sums(m, e - b, xb, ld, beta, y + b);
            else
                simd::col_sums<A, T>(m, e - b, xb, ld, beta, y + b);
        });
    });
}

template <class T>
void col_sums(std::size_t m, std::size_t n, const T* x, T beta, T* y) {
    col_sums_ld<T>(m, n, x, n, beta, y);
}

#define FUSEGRAD_INSTANTIATE_REDUCE(T)                                    \
    template T sum<T>(std::size_t, const T*);                             \
    template void col_sums<T>(std::size_t, std::size_t, const T*, T, T*); \
    template void col_sums_ld<T>(std::size_t, std::size_t, const T*, std::size_t, T, T*);

FUSEGRAD_INSTANTIATE_REDUCE(float)
FUSEGRAD_INSTANTIATE_REDUCE(double)

#undef FUSEGRAD_INSTANTIATE_REDUCE

}  // namespace fusegrad::kernels
