#pragma once
/// @file
/// Internal: the SIMD bodies of the unary front door, declared only (see simd/unary.hpp).

#include <cstddef>

namespace fusegrad::kernels::simd {

template <class A, class T, class K>
void unary_forward(const K& k, std::size_t n, const T* x, T* y);

template <class A, class T, class K>
void unary_backward(const K& k, std::size_t n, const T* x, const T* y, const T* g, T beta, T* dx);

}  // namespace fusegrad::kernels::simd
