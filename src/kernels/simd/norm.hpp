#pragma once
/// @file
/// Internal: layer normalisation written once against xsimd::batch<T, A>. Included only by
/// src/kernels/arch/norm.*.cpp. Same arithmetic as the reference (src/kernels/norm.cpp), with
/// its sums over a row in interleaved batch accumulators (four in the forward, two in the
/// backward) and FMAs where it multiplies and adds. The backward takes four rows at a time: each
/// row's means (its pass over memory), then one pass over the four rows in cache for dx and the
/// column sums, each batch of the partials loaded and stored once per four rows. With `stream` (the
/// front door's choice, from the output's size and stream_store_threshold()) y and dx are written
/// with non-temporal stores when their rows are whole aligned batches, and the next rows are
/// prefetched into L2 (software prefetch into L1 at every size was tried in an earlier session:
/// no gain at 4096×1024, 20% slower at 128×256).

#include <cmath>
#include <cstddef>
#include <type_traits>

#include "batch_io.hpp"
#include "norm_decl.hpp"
#include "row_ops.hpp"

namespace fusegrad::kernels::simd {

namespace detail {

/// Σ_j f(x_j) over a row in four interleaved batch accumulators (the adds of a row of 1024 are
/// then four short dependency chains, not two long ones); the tail is padded with `fill`, and
/// f(fill) must be 0.
template <class A, class T, class F>
T row_sum4(std::size_t n, const T* x, T fill, F f) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    B s0(T(0)), s1(T(0)), s2(T(0)), s3(T(0));
    std::size_t j = 0;
    for (; j + 4 * L::size <= n; j += 4 * L::size) {
        s0 += f(B::load_unaligned(x + j));
        s1 += f(B::load_unaligned(x + j + L::size));
        s2 += f(B::load_unaligned(x + j + 2 * L::size));
        s3 += f(B::load_unaligned(x + j + 3 * L::size));
    }
    for (; j < n; j += L::size) s0 += f(L::load(x + j, n - j < L::size ? n - j : L::size, fill));
    return xsimd::hadd((s0 + s1) + (s2 + s3));
}

}  // namespace detail

template <class A, class T>
void layer_norm_rows(std::size_t rows, std::size_t n, const T* x, const T* gamma, const T* beta,
                     T eps, T* y, T* mean, T* rstd, bool stream) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    stream = stream && L::streamable(y, n);
    for (std::size_t i = 0; i < rows; ++i) {
        const T* xr = x + i * n;
        T* yr = y + i * n;

        const T mu = detail::row_sum4<A, T>(n, xr, T(0), [](const B& v) { return v; }) / T(n);
        const B vm(mu);
        // The tail is padded with μ: (μ − μ)² adds nothing.
        const T var = detail::row_sum4<A, T>(n, xr, mu,
                                             [&](const B& v) {
                                                 const B d = v - vm;
                                                 return d * d;
                                             }) /
                      T(n);
        const T r = T(1) / std::sqrt(var + eps);
        mean[i] = mu;
        rstd[i] = r;
        const B vr(r);
        const auto y_of = [&](std::size_t j, std::size_t c) {
            const B xh = (L::load(xr + j, c, T(0)) - vm) * vr;
            return xsimd::fma(xh, L::load(gamma + j, c, T(0)), L::load(beta + j, c, T(0)));
        };
        // y may alias x: each batch of x is read before the same batch of y is written.
        if (stream) {
            // Large arrays: the next row is fetched into L2 meanwhile (the pass over memory
            // is then not the only time a line is on its way).
            const T* next = i + 1 < rows ? xr + n : nullptr;
            for (std::size_t j = 0; j < n; j += L::size) {
                if (next) _mm_prefetch(reinterpret_cast<const char*>(next + j), _MM_HINT_T1);
                L::stream(yr + j, y_of(j, L::size));
            }
        } else {
            for (std::size_t j = 0; j < n; j += L::size) {
                const std::size_t c = n - j < L::size ? n - j : L::size;
                L::store(yr + j, c, y_of(j, c));
            }
        }
    }
    if (stream) stream_fence();
}

namespace detail {

/// Over one row: mean h and r · mean(h (x − μ)), h = g ⊙ gamma, each a sum in two batch
/// accumulators (the row comes from memory here, and is in cache for the block's second pass).
template <class A, class T>
void layer_norm_row_means(std::size_t n, const T* xr, const T* gamma, T mu, T r, const T* gr,
                          T& mean_h, T& mean_hx) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B vm(mu);
    B s0(T(0)), s1(T(0)), t0(T(0)), t1(T(0));
    std::size_t j = 0;
    for (; j + 2 * L::size <= n; j += 2 * L::size) {
        const std::size_t k = j + L::size;
        const B h0 = B::load_unaligned(gr + j) * B::load_unaligned(gamma + j);
        const B h1 = B::load_unaligned(gr + k) * B::load_unaligned(gamma + k);
        s0 += h0;
        s1 += h1;
        t0 = xsimd::fma(h0, B::load_unaligned(xr + j) - vm, t0);
        t1 = xsimd::fma(h1, B::load_unaligned(xr + k) - vm, t1);
    }
    for (; j < n; j += L::size) {
        const std::size_t c = n - j < L::size ? n - j : L::size;
        const B h = L::load(gr + j, c, T(0)) * L::load(gamma + j, c, T(0));
        s0 += h;
        t0 = xsimd::fma(h, L::load(xr + j, c, T(0)) - vm, t0);
    }
    mean_h = xsimd::hadd(s0 + s1) / T(n);
    mean_hx = xsimd::hadd(t0 + t1) * r / T(n);
}

