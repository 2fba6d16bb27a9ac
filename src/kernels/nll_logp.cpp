/// @file
/// Negative log-likelihood over log-probabilities, row-wise over an m×n contiguous logp
/// (PyTorch's nll_loss with reduction none, and its probability-target form): the scalar
/// reference loops and the front doors running the SIMD bodies (simd/nll.hpp).
///
/// nll_logp_index_rows is one load and one negation per row, with nothing to vectorise: it runs
/// the scalar loop on every set (exact everywhere).

#include <cstddef>
#include <cstdint>

#include "dispatch.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/kernels/trace.hpp"
#include "nll_rows.hpp"
#include "parallel.hpp"
#include "simd/nll_decl.hpp"

namespace fusegrad::kernels {

template <class T, class I>
void nll_logp_index_rows(std::size_t m, std::size_t n, const T* logp, const I* y, T* out) {
    detail::trace_call("nll_logp_index_rows");
    for (std::size_t i = 0; i < m; ++i) {
        out[i] = -logp[i * n + static_cast<std::size_t>(y[i])];
    }
}

namespace {

template <class T, class I>
void reference_nll_logp_index_rows_backward(std::size_t m, std::size_t n, const I* y, const T* g,
                                            T beta, T* dlogp) {
    for (std::size_t i = 0; i < m; ++i) {
        const auto label = static_cast<std::size_t>(y[i]);
        T* dr = dlogp + i * n;
        for (std::size_t j = 0; j < n; ++j) {
            const T r = j == label ? -g[i] : T(0);
            dr[j] = beta == T(0) ? r : r + beta * dr[j];
        }
    }
}

template <class T>
void reference_nll_logp_prob_rows(std::size_t m, std::size_t n, const T* logp, const T* y, T* out) {
    for (std::size_t i = 0; i < m; ++i) {
        const T* lr = logp + i * n;
        const T* yr = y + i * n;
        T acc = T(0);
        for (std::size_t j = 0; j < n; ++j) {
            if (yr[j] != T(0)) {  // 0 · (-inf) = 0: a class with no target mass adds nothing
                acc -= yr[j] * lr[j];
            }
        }
        out[i] = acc;
    }
}

template <class T>
void reference_nll_logp_prob_rows_backward(std::size_t m, std::size_t n, const T* logp, const T* y,
                                           const T* g, T beta_p, T* dlogp, T beta_y, T* dy) {
    for (std::size_t i = 0; i < m; ++i) {
        const T gi = g[i];
        if (dlogp != nullptr) {
            const T* yr = y + i * n;
            T* dr = dlogp + i * n;
            for (std::size_t j = 0; j < n; ++j) {
                const T r = -gi * yr[j];
                dr[j] = beta_p == T(0) ? r : r + beta_p * dr[j];
            }
        }
        if (dy != nullptr) {
            const T* lr = logp + i * n;
            T* dr = dy + i * n;
            for (std::size_t j = 0; j < n; ++j) {
                const T r = -gi * lr[j];
                dr[j] = beta_y == T(0) ? r : r + beta_y * dr[j];
            }
        }
    }
}

}  // namespace

template <class T, class I>
void nll_logp_index_rows_backward(std::size_t m, std::size_t n, const I* y, const T* g, T beta,
                                  T* dlogp) {
    detail::trace_call("nll_logp_index_rows_backward");
    if (n == 0) return;
    detail::run_row_chunks(m, detail::rows_per_chunk(n), n,
                           [&](auto a, std::size_t b, std::size_t rows) {
                               using A = decltype(a);
                               if constexpr (detail::is_scalar_v<A>)
                                   reference_nll_logp_index_rows_backward<T, I>(
                                       rows, n, y + b, g + b, beta, dlogp + b * n);
                               else
                                   simd::nll_logp_index_rows_backward<A, T, I>(
                                       rows, n, y + b, g + b, beta, dlogp + b * n);
                           });
}

template <class T>
void nll_logp_prob_rows(std::size_t m, std::size_t n, const T* logp, const T* y, T* out) {
    detail::trace_call("nll_logp_prob_rows");
    detail::run_row_chunks(
        m, detail::rows_per_chunk(n), 2 * n, [&](auto a, std::size_t b, std::size_t rows) {
            using A = decltype(a);
            if constexpr (detail::is_scalar_v<A>)
                reference_nll_logp_prob_rows<T>(rows, n, logp + b * n, y + b * n, out + b);
            else
                simd::nll_logp_prob_rows<A, T>(rows, n, logp + b * n, y + b * n, out + b);
        });
}

template <class T>
void nll_logp_prob_rows_backward(std::size_t m, std::size_t n, const T* logp, const T* y,
                                 const T* g, T beta_p, T* dlogp, T beta_y, T* dy) {
    detail::trace_call("nll_logp_prob_rows_backward");
    if (n == 0 || (dlogp == nullptr && dy == nullptr)) return;
    detail::run_row_chunks(
        m, detail::rows_per_chunk(n), 2 * n, [&](auto a, std::size_t b, std::size_t rows) {
            using A = decltype(a);
            T* dlb = dlogp == nullptr ? nullptr : dlogp + b * n;
            T* dyb = dy == nullptr ? nullptr : dy + b * n;
            if constexpr (detail::is_scalar_v<A>)
                reference_nll_logp_prob_rows_backward<T>(rows, n, logp + b * n, y + b * n, g + b,
                                                         beta_p, dlb, beta_y, dyb);
            else
                simd::nll_logp_prob_rows_backward<A, T>(rows, n, logp + b * n, y + b * n, g + b,
                                                        beta_p, dlb, beta_y, dyb);
        });
}

#define FUSEGRAD_INSTANTIATE_INDEX_NLL_LOGP(T, I)                                                  \
    template void nll_logp_index_rows<T, I>(std::size_t, std::size_t, const T*, const I*, T*);     \
    template void nll_logp_index_rows_backward<T, I>(std::size_t, std::size_t, const I*, const T*, \
                                                     T, T*);

#define FUSEGRAD_INSTANTIATE_PROB_NLL_LOGP(T)                                                  \
    template void nll_logp_prob_rows<T>(std::size_t, std::size_t, const T*, const T*, T*);     \
    template void nll_logp_prob_rows_backward<T>(std::size_t, std::size_t, const T*, const T*, \
                                                 const T*, T, T*, T, T*);

FUSEGRAD_INSTANTIATE_INDEX_NLL_LOGP(float, std::int32_t)
FUSEGRAD_INSTANTIATE_INDEX_NLL_LOGP(float, std::int64_t)
FUSEGRAD_INSTANTIATE_INDEX_NLL_LOGP(double, std::int32_t)
FUSEGRAD_INSTANTIATE_INDEX_NLL_LOGP(double, std::int64_t)
FUSEGRAD_INSTANTIATE_PROB_NLL_LOGP(float)
FUSEGRAD_INSTANTIATE_PROB_NLL_LOGP(double)

#undef FUSEGRAD_INSTANTIATE_INDEX_NLL_LOGP
#undef FUSEGRAD_INSTANTIATE_PROB_NLL_LOGP

}  // namespace fusegrad::kernels
