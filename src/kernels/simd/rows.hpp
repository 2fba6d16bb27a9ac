#pragma once
/// @file
/// Internal: the row front door's context against xsimd::batch<T, A> (see
/// fusegrad/kernels/rows.hpp): a row body's loops run batch by batch, the partial last batch
/// masked, so a row's result never depends on which chunk or thread runs it. Included only by
/// src/kernels/arch/rows.*.cpp.

#include <cstddef>

#include "batch_io.hpp"
#include "fusegrad/kernels/rows.hpp"
#include "row_ops.hpp"
#include "rows_decl.hpp"

namespace fusegrad::kernels::simd {

/// One row as a body sees it (Y is T* in the forward, const T* in the backward).
template <class A, class T, class Y>
struct simd_row : row_fields<T, Y> {
    using value_type = T;
    using vec = xsimd::batch<T, A>;
    using L = lanes<A, T>;
    using row_fields<T, Y>::n;
    using row_fields<T, Y>::dx;
    using row_fields<T, Y>::beta;

    T max(const T* p) const { return detail::row_max_or_nan<A, T>(n, p); }

    /// Σ_j f(p_j, ...): two interleaved accumulators over the full batches, then the tail's
    /// lanes (its loads padded with 0; the lanes past the row are dropped after f, so f may give
    /// anything there).
    template <class F, class... P>
    T sum(F f, const P*... p) const {
        vec s0(T(0)), s1(T(0));
        std::size_t j = 0;
        for (; j + 2 * L::size <= n; j += 2 * L::size) {
            s0 += f(vec::load_unaligned(p + j)...);
            s1 += f(vec::load_unaligned(p + j + L::size)...);
        }
        for (; j + L::size <= n; j += L::size) s0 += f(vec::load_unaligned(p + j)...);
        if (j < n)
            s1 += xsimd::select(tail_mask(n - j), f(L::load(p + j, n - j, T(0))...), vec(T(0)));
        return xsimd::hadd(s0 + s1);
    }

    /// out_j = f(p_j, ...).
    template <class F, class... P>
    void map(T* out, F f, const P*... p) const {
        std::size_t j = 0;
        for (; j + L::size <= n; j += L::size)
            f(vec::load_unaligned(p + j)...).store_unaligned(out + j);
        if (j < n) L::store(out + j, n - j, f(L::load(p + j, n - j, T(0))...));
    }

    /// dx_j = f(p_j, ...) + beta · dx_j; dx is not read when beta is 0.
    template <class F, class... P>
    void write_dx(F f, const P*... p) const {
        const vec vb(beta);
        std::size_t j = 0;
        for (; j + L::size <= n; j += L::size) {
            vec r = f(vec::load_unaligned(p + j)...);
            if (beta != T(0)) r = xsimd::fma(vb, vec::load_unaligned(dx + j), r);
            r.store_unaligned(dx + j);
        }
        if (j < n) {
            const std::size_t c = n - j;
            vec r = f(L::load(p + j, c, T(0))...);
            if (beta != T(0)) r = xsimd::fma(vb, L::load(dx + j, c, T(0)), r);
            L::store(dx + j, c, r);
        }
    }

    static vec exp_nonpositive(const vec& v) { return simd::exp_nonpositive<A, T>(v); }

  private:
    /// Lanes [0, c) set.
    static typename vec::batch_bool_type tail_mask(std::size_t c) {
        alignas(64) T index[L::size];
        for (std::size_t i = 0; i < L::size; ++i) index[i] = T(i);
        return vec::load_aligned(index) < vec(T(c));
    }
};

template <class A, class T, class K>
void row_forward(const K& k, std::size_t m, std::size_t n, const T* x, T* y) {
    const std::size_t ys = K::result == row_result::value ? 1 : n;
    for (std::size_t i = 0; i < m; ++i) k.forward(simd_row<A, T, T*>{{n, x + i * n, y + i * ys}});
}

template <class A, class T, class K>
void row_backward(const K& k, std::size_t m, std::size_t n, const T* x, const T* y, const T* g,
                  T beta, T* dx) {
    const std::size_t ys = K::result == row_result::value ? 1 : n;
    for (std::size_t i = 0; i < m; ++i)
        k.backward(simd_row<A, T, const T*>{
            {n, x ? x + i * n : nullptr, y ? y + i * ys : nullptr, g + i * ys, dx + i * n, beta}});
}

}  // namespace fusegrad::kernels::simd

// Explicit instantiations of one row body for the arch A, float and double.
#define FUSEGRAD_ROW_SIMD_INSTANTIATE_T(A, K, T)                                            \
    template void fusegrad::kernels::simd::row_forward<A, T, K>(const K&, std::size_t,      \
                                                                std::size_t, const T*, T*); \
    template void fusegrad::kernels::simd::row_backward<A, T, K>(                           \
        const K&, std::size_t, std::size_t, const T*, const T*, const T*, T, T*);
