#pragma once
/// @file
/// Internal: the SIMD optimizer update bodies (simd/optim.hpp), declared only, for the front
/// door (src/kernels/optim.cpp), which also computes Adam's bias corrections.

#include <cstddef>

namespace fusegrad::kernels::simd {

/// sgd_update of fusegrad/kernels/optim.hpp.
template <class A, class T>
void sgd_update(std::size_t n, T lr, T momentum, T weight_decay, bool nesterov, const T* grad,
                T* velocity, T* param);
/// adam_update of fusegrad/kernels/optim.hpp, given b = β and c = 1 − β (each rounded from
/// double), step_size = lr / (1 − β1^t) and sqrt_bc2 = √(1 − β2^t).
template <class A, class T>
void adam_update(std::size_t n, T b1, T c1, T b2, T c2, T eps, T weight_decay, T step_size,
                 T sqrt_bc2, const T* grad, T* m, T* v, T* param);

}  // namespace fusegrad::kernels::simd
