/// @file
/// The binary front door (fusegrad/kernels/binary.hpp): the scalar reference and every
/// instruction set run the same loops (binary_rows.hpp), over fixed chunks, on several threads
/// when large. Every body that names itself with FUSEGRAD_BINARY_KERNEL is instantiated here, by
/// including every body header.
///
/// Threads: rows are independent unless a gradient is summed across rows (a row or scalar
/// operand with a gradient); such a backward runs its rows in order on one thread, so the sum's
/// order never depends on the thread count.

#define FUSEGRAD_BINARY_KERNEL(K)                                                                  \
    template void fusegrad::kernels::binary_forward<K, float>(                                     \
        const K&, std::size_t, std::size_t, const float*, fusegrad::kernels::layout, const float*, \
        fusegrad::kernels::layout, float*);                                                        \
    template void fusegrad::kernels::binary_forward<K, double>(                                    \
        const K&, std::size_t, std::size_t, const double*, fusegrad::kernels::layout,              \
        const double*, fusegrad::kernels::layout, double*);                                        \
    template void fusegrad::kernels::binary_backward<K, float>(                                    \
        const K&, std::size_t, std::size_t, const float*, fusegrad::kernels::layout, const float*, \
        fusegrad::kernels::layout, const float*, const float*, float*, float, float*, float);      \
    template void fusegrad::kernels::binary_backward<K, double>(                                   \
        const K&, std::size_t, std::size_t, const double*, fusegrad::kernels::layout,              \
        const double*, fusegrad::kernels::layout, const double*, const double*, double*, double,   \
        double*, double);

// Defined before any include of fusegrad/kernels/binary.hpp, which otherwise defines it empty.
#include <algorithm>
#include <cstddef>
#include <string>

#include "binary_rows.hpp"  // includes fusegrad/kernels/binary.hpp
#include "body_names.hpp"
#include "dispatch.hpp"
#include "fusegrad/kernels/trace.hpp"
#include "parallel.hpp"
#include "simd/binary_decl.hpp"

namespace fusegrad::kernels {

namespace {
constexpr std::size_t kBinaryChunk = std::size_t(1) << 15;  // elements, as the other kernels
constexpr std::size_t kBinaryWork = 2;

/// The lane policy of the scalar reference: one lane.
template <class T>
struct scalar_lanes {
    using batch = T;
    static constexpr std::size_t size = 1;
    static T splat(T v) { return v; }
    static T loadu(const T* p) { return *p; }
    static void storeu(T* p, T v) { *p = v; }
    static T load(const T* p, std::size_t, T) { return *p; }
    static void store(T* p, std::size_t, T v) { *p = v; }
    static T hsum(T v) { return v; }
};

bool elementwise(layout l) {
    return l == layout::full || l == layout::scalar;
}
bool summed_across_rows(const void* dx, layout l) {
    return dx != nullptr && (l == layout::row || l == layout::scalar);
}

}  // namespace

template <class K, class T>
void binary_forward(const K& k, std::size_t rows, std::size_t cols, const T* a, layout la,
                    const T* b, layout lb, T* y) {
    detail::trace_call(K::name);
    detail::dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        auto rows_of = [&](std::size_t r0, std::size_t r1, std::size_t n, const T* pa, const T* pb,
                           T* py) {
            if constexpr (detail::is_scalar_v<A>)
                binary_rows::forward<scalar_lanes<T>>(k, r0, r1, n, pa, la, pb, lb, py);
            else
                simd::binary_forward<A, T, K>(k, r0, r1, n, pa, la, pb, lb, py);
        };
        if (elementwise(la) && elementwise(lb)) {  // one span, cut anywhere
            detail::for_each_chunk(rows * cols, kBinaryChunk, kBinaryWork,
                                   [&](std::size_t, std::size_t s, std::size_t e) {
                                       rows_of(0, 1, e - s, la == layout::full ? a + s : a,
                                               lb == layout::full ? b + s : b, y + s);
                                   });
        } else {
            const std::size_t chunk_rows =
                std::max<std::size_t>(1, kBinaryChunk / std::max<std::size_t>(cols, 1));
            detail::for_each_chunk(rows, chunk_rows, kBinaryWork * cols,
                                   [&](std::size_t, std::size_t r0, std::size_t r1) {
                                       rows_of(r0, r1, cols, a, b, y);
                                   });
        }
    });
}

template <class K, class T>
void binary_backward(const K& k, std::size_t rows, std::size_t cols, const T* a, layout la,
                     const T* b, layout lb, const T* y, const T* g, T* da, T beta_a, T* db,
                     T beta_b) {
    if (da == nullptr && db == nullptr) return;
    detail::trace_call(detail::backward_name<K>());
    detail::dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        auto rows_of = [&](std::size_t r0, std::size_t r1, std::size_t n, std::size_t off) {
            // off: the element offset of a span (the elementwise case), else 0
            const T* pa = a && la == layout::full ? a + off : a;
            const T* pb = b && lb == layout::full ? b + off : b;
            const T* py = y ? y + off : nullptr;
            T* pda = da && la == layout::full ? da + off : da;
            T* pdb = db && lb == layout::full ? db + off : db;
            if constexpr (detail::is_scalar_v<A>)
                binary_rows::backward<scalar_lanes<T>>(k, r0, r1, n, pa, la, pb, lb, py, g + off,
                                                       pda, beta_a, pdb, beta_b);
            else
                simd::binary_backward<A, T, K>(k, r0, r1, n, pa, la, pb, lb, py, g + off, pda,
                                               beta_a, pdb, beta_b);
        };
        if (summed_across_rows(da, la) || summed_across_rows(db, lb)) {
            rows_of(0, rows, cols, 0);  // every row, in order, on this thread
        } else if (elementwise(la) && elementwise(lb)) {
            detail::for_each_chunk(
                rows * cols, kBinaryChunk, kBinaryWork,
                [&](std::size_t, std::size_t s, std::size_t e) { rows_of(0, 1, e - s, s); });
        } else {
            const std::size_t chunk_rows =
                std::max<std::size_t>(1, kBinaryChunk / std::max<std::size_t>(cols, 1));
            detail::for_each_chunk(
                rows, chunk_rows, kBinaryWork * cols,
                [&](std::size_t, std::size_t r0, std::size_t r1) { rows_of(r0, r1, cols, 0); });
        }
    });
}

}  // namespace fusegrad::kernels

// Every op body (include/fusegrad/kernels/bodies/): each FUSEGRAD_BINARY_KERNEL line
// instantiates the front door above.
#include "fusegrad_bodies.hpp"  // generated by CMake: every kernels/bodies/*.hpp
