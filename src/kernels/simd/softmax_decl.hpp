#pragma once
/// @file
/// Internal: the SIMD softmax-family bodies (simd/softmax.hpp), declared only, for the front
/// door. Same arguments and semantics as the kernels of the same name in kernels.hpp.

#include <cstddef>

namespace fusegrad::kernels::simd {

template <class A, class T>
void softmax_rows(std::size_t m, std::size_t n, const T* x, T* y);
template <class A, class T>
void log_softmax_rows(std::size_t m, std::size_t n, const T* x, T* y);
template <class A, class T>
void softmax_rows_backward(std::size_t m, std::size_t n, const T* s, const T* g, T beta, T* dx);
template <class A, class T>
void log_softmax_rows_backward(std::size_t m, std::size_t n, const T* ls, const T* g, T beta,
                               T* dx);
}  // namespace fusegrad::kernels::simd
