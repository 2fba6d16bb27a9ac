#pragma once
/// @file
/// Internal: the binary front door's SIMD rows (simd/binary.hpp), declared only.

#include <cstddef>

#include "fusegrad/kernels/binary.hpp"

namespace fusegrad::kernels::simd {

template <class A, class T, class K>
void binary_forward(const K& k, std::size_t r0, std::size_t r1, std::size_t cols, const T* a,
                    layout la, const T* b, layout lb, T* y);

template <class A, class T, class K>
void binary_backward(const K& k, std::size_t r0, std::size_t r1, std::size_t cols, const T* a,
                     layout la, const T* b, layout lb, const T* y, const T* g, T* da, T beta_a,
                     T* db, T beta_b);

}  // namespace fusegrad::kernels::simd
