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

/// team_gemm's buffers and body on the instruction set A (src/kernels/team_gemm.hpp states the
/// contract; the definitions are in simd/gemm.hpp).
template <class A, class T>
T* team_b_buffer(std::size_t n);
template <class A, class T>
void team_reserve();
template <class A, class T>
void team_gemm(std::size_t t, std::size_t nt, bool trans_a, bool trans_b, std::size_t m,
               std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda, const T* b,
               std::size_t ldb, T beta, T* c, std::size_t ldc, T* shared);

}  // namespace fusegrad::kernels::simd
