/// @file
/// Layer normalisation, row-wise over an m×n contiguous matrix: the scalar reference loops and
/// the front doors running the SIMD bodies (simd/norm.hpp) over fixed chunks of rows.
///
/// The forward's rows are independent. The backward's column sums (dgamma, dbeta) are summed in
/// row order within each chunk of kRowsPerChunk rows, into that chunk's slice of the caller's
/// scratch, and the chunks' partials are then added in chunk order: chunk boundaries depend only
/// on m, so the result is bitwise the same for every thread count, and the rounding error grows
/// like kRowsPerChunk + m / kRowsPerChunk rather than m.

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "dispatch.hpp"
#include "fusegrad/kernels/arch.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/kernels/trace.hpp"
#include "parallel.hpp"
#include "simd/norm_decl.hpp"

namespace fusegrad::kernels {

namespace {

constexpr std::size_t kRowsPerChunk = 256;

std::size_t chunks_of(std::size_t m) {
    return (m + kRowsPerChunk - 1) / kRowsPerChunk;
}

/// Where a chunk's dbeta partials start after its dgamma partials: n plus a cache line, so that
/// pg[j] and pb[j] are never 4 KiB apart (a row of 1024 floats would make them so, and every load
/// of pb[j] after the store to pg[j] would then wait for it: 4K aliasing).
std::size_t beta_offset(std::size_t n) {
    return n + 16;
}
/// Scratch elements per chunk.
std::size_t chunk_stride(std::size_t n) {
    return beta_offset(n) + n + 16;
}

namespace reference {

// `bool` (stream): the SIMD bodies' non-temporal stores; plain stores here.
template <class T>
void layer_norm_rows(std::size_t rows, std::size_t n, const T* x, const T* gamma, const T* beta,
                     T eps, T* y, T* mean, T* rstd, bool) {
    for (std::size_t i = 0; i < rows; ++i) {
        const T* xr = x + i * n;
        T* yr = y + i * n;
        T s = T(0);
        for (std::size_t j = 0; j < n; ++j) s += xr[j];
        const T mu = s / T(n);
        T var = T(0);
        for (std::size_t j = 0; j < n; ++j) var += (xr[j] - mu) * (xr[j] - mu);
        var /= T(n);
        const T r = T(1) / std::sqrt(var + eps);
        mean[i] = mu;
        rstd[i] = r;
        for (std::size_t j = 0; j < n; ++j) yr[j] = (xr[j] - mu) * r * gamma[j] + beta[j];
    }
}

template <class T>
void layer_norm_rows_backward(std::size_t rows, std::size_t n, const T* x, const T* gamma,
                              const T* mean, const T* rstd, const T* g, T beta_x, T* dx, T* pg,
                              T* pb, bool) {
    for (std::size_t j = 0; j < n; ++j) {
        if (pg) pg[j] = T(0);
        if (pb) pb[j] = T(0);
    }
    for (std::size_t i = 0; i < rows; ++i) {
        const T* xr = x + i * n;
        const T* gr = g + i * n;
        const T mu = mean[i], r = rstd[i];
        for (std::size_t j = 0; j < n; ++j) {
            if (pg) pg[j] += gr[j] * (xr[j] - mu) * r;
            if (pb) pb[j] += gr[j];
        }
        if (!dx) continue;
        T sum_h = T(0), sum_hx = T(0);
        for (std::size_t j = 0; j < n; ++j) {
            const T h = gr[j] * gamma[j];
            sum_h += h;
            sum_hx += h * (xr[j] - mu);
        }
        const T mh = sum_h / T(n), mhx = sum_hx * r / T(n);
        T* dr = dx + i * n;
        for (std::size_t j = 0; j < n; ++j) {
            const T v = r * (gr[j] * gamma[j] - mh - (xr[j] - mu) * r * mhx);
            dr[j] = beta_x == T(0) ? v : v + beta_x * dr[j];
        }
    }
}

}  // namespace reference

/// Whether a kernel writing m×n values of T to out writes them with non-temporal stores: at
/// least stream_store_threshold() bytes, every row on a 64-byte boundary (a whole number of
/// batches on every set). Recorded as "stream_stores" in a trace.
template <class T>
bool stream_output(std::size_t m, std::size_t n, const T* out) {
    const bool stream = out != nullptr && active_arch() != arch::scalar &&
                        m * n * sizeof(T) >= stream_store_threshold() &&
                        (n * sizeof(T)) % 64 == 0 &&
                        reinterpret_cast<std::uintptr_t>(out) % 64 == 0;
    if (stream) detail::trace_call("stream_stores");
    return stream;
}

/// out[j] = Σ_c part[c · chunk_stride(n) + j] (chunk order) + beta · out[j].
template <class T>
void add_partials(std::size_t chunks, std::size_t n, const T* part, T beta, T* out) {
    for (std::size_t j = 0; j < n; ++j) {
        T s = T(0);
        for (std::size_t c = 0; c < chunks; ++c) s += part[c * chunk_stride(n) + j];
        out[j] = beta == T(0) ? s : s + beta * out[j];
    }
}

}  // namespace

// Chunks of kRowsPerChunk rows (`len` rows each; `c` indexes the chunk's partial sums).
#define FUSEGRAD_NORM_RUN(name, ...) FUSEGRAD_RUN_CHUNKS(m, kRowsPerChunk, 8 * n, name, __VA_ARGS__)

template <class T>
void layer_norm_rows(std::size_t m, std::size_t n, const T* x, const T* gamma, const T* beta, T eps,
                     T* y, T* mean, T* rstd) {
    detail::trace_call("layer_norm_rows");
    if (n == 0) {  // the mean of no entries: NaN, as PyTorch
        for (std::size_t i = 0; i < m; ++i) mean[i] = rstd[i] = std::nan("");
        return;
    }
    const bool stream = stream_output<T>(m, n, y);
    FUSEGRAD_NORM_RUN(layer_norm_rows, len, n, x + b * n, gamma, beta, eps, y + b * n, mean + b,
                      rstd + b, stream);
}

std::size_t layer_norm_backward_scratch(std::size_t m, std::size_t n) {
    return n == 0 ? 0 : chunks_of(m) * chunk_stride(n);
}

template <class T>
void layer_norm_rows_backward(std::size_t m, std::size_t n, const T* x, const T* gamma,
                              const T* mean, const T* rstd, const T* g, T beta_x, T* dx,
                              T beta_gamma, T* dgamma, T beta_beta, T* dbeta, T* scratch) {
    detail::trace_call("layer_norm_rows_backward");
    if (n == 0) return;
    const bool stream = beta_x == T(0) && stream_output<T>(m, n, dx);
    FUSEGRAD_NORM_RUN(layer_norm_rows_backward, len, n, x + b * n, gamma, mean + b, rstd + b,
                      g + b * n, beta_x, dx ? dx + b * n : nullptr,
                      dgamma ? scratch + c * chunk_stride(n) : nullptr,
                      dbeta ? scratch + c * chunk_stride(n) + beta_offset(n) : nullptr, stream);
    const std::size_t chunks = chunks_of(m);
    if (dgamma) add_partials(chunks, n, scratch, beta_gamma, dgamma);
    if (dbeta) add_partials(chunks, n, scratch + beta_offset(n), beta_beta, dbeta);
}

#undef FUSEGRAD_NORM_RUN

#define FUSEGRAD_INSTANTIATE_NORM(T)                                                             \
    template void layer_norm_rows<T>(std::size_t, std::size_t, const T*, const T*, const T*, T,  \
                                     T*, T*, T*);                                                \
    template void layer_norm_rows_backward<T>(std::size_t, std::size_t, const T*, const T*,      \
                                              const T*, const T*, const T*, T, T*, T, T*, T, T*, \
                                              T*);

FUSEGRAD_INSTANTIATE_NORM(float)
FUSEGRAD_INSTANTIATE_NORM(double)

#undef FUSEGRAD_INSTANTIATE_NORM

}  // namespace fusegrad::kernels
