/// @file
/// Scalar reference softmax family, row-wise over an m×n contiguous matrix.
///
/// The forward kernels subtract the row maximum before exponentiating, so every exponent is
/// <= 0 and nothing overflows (rows of ±1e4 are fine). A -inf entry then gives exp(-inf) = 0,
/// so a row with at least one finite entry has a finite, non-zero denominator. If the maximum
/// itself is -inf (an all -inf row), x - max is NaN and so is the whole row, as documented.
/// A NaN anywhere in a row makes the whole row NaN. Sums are accumulated in T.

#include <cmath>
#include <cstddef>

#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/kernels/trace.hpp"

namespace fusegrad::kernels {

namespace {

/// The largest of x[0..n), n >= 1. A NaN in x[0] is returned as is; a later NaN is skipped
/// here but still turns the row into NaN through exp(NaN - max).
template <class T>
T row_max(std::size_t n, const T* x) {
    T mx = x[0];
    for (std::size_t j = 1; j < n; ++j) {
        if (x[j] > mx) {
            mx = x[j];
        }
    }
    return mx;
}

}  // namespace

template <class T>
void softmax_rows(std::size_t m, std::size_t n, const T* x, T* y) {
    detail::trace_call("softmax_rows");
    if (n == 0) {
        return;
    }
    for (std::size_t i = 0; i < m; ++i) {
        const T* xr = x + i * n;
        T* yr = y + i * n;
        const T mx = row_max(n, xr);
        T denom = T(0);
        for (std::size_t j = 0; j < n; ++j) {
            const T e = std::exp(xr[j] - mx);  // xr[j] is read before yr[j] is written
            yr[j] = e;
            denom += e;
        }
        for (std::size_t j = 0; j < n; ++j) {
            yr[j] /= denom;
        }
    }
}

template <class T>
void log_softmax_rows(std::size_t m, std::size_t n, const T* x, T* y) {
    detail::trace_call("log_softmax_rows");
    if (n == 0) {
        return;
    }
    for (std::size_t i = 0; i < m; ++i) {
        const T* xr = x + i * n;
        T* yr = y + i * n;
        const T mx = row_max(n, xr);
        T denom = T(0);
        for (std::size_t j = 0; j < n; ++j) {
            denom += std::exp(xr[j] - mx);
        }
        const T log_denom = std::log(denom);
        for (std::size_t j = 0; j < n; ++j) {
            yr[j] = (xr[j] - mx) - log_denom;
        }
    }
}

template <class T>
void softmax_rows_backward(std::size_t m, std::size_t n, const T* s, const T* g, T beta, T* dx) {
    detail::trace_call("softmax_rows_backward");
    for (std::size_t i = 0; i < m; ++i) {
        const T* sr = s + i * n;
        const T* gr = g + i * n;
        T* dr = dx + i * n;
        T dot = T(0);
        for (std::size_t j = 0; j < n; ++j) {
            dot += gr[j] * sr[j];
        }
        for (std::size_t j = 0; j < n; ++j) {
            const T r = sr[j] * (gr[j] - dot);
            dr[j] = beta == T(0) ? r : r + beta * dr[j];
        }
    }
}

template <class T>
void log_softmax_rows_backward(std::size_t m, std::size_t n, const T* ls, const T* g, T beta,
                               T* dx) {
    detail::trace_call("log_softmax_rows_backward");
    for (std::size_t i = 0; i < m; ++i) {
        const T* lr = ls + i * n;
        const T* gr = g + i * n;
        T* dr = dx + i * n;
        T g_sum = T(0);
        for (std::size_t j = 0; j < n; ++j) {
            g_sum += gr[j];
        }
        for (std::size_t j = 0; j < n; ++j) {
            const T r = gr[j] - std::exp(lr[j]) * g_sum;
            dr[j] = beta == T(0) ? r : r + beta * dr[j];
        }
    }
}

#define FUSEGRAD_INSTANTIATE_SOFTMAX(T)                                                          \
    template void softmax_rows<T>(std::size_t, std::size_t, const T*, T*);                       \
    template void log_softmax_rows<T>(std::size_t, std::size_t, const T*, T*);                   \
    template void softmax_rows_backward<T>(std::size_t, std::size_t, const T*, const T*, T, T*); \
    template void log_softmax_rows_backward<T>(std::size_t, std::size_t, const T*, const T*, T, T*);

FUSEGRAD_INSTANTIATE_SOFTMAX(float)
FUSEGRAD_INSTANTIATE_SOFTMAX(double)

#undef FUSEGRAD_INSTANTIATE_SOFTMAX

}  // namespace fusegrad::kernels
