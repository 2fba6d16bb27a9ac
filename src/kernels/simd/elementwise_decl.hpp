#pragma once
/// @file
/// Internal: the SIMD elementwise bodies (simd/elementwise.hpp), declared only, for the front
/// door. Same arguments and semantics as the kernels of the same name in kernels.hpp.

#include <cstddef>
#include <cstdint>

namespace fusegrad::kernels::simd {

template <class A, class T>
void fill(std::size_t n, T value, T* y);
template <class A, class T>
void axpby(std::size_t n, T alpha, const T* x, T beta, T* y);
template <class A, class T>
void add(std::size_t n, const T* a, const T* b, T* y);
template <class A, class T>
void add_scalar(std::size_t n, const T* a, T s, T* y);
template <class A, class T>
void add_row(std::size_t m, std::size_t n, const T* x, const T* row, T* y);
template <class A, class T>
void broadcast_row(std::size_t m, std::size_t n, const T* row, T* y);
template <class A, class T>
void exp(std::size_t n, const T* x, T* y);
template <class A, class T>
void log(std::size_t n, const T* x, T* y);
template <class A, class T>
void relu(std::size_t n, const T* x, T* y);
template <class A, class T>
void mul(std::size_t n, const T* a, const T* b, T beta, T* y);
template <class A, class T>
void div(std::size_t n, const T* a, const T* b, T beta, T* y);
template <class A, class T>
void relu_backward(std::size_t n, const T* x, const T* g, T beta, T* y);
/// `first`: the index of x[0] in the whole array (the mask is keyed by it).
template <class A, class T>
void dropout(std::size_t n, std::size_t first, const T* x, std::uint64_t key,
             std::uint64_t threshold, T scale, T beta, T* y);

}  // namespace fusegrad::kernels::simd
