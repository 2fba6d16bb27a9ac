#pragma once
/// @file
/// Internal: the SIMD fused softmax cross-entropy bodies (simd/softmax_xent.hpp), declared only,
/// for the front door. Same arguments and semantics as the kernels of the same name in
/// kernels.hpp; the forward returns the plain sum of its (at most 256) rows' losses.

#include <cstddef>

#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad::kernels::simd {

template <class A, class T, class I>
T softmax_xent_index_rows(std::size_t m, std::size_t n, const T* s, const I* y,
                          const xent_targets<T>& targets, T alpha, const T* row_scale, T* loss,
                          T* stats);
template <class A, class T, class I>
void softmax_xent_index_rows_backward(std::size_t m, std::size_t n, const T* s, const I* y,
                                      const xent_targets<T>& targets, T alpha, const T* row_scale,
                                      const T* stats, T beta, T* ds);
template <class A, class T>
T softmax_xent_prob_rows(std::size_t m, std::size_t n, const T* s, const T* y,
                         const xent_targets<T>& targets, T alpha, const T* row_scale, T* loss,
                         T* stats);
template <class A, class T>
void softmax_xent_prob_rows_backward(std::size_t m, std::size_t n, const T* s, const T* y,
                                     const xent_targets<T>& targets, T alpha, const T* row_scale,
                                     const T* stats, T beta_s, T* ds, T beta_y, T* dy);

template <class A, class T, class I>
T softmax_xent_index_rows_fused(std::size_t m, std::size_t n, const T* s, const I* y,
                                const xent_targets<T>& targets, T alpha, T* loss, T* ds);
template <class A, class T>
T softmax_xent_prob_rows_fused(std::size_t m, std::size_t n, const T* s, const T* y,
                               const xent_targets<T>& targets, T alpha, T* loss, T* ds);

}  // namespace fusegrad::kernels::simd
