#pragma once
/// @file
/// Internal: a GEMM computed together by the threads of a parallel region that the caller has
/// already opened (linear_xent's team), with op(B) packed once for all of them instead of once
/// per thread. Defined in gemm.cpp (the dispatch) and simd/gemm.hpp (the bodies).
///
/// Protocol, on every thread of the region (or on one thread outside any region, nt = 1):
/// 1. before the region, on the thread that opens it: `shared = team_gemm_buffer<T>(elements)`
///    with room for what the calls below need, team_gemm_shared_size(n) for team_gemm and
///    packed_b_size(k, n) per packed B (throws std::bad_alloc);
/// 2. inside the region, on every thread, before the first call and before a barrier:
///    `team_gemm_reserve<T>()` (throws std::bad_alloc; a thread that failed must make every
///    thread skip all team_gemm calls);
/// 3. `team_gemm(t, nt, ...)` on every thread with the same b, n, k and shared; each thread
///    passes its own rows of C (m of them, possibly none): a and c point at them. It never
///    throws, and it meets the other threads at barriers, so either every thread calls it or
///    none does. Every call starts with a barrier (nt > 1), on every instruction set and for
///    every shape: when it returns, every thread has finished what it did before the call.
/// 4. or, for a B that several products share (a W slice in linear_xent, reused by every row
///    block): `team_pack_b(t, nt, ...)` on every thread packs its share of op(B) once; after a
///    barrier (the caller's), `gemm_packed_b` multiplies this thread's rows by it, with no
///    barrier; before the buffer is packed again, another barrier.
///
/// Every element of C is computed as on the blocked GEMM path (the micro-kernel over the same
/// depth blocks in the same order), so the result does not depend on the thread count or on how
/// the rows are shared. It may differ in the last bits from kernels::gemm on the same operands
/// when that picks its skinny path (few columns).

#include <cstddef>

namespace fusegrad::kernels::detail {

/// The stored A of the products below (op(A) is it, or its transpose with trans_a): strided,
/// element (i, j) at a[i * lda + j]; or gathered, when rows is not null, at rows[i][off + j]
/// (a matrix whose rows are read where they lie, as kernels::gemm_rows reads them).
template <class T>
struct stored_a {
    const T* a = nullptr;
    std::size_t lda = 0;
    const T* const* rows = nullptr;
    std::size_t off = 0;

    /// The stored matrix from its element (i, j) on.
    stored_a at(std::size_t i, std::size_t j) const {
        if (rows == nullptr) return {a + i * lda + j, lda};
        return {nullptr, 0, rows + i, off + j};
    }
};

/// kernels::gemm on a stored_a: kernels::gemm, or kernels::gemm_rows (with an offset into the
/// rows), whose result is gemm's on the gathered copy, bit for bit.
template <class T>
void gemm_from(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
               const stored_a<T>& a, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

template <class T>
std::size_t team_gemm_shared_size(std::size_t n);

template <class T>
std::size_t packed_b_size(std::size_t k, std::size_t n);

template <class T>
T* team_gemm_buffer(std::size_t elements);

template <class T>
void team_gemm_reserve();

template <class T>
void team_gemm(std::size_t t, std::size_t nt, bool trans_a, bool trans_b, std::size_t m,
               std::size_t n, std::size_t k, T alpha, const stored_a<T>& a, const T* b,
               std::size_t ldb, T beta, T* c, std::size_t ldc, T* shared);

template <class T>
void team_pack_b(std::size_t t, std::size_t nt, bool trans_b, std::size_t k, std::size_t n,
                 const T* b, std::size_t ldb, T* packed);

template <class T>
void gemm_packed_b(bool trans_a, std::size_t m, std::size_t n, std::size_t k, T alpha,
                   const stored_a<T>& a, const T* packed, T beta, T* c, std::size_t ldc);

}  // namespace fusegrad::kernels::detail
