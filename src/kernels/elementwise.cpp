/// @file
/// Elementwise kernels over n contiguous elements (and m×n row broadcasts): the scalar
/// reference loops and the front doors that run the SIMD body of the active instruction set
/// (src/kernels/simd/elementwise.hpp) over fixed chunks, on several threads for large n.
///
/// Every kernel with a `beta` writes `result + beta * old`, and reads `old` only when
/// beta != 0. Where aliasing is allowed it is exact (same pointer): each y[i] is written only
/// after the inputs at index i have been read.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "dispatch.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "parallel.hpp"
#include "simd/elementwise_decl.hpp"

namespace fusegrad::kernels {

namespace {
namespace reference {

template <class T>
void fill(std::size_t n, T value, T* y) {
    for (std::size_t i = 0; i < n; ++i) y[i] = value;
}

template <class T>
void axpby(std::size_t n, T alpha, const T* x, T beta, T* y) {
    for (std::size_t i = 0; i < n; ++i) {
        const T r = alpha * x[i];
        y[i] = beta == T(0) ? r : r + beta * y[i];
    }
}

template <class T>
void add(std::size_t n, const T* a, const T* b, T* y) {
    for (std::size_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

template <class T>
void add_scalar(std::size_t n, const T* a, T s, T* y) {
    for (std::size_t i = 0; i < n; ++i) y[i] = a[i] + s;
}

template <class T>
void add_row(std::size_t m, std::size_t n, const T* x, const T* row, T* y) {
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) y[i * n + j] = x[i * n + j] + row[j];
}

template <class T>
void broadcast_row(std::size_t m, std::size_t n, const T* row, T* y) {
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) y[i * n + j] = row[j];
}

template <class T>
void exp(std::size_t n, const T* x, T* y) {
    for (std::size_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

template <class T>
void log(std::size_t n, const T* x, T* y) {
    for (std::size_t i = 0; i < n; ++i) y[i] = std::log(x[i]);
}

template <class T>
void relu(std::size_t n, const T* x, T* y) {
    for (std::size_t i = 0; i < n; ++i) y[i] = std::max(x[i], T(0));
}

template <class T>
void mul(std::size_t n, const T* a, const T* b, T beta, T* y) {
    for (std::size_t i = 0; i < n; ++i) {
        const T r = a[i] * b[i];
        y[i] = beta == T(0) ? r : r + beta * y[i];
    }
}

template <class T>
void div(std::size_t n, const T* a, const T* b, T beta, T* y) {
    for (std::size_t i = 0; i < n; ++i) {
        const T r = a[i] / b[i];
        y[i] = beta == T(0) ? r : r + beta * y[i];
    }
}

template <class T>
void relu_backward(std::size_t n, const T* x, const T* g, T beta, T* y) {
    for (std::size_t i = 0; i < n; ++i) {
        const T r = x[i] <= T(0) ? T(0) : g[i];  // NaN x passes g (PyTorch's threshold_backward)
        y[i] = beta == T(0) ? r : r + beta * y[i];
    }
}

/// `first`: the index of x[0] in the whole array (the mask is keyed by it).
template <class T>
void dropout(std::size_t n, std::size_t first, const T* x, std::uint64_t key,
             std::uint64_t threshold, T scale, T beta, T* y) {
    for (std::size_t i = 0; i < n; ++i) {
        // x · 0 where dropped, as PyTorch's x · mask · scale: a NaN or ±inf x gives NaN there
        const T r = x[i] * ((splitmix64(key + (first + i)) >> 11) >= threshold ? scale : T(0));
        y[i] = beta == T(0) ? r : r + beta * y[i];
    }
}

}  // namespace reference
}  // namespace

// The elementwise kernels: chunks of kChunkElements elements (parallel.hpp).
#define FUSEGRAD_ELEMENTWISE_RUN(n, work, name, ...) \
    FUSEGRAD_RUN_CHUNKS(n, detail::kChunkElements, work, name, __VA_ARGS__)

template <class T>
void fill(std::size_t n, T value, T* y) {
    FUSEGRAD_ELEMENTWISE_RUN(n, 1, fill, len, value, y + b);
}

template <class T>
void axpby(std::size_t n, T alpha, const T* x, T beta, T* y) {
    FUSEGRAD_ELEMENTWISE_RUN(n, 1, axpby, len, alpha, x + b, beta, y + b);
}

template <class T>
void add(std::size_t n, const T* a, const T* b_, T* y) {
    FUSEGRAD_ELEMENTWISE_RUN(n, 1, add, len, a + b, b_ + b, y + b);
}

template <class T>
void add_scalar(std::size_t n, const T* a, T s, T* y) {
    FUSEGRAD_ELEMENTWISE_RUN(n, 1, add_scalar, len, a + b, s, y + b);
}

template <class T>
void exp(std::size_t n, const T* x, T* y) {
    FUSEGRAD_ELEMENTWISE_RUN(n, 8, exp, len, x + b, y + b);
}

template <class T>
void log(std::size_t n, const T* x, T* y) {
    FUSEGRAD_ELEMENTWISE_RUN(n, 8, log, len, x + b, y + b);
}

template <class T>
void relu(std::size_t n, const T* x, T* y) {
    FUSEGRAD_ELEMENTWISE_RUN(n, 1, relu, len, x + b, y + b);
}

template <class T>
void mul(std::size_t n, const T* a, const T* b_, T beta, T* y) {
    FUSEGRAD_ELEMENTWISE_RUN(n, 1, mul, len, a + b, b_ + b, beta, y + b);
}

template <class T>
void div(std::size_t n, const T* a, const T* b_, T beta, T* y) {
    FUSEGRAD_ELEMENTWISE_RUN(n, 2, div, len, a + b, b_ + b, beta, y + b);
}

template <class T>
void relu_backward(std::size_t n, const T* x, const T* g, T beta, T* y) {
    FUSEGRAD_ELEMENTWISE_RUN(n, 1, relu_backward, len, x + b, g + b, beta, y + b);
}

template <class T>
void dropout(std::size_t n, const T* x, std::uint64_t key, std::uint64_t threshold, T scale, T beta,
             T* y) {
    FUSEGRAD_ELEMENTWISE_RUN(n, 8, dropout, len, b, x + b, key, threshold, scale, beta, y + b);
}

#undef FUSEGRAD_ELEMENTWISE_RUN

// Row broadcasts: chunks of whole rows (`len` rows each).
#define FUSEGRAD_ROWS_RUN(m, n, name, ...) \
    FUSEGRAD_RUN_CHUNKS(m, detail::rows_per_chunk(n), n, name, __VA_ARGS__)

template <class T>
void add_row(std::size_t m, std::size_t n, const T* x, const T* row, T* y) {
    if (n == 0) return;
    FUSEGRAD_ROWS_RUN(m, n, add_row, len, n, x + b * n, row, y + b * n);
}

template <class T>
void broadcast_row(std::size_t m, std::size_t n, const T* row, T* y) {
    if (n == 0) return;
    FUSEGRAD_ROWS_RUN(m, n, broadcast_row, len, n, row, y + b * n);
}

#undef FUSEGRAD_ROWS_RUN

#define FUSEGRAD_INSTANTIATE_ELEMENTWISE(T)                                     \
    template void fill<T>(std::size_t, T, T*);                                  \
    template void axpby<T>(std::size_t, T, const T*, T, T*);                    \
    template void add<T>(std::size_t, const T*, const T*, T*);                  \
    template void add_scalar<T>(std::size_t, const T*, T, T*);                  \
    template void add_row<T>(std::size_t, std::size_t, const T*, const T*, T*); \
    template void broadcast_row<T>(std::size_t, std::size_t, const T*, T*);     \
    template void exp<T>(std::size_t, const T*, T*);                            \
    template void log<T>(std::size_t, const T*, T*);                            \
    template void relu<T>(std::size_t, const T*, T*);                           \
    template void mul<T>(std::size_t, const T*, const T*, T, T*);               \
    template void div<T>(std::size_t, const T*, const T*, T, T*);               \
    template void relu_backward<T>(std::size_t, const T*, const T*, T, T*);     \
    template void dropout<T>(std::size_t, const T*, std::uint64_t, std::uint64_t, T, T, T*);

FUSEGRAD_INSTANTIATE_ELEMENTWISE(float)
FUSEGRAD_INSTANTIATE_ELEMENTWISE(double)

#undef FUSEGRAD_INSTANTIATE_ELEMENTWISE

}  // namespace fusegrad::kernels
