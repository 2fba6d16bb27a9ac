#pragma once
/// @file
/// Internal: the binary front door's loops (binary_rows.hpp) on xsimd::batch<T, A>. Included
/// only by src/kernels/arch/binary.*.cpp.

#include <cstddef>

#include "../binary_rows.hpp"
#include "batch_io.hpp"
#include "binary_decl.hpp"

namespace fusegrad::kernels::simd {

/// The lane policy of binary_rows.hpp for one instruction set.
template <class A, class T>
struct batch_lanes {
    using L = lanes<A, T>;
    using batch = typename L::batch;
    static constexpr std::size_t size = L::size;
    static batch splat(T v) { return batch(v); }
    static batch loadu(const T* p) { return batch::load_unaligned(p); }
    static void storeu(T* p, const batch& v) { v.store_unaligned(p); }
    static batch load(const T* p, std::size_t count, T fill) { return L::load(p, count, fill); }
    static void store(T* p, std::size_t count, const batch& v) { L::store(p, count, v); }
    static T hsum(const batch& v) { return xsimd::hadd(v); }
};

template <class A, class T, class K>
void binary_forward(const K& k, std::size_t r0, std::size_t r1, std::size_t cols, const T* a,
                    layout la, const T* b, layout lb, T* y) {
    binary_rows::forward<batch_lanes<A, T>>(k, r0, r1, cols, a, la, b, lb, y);
}

template <class A, class T, class K>
void binary_backward(const K& k, std::size_t r0, std::size_t r1, std::size_t cols, const T* a,
                     layout la, const T* b, layout lb, const T* y, const T* g, T* da, T beta_a,
                     T* db, T beta_b) {
    binary_rows::backward<batch_lanes<A, T>>(k, r0, r1, cols, a, la, b, lb, y, g, da, beta_a, db,
                                             beta_b);
}

}  // namespace fusegrad::kernels::simd

// Explicit instantiations of one body for one arch and value type.
#define FUSEGRAD_BINARY_SIMD_INSTANTIATE_T(A, K, T)                                           \
    template void fusegrad::kernels::simd::binary_forward<A, T, K>(                           \
        const K&, std::size_t, std::size_t, std::size_t, const T*, fusegrad::kernels::layout, \
        const T*, fusegrad::kernels::layout, T*);                                             \
    template void fusegrad::kernels::simd::binary_backward<A, T, K>(                          \
        const K&, std::size_t, std::size_t, std::size_t, const T*, fusegrad::kernels::layout, \
        const T*, fusegrad::kernels::layout, const T*, const T*, T*, T, T*, T);
