#pragma once
/// @file
/// The kernel front door: every piece of arithmetic the engine does, on raw pointers.
///
/// Kernels never see an expression. They take pointers, sizes and leading dimensions of
/// row-major matrices. All are defined in src/kernels/ and explicitly instantiated for
/// `float` and `double` (label kernels also for `std::int32_t` and `std::int64_t` indices).
///
/// Conventions shared by every kernel:
/// - matrices are row-major; `m` rows, `n` columns; a leading dimension (`ld*`) is the distance
///   in elements between the starts of two consecutive stored rows (at least the stored row
///   length);
/// - a size of 0 is allowed everywhere; pointers to empty operands are never dereferenced;
/// - an output written with a `beta` argument becomes `result + beta * old`; when `beta == 0`
///   the old contents are never read (so an uninitialised or NaN buffer is fine), exactly as in
///   BLAS;
/// - inputs and outputs may alias only where a kernel says so.
///
/// The bodies here are plain loops: the scalar reference that SIMD versions are tested against.

#include <cstddef>
#include <cstdint>

namespace fusegrad::kernels {

/// C = alpha * op(A) * op(B) + beta * C, with op(X) = X or Xᵀ. op(A) is m×k, op(B) is k×n.
/// `lda`, `ldb`, `ldc` are the leading dimensions of A, B, C as stored (before op).
template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

// ---- elementwise over n contiguous elements ----------------------------------------------------

/// y[i] = value.
template <class T>
void fill(std::size_t n, T value, T* y);
/// y[i] = alpha * x[i] + beta * y[i]. x and y may be the same pointer.
template <class T>
void axpby(std::size_t n, T alpha, const T* x, T beta, T* y);
/// y[i] = a[i] + b[i]. y may alias a or b.
template <class T>
void add(std::size_t n, const T* a, const T* b, T* y);
/// y[i] = a[i] + s. y may alias a.
template <class T>
void add_scalar(std::size_t n, const T* a, T s, T* y);
/// y[i, j] = x[i, j] + row[j] for an m×n contiguous x and y. y may alias x.
template <class T>
void add_row(std::size_t m, std::size_t n, const T* x, const T* row, T* y);
/// y[i, j] = row[j] for an m×n contiguous y.
template <class T>
void broadcast_row(std::size_t m, std::size_t n, const T* row, T* y);
/// y[i] = exp(x[i]). y may alias x.
template <class T>
void exp(std::size_t n, const T* x, T* y);
/// y[i] = log(x[i]) (log 0 = -inf, log of a negative = NaN, as std::log). y may alias x.
template <class T>
void log(std::size_t n, const T* x, T* y);
/// y[i] = max(x[i], 0). y may alias x.
template <class T>
void relu(std::size_t n, const T* x, T* y);
/// y[i] = a[i] * b[i] + beta * y[i].
template <class T>
void mul(std::size_t n, const T* a, const T* b, T beta, T* y);
/// y[i] = a[i] / b[i] + beta * y[i].
template <class T>
void div(std::size_t n, const T* a, const T* b, T beta, T* y);
/// y[i] = (x[i] > 0 ? g[i] : 0) + beta * y[i]. (The subgradient at 0 is taken as 0.)
template <class T>
void relu_backward(std::size_t n, const T* x, const T* g, T beta, T* y);

// ---- reductions --------------------------------------------------------------------------------

/// Σ x[i], accumulated in blocks so that the rounding error grows like log n, not n.
template <class T>
T sum(std::size_t n, const T* x);
/// y[j] = Σ_i x[i, j] + beta * y[j] for an m×n contiguous x.
template <class T>
void col_sums(std::size_t m, std::size_t n, const T* x, T beta, T* y);

// ---- softmax family, row-wise over an m×n contiguous matrix ------------------------------------

/// y[i, :] = softmax(x[i, :]) = exp(x - max) / Σ exp(x - max). A row with one finite entry
/// and the rest -inf is fine; an all -inf row gives NaN. y may alias x.
template <class T>
void softmax_rows(std::size_t m, std::size_t n, const T* x, T* y);
/// y[i, :] = x[i, :] - max - log Σ exp(x - max). y may alias x.
template <class T>
void log_softmax_rows(std::size_t m, std::size_t n, const T* x, T* y);
/// dx = s ⊙ (g - rowsum(g ⊙ s)) + beta * dx, the softmax vjp with s = softmax(x), i.e.
/// gᵀ(diag(s) - s sᵀ) per row.
template <class T>
void softmax_rows_backward(std::size_t m, std::size_t n, const T* s, const T* g, T beta, T* dx);
/// dx = g - exp(ls) * rowsum(g) + beta * dx, the log-softmax vjp with ls = log_softmax(x).
template <class T>
void log_softmax_rows_backward(std::size_t m, std::size_t n, const T* ls, const T* g, T beta,
                               T* dx);

// ---- negative log-likelihood over probabilities, row-wise over an m×n contiguous p -----------

/// The first i in [0, m) with y[i] outside [0, classes), or m when every label is valid.
template <class I>
std::size_t first_label_out_of_range(std::size_t m, const I* y, std::size_t classes);
/// out[i] = -log p[i, y[i]]. Labels must be valid (see first_label_out_of_range).
template <class T, class I>
void nll_index_rows(std::size_t m, std::size_t n, const T* p, const I* y, T* out);
/// dp[i, j] = (j == y[i] ? -g[i] / p[i, j] : 0) + beta * dp[i, j].
template <class T, class I>
void nll_index_rows_backward(std::size_t m, std::size_t n, const T* p, const I* y, const T* g,
                             T beta, T* dp);
/// out[i] = -Σ_j y[i, j] log p[i, j], with the convention 0 · log 0 = 0 (a term whose target is
/// exactly 0 contributes nothing, even where p is 0).
template <class T>
void nll_prob_rows(std::size_t m, std::size_t n, const T* p, const T* y, T* out);
/// dp[i, j] = -g[i] y[i, j] / p[i, j] + beta_p * dp[i, j]   (0 where y[i, j] == 0), and
/// dy[i, j] = -g[i] log p[i, j]       + beta_y * dy[i, j]   (±inf where p[i, j] == 0 and g[i] != 0;
/// NaN where both are 0, as 0·∞).
/// Either output may be null, and is then skipped.
template <class T>
void nll_prob_rows_backward(std::size_t m, std::size_t n, const T* p, const T* y, const T* g,
                            T beta_p, T* dp, T beta_y, T* dy);

}  // namespace fusegrad::kernels
