#pragma once
/// @file
/// Internal: the unary front door's bodies against xsimd::batch<T, A>: one op body (see
/// fusegrad/kernels/unary.hpp) mapped batch by batch, the partial last batch included, so a
/// result never depends on where a chunk starts. Included only by src/kernels/arch/unary.*.cpp.

#include <cstddef>

#include "batch_io.hpp"
#include "fusegrad/core/keeps.hpp"
#include "unary_decl.hpp"

namespace fusegrad::kernels::simd {

template <class A, class T, class K>
void unary_forward(const K& k, std::size_t n, const T* x, T* y) {
    using L = lanes<A, T>;
    std::size_t j = 0;
    for (; j + L::size <= n; j += L::size)
        k.forward(L::batch::load_unaligned(x + j)).store_unaligned(y + j);
    if (j < n) L::store(y + j, n - j, k.forward(L::load(x + j, n - j, T(0))));
}

// Full batches, then the tail, as in simd/elementwise.hpp. The per-arch files of this body are
// compiled without GCC's auto-vectorizer (CMakeLists.txt): g++ 12 -O3 -mavx512f, with both the
// loop and the SLP vectorizer on, miscompiled this loop for silu and softplus in double (lanes
// 1..7 of the first batch lost `beta · dx`), while -O2, either vectorizer off, or clang 14 gave
// the right result. The bodies are vectorized by hand already; the vectorizer adds nothing here.
template <class A, class T, class K>
void unary_backward(const K& k, std::size_t n, const T* x, const T* y, const T* g, T beta, T* dx) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    constexpr bool wants_x = K::kept.has_operand(0), wants_y = K::kept.has_output();
    std::size_t j = 0;
    for (; j + L::size <= n; j += L::size) {
        const B bx = wants_x ? B::load_unaligned(x + j) : B(T(0));
        const B by = wants_y ? B::load_unaligned(y + j) : B(T(0));
        B r = k.backward(bx, by, B::load_unaligned(g + j));
        if (beta != T(0)) r = r + B(beta) * B::load_unaligned(dx + j);
        r.store_unaligned(dx + j);
    }
    if (j < n) {
        const std::size_t c = n - j;
        const B bx = wants_x ? L::load(x + j, c, T(0)) : B(T(0));
        const B by = wants_y ? L::load(y + j, c, T(0)) : B(T(0));
        B r = k.backward(bx, by, L::load(g + j, c, T(0)));
        if (beta != T(0)) r = r + B(beta) * L::load(dx + j, c, T(0));
        L::store(dx + j, c, r);
    }
}

}  // namespace fusegrad::kernels::simd

// Explicit instantiations of one body for the arch FUSEGRAD_UNARY_ARCH, float and double.
#define FUSEGRAD_UNARY_SIMD_INSTANTIATE_T(A, K, T)                                                 \
    template void fusegrad::kernels::simd::unary_forward<A, T, K>(const K&, std::size_t, const T*, \
                                                                  T*);                             \
    template void fusegrad::kernels::simd::unary_backward<A, T, K>(                                \
        const K&, std::size_t, const T*, const T*, const T*, T, T*);
