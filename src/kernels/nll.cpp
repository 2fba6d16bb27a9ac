/// @file
/// Negative log-likelihood over probabilities, row-wise over an m×n contiguous p: the scalar
/// reference loops and the front doors running the SIMD bodies (simd/nll.hpp) over fixed
/// chunks of rows. The label check stays scalar (one compare per row, exits at the first bad).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "dispatch.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/kernels/trace.hpp"
#include "nll_rows.hpp"
#include "parallel.hpp"
#include "simd/nll_decl.hpp"

namespace fusegrad::kernels {

template <class I>
std::size_t first_label_out_of_range(std::size_t m, const I* y, std::size_t classes) {
    static_assert(std::is_integral_v<I>, "labels must be integers");
    for (std::size_t i = 0; i < m; ++i) {
        if constexpr (std::is_signed_v<I>) {
            if (y[i] < 0) {
                return i;
            }
        }
        // Non-negative here, so the unsigned conversion keeps the value.
        if (static_cast<std::make_unsigned_t<I>>(y[i]) >= classes) {
            return i;
        }
    }
    return m;
}

namespace {

template <class T, class I>
void reference_nll_index_rows(std::size_t m, std::size_t n, const T* p, const I* y, T* out) {
    for (std::size_t i = 0; i < m; ++i) {
        const auto label = static_cast<std::size_t>(y[i]);
        out[i] = -std::log(p[i * n + label]);
    }
}

template <class T, class I>
void reference_nll_index_rows_backward(std::size_t m, std::size_t n, const T* p, const I* y,
                                       const T* g, T beta, T* dp) {
    for (std::size_t i = 0; i < m; ++i) {
        const auto label = static_cast<std::size_t>(y[i]);
        const T* pr = p + i * n;
        T* dr = dp + i * n;
        for (std::size_t j = 0; j < n; ++j) {
            // p is read only at the label: elsewhere the result is 0 whatever p holds.
            const T r = j == label ? -g[i] / pr[j] : T(0);
            dr[j] = beta == T(0) ? r : r + beta * dr[j];
        }
    }
}

template <class T>
void reference_nll_prob_rows(std::size_t m, std::size_t n, const T* p, const T* y, T* out) {
    for (std::size_t i = 0; i < m; ++i) {
        const T* pr = p + i * n;
        const T* yr = y + i * n;
        T acc = T(0);
        for (std::size_t j = 0; j < n; ++j) {
            if (yr[j] != T(0)) {  // 0 · log p = 0, even for p == 0 (log p = -inf)
                acc -= yr[j] * std::log(pr[j]);
            }
        }
        out[i] = acc;
    }
}

template <class T>
void reference_nll_prob_rows_backward(std::size_t m, std::size_t n, const T* p, const T* y,
                                      const T* g, T beta_p, T* dp, T beta_y, T* dy) {
    for (std::size_t i = 0; i < m; ++i) {
        const T* pr = p + i * n;
        const T* yr = y + i * n;
        const T gi = g[i];
        if (dp != nullptr) {
            T* dr = dp + i * n;
            for (std::size_t j = 0; j < n; ++j) {
                const T r = yr[j] == T(0) ? T(0) : -gi * yr[j] / pr[j];
                dr[j] = beta_p == T(0) ? r : r + beta_p * dr[j];
            }
        }
        if (dy != nullptr) {
            T* dr = dy + i * n;
            for (std::size_t j = 0; j < n; ++j) {
                const T r = -gi * std::log(pr[j]);
                dr[j] = beta_y == T(0) ? r : r + beta_y * dr[j];
            }
        }
    }
}

}  // namespace

template <class T, class I>
void nll_index_rows(std::size_t m, std::size_t n, const T* p, const I* y, T* out) {
    detail::trace_call("nll_index_rows");
    // One gathered element and one log per row: chunks of rows, not of row elements.
    detail::run_row_chunks(
        m, detail::kGatherRowsPerChunk, 8, [&](auto a, std::size_t b, std::size_t rows) {
            using A = decltype(a);
            if constexpr (detail::is_scalar_v<A>)
                reference_nll_index_rows<T, I>(rows, n, p + b * n, y + b, out + b);
            else
                simd::nll_index_rows<A, T, I>(rows, n, p + b * n, y + b, out + b);
        });
}

template <class T, class I>
void nll_index_rows_backward(std::size_t m, std::size_t n, const T* p, const I* y, const T* g,
                             T beta, T* dp) {
    detail::trace_call("nll_index_rows_backward");
    if (n == 0) return;
    detail::run_row_chunks(m, detail::rows_per_chunk(n), n,
                           [&](auto a, std::size_t b, std::size_t rows) {
                               using A = decltype(a);
                               if constexpr (detail::is_scalar_v<A>)
                                   reference_nll_index_rows_backward<T, I>(
                                       rows, n, p + b * n, y + b, g + b, beta, dp + b * n);
                               else
                                   simd::nll_index_rows_backward<A, T, I>(rows, n, p + b * n, y + b,
                                                                          g + b, beta, dp + b * n);
                           });
}

template <class T>
void nll_prob_rows(std::size_t m, std::size_t n, const T* p, const T* y, T* out) {
    detail::trace_call("nll_prob_rows");
    detail::run_row_chunks(
        m, detail::rows_per_chunk(n), 8 * n, [&](auto a, std::size_t b, std::size_t rows) {
            using A = decltype(a);
            if constexpr (detail::is_scalar_v<A>)
                reference_nll_prob_rows<T>(rows, n, p + b * n, y + b * n, out + b);
            else
                simd::nll_prob_rows<A, T>(rows, n, p + b * n, y + b * n, out + b);
        });
}

template <class T>
void nll_prob_rows_backward(std::size_t m, std::size_t n, const T* p, const T* y, const T* g,
                            T beta_p, T* dp, T beta_y, T* dy) {
    detail::trace_call("nll_prob_rows_backward");
    if (n == 0 || (dp == nullptr && dy == nullptr)) return;
    detail::run_row_chunks(
        m, detail::rows_per_chunk(n), 10 * n, [&](auto a, std::size_t b, std::size_t rows) {
            using A = decltype(a);
            T* dpb = dp == nullptr ? nullptr : dp + b * n;
            T* dyb = dy == nullptr ? nullptr : dy + b * n;
            if constexpr (detail::is_scalar_v<A>)
                reference_nll_prob_rows_backward<T>(rows, n, p + b * n, y + b * n, g + b, beta_p,
                                                    dpb, beta_y, dyb);
            else
                simd::nll_prob_rows_backward<A, T>(rows, n, p + b * n, y + b * n, g + b, beta_p,
                                                   dpb, beta_y, dyb);
        });
}

#define FUSEGRAD_INSTANTIATE_LABELS(I) \
    template std::size_t first_label_out_of_range<I>(std::size_t, const I*, std::size_t);

#define FUSEGRAD_INSTANTIATE_INDEX_NLL(T, I)                                                  \
    template void nll_index_rows<T, I>(std::size_t, std::size_t, const T*, const I*, T*);     \
    template void nll_index_rows_backward<T, I>(std::size_t, std::size_t, const T*, const I*, \
                                                const T*, T, T*);

#define FUSEGRAD_INSTANTIATE_PROB_NLL(T)                                                  \
    template void nll_prob_rows<T>(std::size_t, std::size_t, const T*, const T*, T*);     \
    template void nll_prob_rows_backward<T>(std::size_t, std::size_t, const T*, const T*, \
                                            const T*, T, T*, T, T*);

FUSEGRAD_INSTANTIATE_LABELS(std::int32_t)
FUSEGRAD_INSTANTIATE_LABELS(std::int64_t)
FUSEGRAD_INSTANTIATE_INDEX_NLL(float, std::int32_t)
FUSEGRAD_INSTANTIATE_INDEX_NLL(float, std::int64_t)
FUSEGRAD_INSTANTIATE_INDEX_NLL(double, std::int32_t)
FUSEGRAD_INSTANTIATE_INDEX_NLL(double, std::int64_t)
FUSEGRAD_INSTANTIATE_PROB_NLL(float)
FUSEGRAD_INSTANTIATE_PROB_NLL(double)

#undef FUSEGRAD_INSTANTIATE_LABELS
#undef FUSEGRAD_INSTANTIATE_INDEX_NLL
#undef FUSEGRAD_INSTANTIATE_PROB_NLL

}  // namespace fusegrad::kernels
