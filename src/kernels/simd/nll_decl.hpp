#pragma once
/// @file
/// Internal: the SIMD nll / nll_logp bodies (simd/nll.hpp), declared only, for the front doors.
/// Same arguments and semantics as the kernels of the same name in kernels.hpp.

#include <cstddef>

namespace fusegrad::kernels::simd {

template <class A, class T, class I>
void nll_index_rows(std::size_t m, std::size_t n, const T* p, const I* y, T* out);
template <class A, class T, class I>
void nll_index_rows_backward(std::size_t m, std::size_t n, const T* p, const I* y, const T* g,
                             T beta, T* dp);
template <class A, class T>
void nll_prob_rows(std::size_t m, std::size_t n, const T* p, const T* y, T* out);
template <class A, class T>
void nll_prob_rows_backward(std::size_t m, std::size_t n, const T* p, const T* y, const T* g,
                            T beta_p, T* dp, T beta_y, T* dy);

template <class A, class T, class I>
void nll_logp_index_rows_backward(std::size_t m, std::size_t n, const I* y, const T* g, T beta,
                                  T* dlogp);
template <class A, class T>
void nll_logp_prob_rows(std::size_t m, std::size_t n, const T* logp, const T* y, T* out);
template <class A, class T>
void nll_logp_prob_rows_backward(std::size_t m, std::size_t n, const T* logp, const T* y,
                                 const T* g, T beta_p, T* dlogp, T beta_y, T* dy);

}  // namespace fusegrad::kernels::simd
