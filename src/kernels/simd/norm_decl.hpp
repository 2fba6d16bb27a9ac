#pragma once
/// @file
/// Internal: the SIMD layer-norm bodies (simd/norm.hpp), declared only, for the front door
/// (src/kernels/norm.cpp). They work on one chunk of rows; the front door splits and combines.

#include <cstddef>

namespace fusegrad::kernels::simd {

/// layer_norm_rows over `rows` rows. `stream`: write the full, aligned batches of the output
/// with non-temporal stores (the front door decides, from the output's size), fenced before
/// returning.
template <class A, class T>
void layer_norm_rows(std::size_t rows, std::size_t n, const T* x, const T* gamma, const T* beta,
                     T eps, T* y, T* mean, T* rstd);
/// The backward over `rows` rows: dx as layer_norm_rows_backward (skipped when null), and the
/// chunk's own column sums pg[j] = Σ_i g_ij x̂_ij and pb[j] = Σ_i g_ij (overwritten; skipped when
/// null), summed in row order.
template <class A, class T>
void layer_norm_rows_backward(std::size_t rows, std::size_t n, const T* x, const T* gamma,
                              const T* mean, const T* rstd, const T* g, T beta_x, T* dx, T* pg,
                              T* pb);

}  // namespace fusegrad::kernels::simd
