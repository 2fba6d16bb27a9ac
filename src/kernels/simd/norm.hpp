#pragma once
/// @file
/// Internal: layer normalisation written once against xsimd::batch<T, A>. Included only by
/// src/kernels/arch/norm.*.cpp. Same arithmetic as the reference (src/kernels/norm.cpp), with
/// its sums over a row in interleaved batch accumulators (four in the forward, two in the
/// backward) and FMAs where it multiplies and adds. The backward's column sums take four rows
/// per load and store of the partials. (Tried and dropped, no gain at 4096×1024 and a loss at
/// small shapes: prefetching the next row, non-temporal stores of y and dx.)

#include <cmath>
#include <cstddef>

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
                     T eps, T* y, T* mean, T* rstd) {
    using L = lanes<A, T>;
    using B = typename L::batch;
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
        // y may alias x: each batch of x is read before the same batch of y is written.
        for (std::size_t j = 0; j < n; j += L::size) {
            const std::size_t c = n - j < L::size ? n - j : L::size;
            const B xh = (L::load(xr + j, c, T(0)) - vm) * vr;
            L::store(yr + j, c,
                     xsimd::fma(xh, L::load(gamma + j, c, T(0)), L::load(beta + j, c, T(0))));
        }
    }
}

namespace detail {

/// dx of one row: Σ h and Σ h (x − μ) over the row (h = g ⊙ gamma, two accumulators each),
/// then dx = r (h − mean h − x̂ mean(h x̂)), x̂ = (x − μ) r, with the row in L1.
template <class A, class T>
void layer_norm_dx_row(std::size_t n, const T* xr, const T* gamma, T mu, T r, const T* gr, T beta_x,
                       T* dr) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B vm(mu), vr(r), vb(beta_x);
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
    const B mh(xsimd::hadd(s0 + s1) / T(n));
    const B mhx(xsimd::hadd(t0 + t1) * r / T(n));
    const auto dx_of = [&](std::size_t k, std::size_t c) {
        return vr * (L::load(gr + k, c, T(0)) * L::load(gamma + k, c, T(0)) - mh -
                     ((L::load(xr + k, c, T(0)) - vm) * vr) * mhx);
    };
    const std::size_t full = n - n % L::size;
    if (beta_x != T(0)) {
        for (j = 0; j < full; j += L::size)
            xsimd::fma(vb, B::load_unaligned(dr + j), dx_of(j, L::size)).store_unaligned(dr + j);
    } else {
        for (j = 0; j < full; j += L::size) dx_of(j, L::size).store_unaligned(dr + j);
    }
    if (full < n) {
        const std::size_t c = n - full;
        B v = dx_of(full, c);
        if (beta_x != T(0)) v = xsimd::fma(vb, L::load(dr + full, c, T(0)), v);
        L::store(dr + full, c, v);
    }
}

/// The column sums of R consecutive rows (R ≤ 4), added to pg (Σ g x̂) and pb (Σ g) in row
/// order: each batch of pg and pb is loaded and stored once per R rows, not once per row.
template <class A, class T, std::size_t R>
void layer_norm_param_rows(std::size_t n, const T* x, const T* mean, const T* rstd, const T* g,
                           T* pg, T* pb) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    B vm[R], vr[R];
    for (std::size_t r = 0; r < R; ++r) {
        vm[r] = B(mean[r]);
        vr[r] = B(rstd[r]);
    }
    for (std::size_t j = 0; j < n; j += L::size) {
        const std::size_t c = n - j < L::size ? n - j : L::size;
        B sg = pg ? L::load(pg + j, c, T(0)) : B(T(0));
        B sb = pb ? L::load(pb + j, c, T(0)) : B(T(0));
        for (std::size_t r = 0; r < R; ++r) {
            const B gv = L::load(g + r * n + j, c, T(0));
            if (pg) sg = xsimd::fma(gv, (L::load(x + r * n + j, c, T(0)) - vm[r]) * vr[r], sg);
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
                              T* pb) {
    for (std::size_t j = 0; j < n; ++j) {  // the chunk's column sums start at 0
        if (pg) pg[j] = T(0);
        if (pb) pb[j] = T(0);
    }
    constexpr std::size_t R = 4;
    for (std::size_t i0 = 0; i0 < rows; i0 += R) {
        const std::size_t block = rows - i0 < R ? rows - i0 : R;

        if (dx)
            for (std::size_t i = i0; i < i0 + block; ++i)
                detail::layer_norm_dx_row<A, T>(n, x + i * n, gamma, mean[i], rstd[i], g + i * n,
                                                beta_x, dx + i * n);
        if (!pg && !pb) continue;
        const T* xb = x + i0 * n;
        const T* gb = g + i0 * n;
        switch (block) {
            case 4:
                detail::layer_norm_param_rows<A, T, 4>(n, xb, mean + i0, rstd + i0, gb, pg, pb);
                break;
            case 3:
                detail::layer_norm_param_rows<A, T, 3>(n, xb, mean + i0, rstd + i0, gb, pg, pb);
                break;
            case 2:
                detail::layer_norm_param_rows<A, T, 2>(n, xb, mean + i0, rstd + i0, gb, pg, pb);
                break;
            default:
                detail::layer_norm_param_rows<A, T, 1>(n, xb, mean + i0, rstd + i0, gb, pg, pb);
        }
    }
}

}  // namespace fusegrad::kernels::simd

#define FUSEGRAD_INSTANTIATE_NORM_T(A, T)                                                      \
    template void fusegrad::kernels::simd::layer_norm_rows<A, T>(                              \
        std::size_t, std::size_t, const T*, const T*, const T*, T, T*, T*, T*);                \
    template void fusegrad::kernels::simd::layer_norm_rows_backward<A, T>(                     \
        std::size_t, std::size_t, const T*, const T*, const T*, const T*, const T*, T, T*, T*, \
        T*);
#define FUSEGRAD_INSTANTIATE_NORM(A)      \
    FUSEGRAD_INSTANTIATE_NORM_T(A, float) \
    FUSEGRAD_INSTANTIATE_NORM_T(A, double)
