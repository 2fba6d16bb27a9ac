#pragma once
/// @file
/// Internal: the SIMD layer-norm bodies (simd/norm.hpp), declared only, for the front door
/// (src/kernels/norm.cpp). They work on one chunk of rows; the front door splits and combines.

#include <cstddef>

namespace fusegrad::kernels::simd {

/// layer_norm_rows over `rows` rows. `stream`: write y with non-temporal stores (the front door
/// decides from the output's size, stream_store_threshold() and its rows on 64-byte boundaries;
/// the body checks again that they are whole aligned batches), fenced before returning.
template <class A, class T>
void layer_norm_rows(std::size_t rows, std::size_t n, const T* x, const T* gamma, const T* beta,
                     T eps, T* y, T* mean, T* rstd, bool stream);
/// The backward over `rows` rows: dx as layer_norm_rows_backward (skipped when null), and the
/// chunk's own column sums pg[j] = Σ_i g_ij x̂_ij and pb[j] = Σ_i g_ij (overwritten; skipped when
/// null), summed in row order. `stream`: as above, for dx when beta_x is 0.
template <class A, class T>
void layer_norm_rows_backward(std::size_t rows, std::size_t n, const T* x, const T* gamma,
                              const T* mean, const T* rstd, const T* g, T beta_x, T* dx, T* pg,
                              T* pb, bool stream);

}  // namespace fusegrad::kernels::simd
