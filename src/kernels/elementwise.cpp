/// @file
/// Scalar reference elementwise kernels over n contiguous elements (and m×n row broadcasts).
///
/// Every kernel with a `beta` writes `result + beta * old`, and reads `old` only when
/// beta != 0. Where aliasing is allowed it is exact (same pointer): each y[i] is written only
/// after the inputs at index i have been read.

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad::kernels {

template <class T>
void fill(std::size_t n, T value, T* y) {
    for (std::size_t i = 0; i < n; ++i) {
        y[i] = value;
    }
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
    for (std::size_t i = 0; i < n; ++i) {
        y[i] = a[i] + b[i];
    }
}

template <class T>
void add_scalar(std::size_t n, const T* a, T s, T* y) {
    for (std::size_t i = 0; i < n; ++i) {
        y[i] = a[i] + s;
    }
}

template <class T>
void add_row(std::size_t m, std::size_t n, const T* x, const T* row, T* y) {
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            y[i * n + j] = x[i * n + j] + row[j];
        }
    }
}

template <class T>
void broadcast_row(std::size_t m, std::size_t n, const T* row, T* y) {
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            y[i * n + j] = row[j];
        }
    }
}

template <class T>
void exp(std::size_t n, const T* x, T* y) {
    for (std::size_t i = 0; i < n; ++i) {
        y[i] = std::exp(x[i]);
    }
}

template <class T>
void log(std::size_t n, const T* x, T* y) {
    for (std::size_t i = 0; i < n; ++i) {
        y[i] = std::log(x[i]);
    }
}

template <class T>
void relu(std::size_t n, const T* x, T* y) {
    for (std::size_t i = 0; i < n; ++i) {
        y[i] = std::max(x[i], T(0));
    }
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
        const T r = x[i] > T(0) ? g[i] : T(0);
        y[i] = beta == T(0) ? r : r + beta * y[i];
    }
}

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
    template void relu_backward<T>(std::size_t, const T*, const T*, T, T*);

FUSEGRAD_INSTANTIATE_ELEMENTWISE(float)
FUSEGRAD_INSTANTIATE_ELEMENTWISE(double)

#undef FUSEGRAD_INSTANTIATE_ELEMENTWISE

}  // namespace fusegrad::kernels