/// R consecutive rows (R ≤ 4) of the backward, in one pass over their columns after each
/// row's means: dx = r (h − mean h − x̂ mean(h x̂)), x̂ = (x − μ) r (when dx is not null; with
/// non-temporal stores for `stream`), and the column sums added to pg (Σ g x̂) and pb (Σ g) in
/// row order, each batch of pg and pb loaded and stored once per R rows. next_x, next_g (or
/// null): the next R rows, prefetched into L2 during the pass.
template <class A, class T, std::size_t R>
void layer_norm_backward_rows(std::size_t n, const T* x, const T* gamma, const T* mean,
                              const T* rstd, const T* g, T beta_x, T* dx, T* pg, T* pb, bool stream,
                              const T* next_x, const T* next_g) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    B vm[R], vr[R], mh[R], mhx[R];
    for (std::size_t r = 0; r < R; ++r) {
        vm[r] = B(mean[r]);
        vr[r] = B(rstd[r]);
        if (!dx) continue;
        T a, b;
        layer_norm_row_means<A, T>(n, x + r * n, gamma, mean[r], rstd[r], g + r * n, a, b);
        mh[r] = B(a);
        mhx[r] = B(b);
    }
    const B vb(beta_x);
    for (std::size_t j = 0; j < n; j += L::size) {
        const std::size_t c = n - j < L::size ? n - j : L::size;
        const B gam = dx ? L::load(gamma + j, c, T(0)) : B(T(0));
        B sg = pg ? L::load(pg + j, c, T(0)) : B(T(0));
        B sb = pb ? L::load(pb + j, c, T(0)) : B(T(0));
        if (next_x)
            for (std::size_t r = 0; r < R; ++r) {
                _mm_prefetch(reinterpret_cast<const char*>(next_x + r * n + j), _MM_HINT_T1);
                _mm_prefetch(reinterpret_cast<const char*>(next_g + r * n + j), _MM_HINT_T1);
            }
        for (std::size_t r = 0; r < R; ++r) {
            const B gv = L::load(g + r * n + j, c, T(0));
            const B xh = (L::load(x + r * n + j, c, T(0)) - vm[r]) * vr[r];
            if (dx) {
                T* d = dx + r * n + j;
                B v = vr[r] * (gv * gam - mh[r] - xh * mhx[r]);
                if (beta_x != T(0)) v = xsimd::fma(vb, L::load(d, c, T(0)), v);
                if (stream)
                    L::stream(d, v);  // c is a whole batch: stream requires it
                else
                    L::store(d, c, v);
            }
            if (pg) sg = xsimd::fma(gv, xh, sg);
            sb += gv;
        }
        if (pg) L::store(pg + j, c, sg);
        if (pb) L::store(pb + j, c, sb);
    }
}

}  // namespace detail

template <class A, class T>
void layer_norm_rows_backward(std::size_t rows, std::size_t n, const T* x, const T* gamma,
                              const T* mean, const T* rstd, const T* g, T beta_x, T* dx, T* pg,
                              T* pb, bool stream) {
    using L = lanes<A, T>;
    stream = stream && dx != nullptr && beta_x == T(0) && L::streamable(dx, n);
    for (std::size_t j = 0; j < n; ++j) {  // the chunk's column sums start at 0
        if (pg) pg[j] = T(0);
        if (pb) pb[j] = T(0);
    }
    constexpr std::size_t R = 4;
    for (std::size_t i0 = 0; i0 < rows; i0 += R) {
        const std::size_t block = rows - i0 < R ? rows - i0 : R;
        // Large arrays (streamed): the next block's rows are fetched into L2 meanwhile.
        const bool prefetch = stream && i0 + 2 * R <= rows;
        const auto run = [&](auto rows_in_block) {
            detail::layer_norm_backward_rows<A, T, decltype(rows_in_block)::value>(
                n, x + i0 * n, gamma, mean + i0, rstd + i0, g + i0 * n, beta_x,
                dx ? dx + i0 * n : nullptr, pg, pb, stream, prefetch ? x + (i0 + R) * n : nullptr,
                prefetch ? g + (i0 + R) * n : nullptr);
        };
        switch (block) {
            case 4:
                run(std::integral_constant<std::size_t, 4>{});
                break;
            case 3:
                run(std::integral_constant<std::size_t, 3>{});
                break;
            case 2:
                run(std::integral_constant<std::size_t, 2>{});
                break;
            default:
                run(std::integral_constant<std::size_t, 1>{});
        }
    }
    if (stream) stream_fence();
}

}  // namespace fusegrad::kernels::simd

#define FUSEGRAD_INSTANTIATE_NORM_T(A, T)                                                          \
    template void fusegrad::kernels::simd::layer_norm_rows<A, T>(                                  \
        std::size_t, std::size_t, const T*, const T*, const T*, T, T*, T*, T*, bool);              \
    template void fusegrad::kernels::simd::layer_norm_rows_backward<A, T>(                         \
        std::size_t, std::size_t, const T*, const T*, const T*, const T*, const T*, T, T*, T*, T*, \
        bool);
#define FUSEGRAD_INSTANTIATE_NORM(A)      \
    FUSEGRAD_INSTANTIATE_NORM_T(A, float) \
    FUSEGRAD_INSTANTIATE_NORM_T(A, double)
