#pragma once
/// @file
/// Internal: the SIMD bodies of the row front door, declared only (see simd/rows.hpp).

#include <cstddef>

namespace fusegrad::kernels::simd {

/// Row i as a body sees it, without the loops (the scalar and SIMD row contexts derive from
/// it): Y is T* in the forward, const T* in the backward; g, dx and beta are the backward's.
template <class T, class Y>
struct row_fields {
    std::size_t n = 0;
    const T* x = nullptr;
    Y y = nullptr;
    const T* g = nullptr;
    T* dx = nullptr;
    T beta = T(0);
};

template <class A, class T, class K>
void row_forward(const K& k, std::size_t m, std::size_t n, const T* x, T* y);

template <class A, class T, class K>
void row_backward(const K& k, std::size_t m, std::size_t n, const T* x, const T* y, const T* g,
                  T beta, T* dx);

}  // namespace fusegrad::kernels::simd
