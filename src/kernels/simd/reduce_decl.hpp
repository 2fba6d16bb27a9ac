#pragma once
/// @file
/// Internal: the SIMD reduction bodies (simd/reduce.hpp), declared only, for the front door.

#include <cstddef>

namespace fusegrad::kernels::simd {

/// Σ x[0..n) with four batch accumulators (n is at most one front-door chunk).
template <class A, class T>
T sum(std::size_t n, const T* x);
/// y[j] = Σ_i x[i * ld + j] + beta * y[j] for j in [0, n), i in [0, m): rows summed in blocks.
template <class A, class T>
void col_sums(std::size_t m, std::size_t n, const T* x, std::size_t ld, T beta, T* y);

}  // namespace fusegrad::kernels::simd
