/// @file
/// The softmax family, row-wise over an m×n contiguous matrix: the scalar reference loops and
/// the front doors running the SIMD bodies (simd/softmax.hpp) over fixed chunks of rows.
///
/// The forward kernels subtract the row maximum before exponentiating, so every exponent is
/// <= 0 and nothing overflows (rows of ±1e4 are fine). A -inf entry then gives exp(-inf) = 0,
/// so a row with at least one finite entry has a finite, non-zero denominator. If the maximum
/// itself is -inf (an all -inf row), x - max is NaN and so is the whole row, as documented.
/// A NaN anywhere in a row makes the whole row NaN. Sums are accumulated in T.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "dispatch.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/kernels/trace.hpp"
#include "parallel.hpp"
#include "simd/softmax_decl.hpp"

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

template <class T>
void reference_softmax_rows(std::size_t m, std::size_t n, const T* x, T* y) {
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
void reference_log_softmax_rows(std::size_t m, std::size_t n, const T* x, T* y) {
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
void reference_softmax_rows_backward(std::size_t m, std::size_t n, const T* s, const T* g, T beta,
                                     T* dx) {
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
void reference_log_softmax_rows_backward(std::size_t m, std::size_t n, const T* ls, const T* g,
                                         T beta, T* dx) {
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

}  // namespace

// Runs the row kernel `name` on the active arch over fixed chunks of whole rows; ARGS use
// `rows` and `b` (the first row of the chunk).
#define FUSEGRAD_SOFTMAX_RUN(name, ...)                                         \
    detail::dispatch([&](auto arch_tag) {                                       \
        using A = decltype(arch_tag);                                           \
        detail::for_each_chunk(m, detail::rows_per_chunk(n), 8 * n,             \
                               [&](std::size_t, std::size_t b, std::size_t e) { \
                                   const std::size_t rows = e - b;              \
                                   if constexpr (detail::is_scalar_v<A>)        \
                                       reference_##name<T>(__VA_ARGS__);        \
                                   else                                         \
                                       simd::name<A, T>(__VA_ARGS__);           \
                               });                                              \
    })

template <class T>
void softmax_rows(std::size_t m, std::size_t n, const T* x, T* y) {
    detail::trace_call("softmax_rows");
    if (n == 0) return;
    FUSEGRAD_SOFTMAX_RUN(softmax_rows, rows, n, x + b * n, y + b * n);
}

template <class T>
void log_softmax_rows(std::size_t m, std::size_t n, const T* x, T* y) {
    detail::trace_call("log_softmax_rows");
    if (n == 0) return;
    FUSEGRAD_SOFTMAX_RUN(log_softmax_rows, rows, n, x + b * n, y + b * n);
}

template <class T>
void softmax_rows_backward(std::size_t m, std::size_t n, const T* s, const T* g, T beta, T* dx) {
    detail::trace_call("softmax_rows_backward");
    if (n == 0) return;
    FUSEGRAD_SOFTMAX_RUN(softmax_rows_backward, rows, n, s + b * n, g + b * n, beta, dx + b * n);
}

template <class T>
void log_softmax_rows_backward(std::size_t m, std::size_t n, const T* ls, const T* g, T beta,
                               T* dx) {
    detail::trace_call("log_softmax_rows_backward");
    if (n == 0) return;
    FUSEGRAD_SOFTMAX_RUN(log_softmax_rows_backward, rows, n, ls + b * n, g + b * n, beta,
                         dx + b * n);
}

#undef FUSEGRAD_SOFTMAX_RUN

#define FUSEGRAD_INSTANTIATE_SOFTMAX(T)                                                          \
    template void softmax_rows<T>(std::size_t, std::size_t, const T*, T*);                       \
    template void log_softmax_rows<T>(std::size_t, std::size_t, const T*, T*);                   \
    template void softmax_rows_backward<T>(std::size_t, std::size_t, const T*, const T*, T, T*); \
    template void log_softmax_rows_backward<T>(std::size_t, std::size_t, const T*, const T*, T, T*);

FUSEGRAD_INSTANTIATE_SOFTMAX(float)
FUSEGRAD_INSTANTIATE_SOFTMAX(double)

#undef FUSEGRAD_INSTANTIATE_SOFTMAX

}  // namespace fusegrad::kernels
