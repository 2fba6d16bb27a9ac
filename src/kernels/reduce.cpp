/// @file
/// Scalar reference reductions: sum and col_sums, both pairwise so that the rounding error
/// grows like log n rather than n.

#include <cstddef>

#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad::kernels {

namespace {

/// Below this many elements a plain left-to-right loop is used; above it the range is halved
/// and the halves summed recursively. The error bound is about (kBlock + log2(n / kBlock)) * ε
/// times Σ|x|, and the recursion depth is log2(n / kBlock): no allocation.
constexpr std::size_t kBlock = 128;

/// Σ x[first + i * stride] for i in [0, n). x is only indexed, never offset, so an empty
/// range never forms a pointer past a (possibly null) empty buffer.
template <class T>
T pairwise_sum(std::size_t n, const T* x, std::size_t first, std::size_t stride) {
    if (n <= kBlock) {
        T acc = T(0);
        for (std::size_t i = 0; i < n; ++i) {
            acc += x[first + i * stride];
        }
        return acc;
    }
    const std::size_t half = n / 2;
    return pairwise_sum(half, x, first, stride) +
           pairwise_sum(n - half, x, first + half * stride, stride);
}

}  // namespace

template <class T>
T sum(std::size_t n, const T* x) {
    return pairwise_sum(n, x, 0, 1);
}

template <class T>
void col_sums(std::size_t m, std::size_t n, const T* x, T beta, T* y) {
    // Column j is the strided sequence x[j], x[n + j], ...; each is summed pairwise, so a
    // column gets the same accuracy (and the same result) as sum() over a copy of it. With
    // m == 0 the sum is 0 and y[j] becomes beta * y[j].
    for (std::size_t j = 0; j < n; ++j) {
        const T s = pairwise_sum(m, x, j, n);
        y[j] = beta == T(0) ? s : s + beta * y[j];
    }
}

#define FUSEGRAD_INSTANTIATE_REDUCE(T)        \
    template T sum<T>(std::size_t, const T*); \
    template void col_sums<T>(std::size_t, std::size_t, const T*, T, T*);

FUSEGRAD_INSTANTIATE_REDUCE(float)
FUSEGRAD_INSTANTIATE_REDUCE(double)

#undef FUSEGRAD_INSTANTIATE_REDUCE

}  // namespace fusegrad::kernels
