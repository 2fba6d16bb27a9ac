#pragma once
/// @file
/// Internal: the SIMD GEMM body, declared only. The front door (src/kernels/gemm.cpp) includes
/// this; the definitions live in simd/gemm.hpp and are instantiated per instruction set by
/// src/kernels/arch/gemm.<arch>.cpp.

#include <cstddef>

namespace fusegrad::kernels::simd {

/// C = alpha * op(A) * op(B) + beta * C on the instruction set A, with the contract of
/// fusegrad::kernels::gemm; the front door has already handled m == 0, n == 0 and k == 0.
template <class A, class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

/// kernels::gemm_rows on the instruction set A (the front door has handled m, n or k == 0), the
/// stored A's row i at a_rows[i] + a_off.
template <class A, class T>
void gemm_rows(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
               const T* const* a_rows, std::size_t a_off, const T* b, std::size_t ldb, T beta, T* c,
               std::size_t ldc);

/// The pieces of src/kernels/team_gemm.hpp on the instruction set A (that file states the
/// contract; the definitions are in simd/gemm.hpp, instantiated per set). A is strided (a, lda)
/// or, when a_rows is not null, gathered (row i at a_rows[i] + a_off; detail::stored_a).
template <class A, class T>
struct team_ops {
    static std::size_t shared_size(std::size_t n);
    static std::size_t packed_size(std::size_t k, std::size_t n);
    static T* buffer(std::size_t elements);
    static void reserve();
    static void gemm(std::size_t t, std::size_t nt, bool trans_a, bool trans_b, std::size_t m,
                     std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                     const T* const* a_rows, std::size_t a_off, const T* b, std::size_t ldb, T beta,
                     T* c, std::size_t ldc, T* shared);
    static void pack(std::size_t t, std::size_t nt, bool trans_b, std::size_t k, std::size_t n,
                     const T* b, std::size_t ldb, T* packed);
    static void gemm_packed(bool trans_a, std::size_t m, std::size_t n, std::size_t k, T alpha,
                            const T* a, std::size_t lda, const T* const* a_rows, std::size_t a_off,
                            const T* packed, T beta, T* c, std::size_t ldc);
};

}  // namespace fusegrad::kernels::simd
