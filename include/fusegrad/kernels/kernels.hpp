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
/// Each kernel has a plain-loop scalar reference and, except the label checks and
/// nll_logp_index_rows (one load per row, nothing to vectorise: scalar on every set), a SIMD
/// body per instruction set chosen at run time (see arch.hpp and docs/kernels.md for the
/// accuracy of each against the reference); large problems are split over OpenMP threads in
/// fixed chunks, so results do not depend on the thread count.

#include <cstddef>
#include <cstdint>

#include "fusegrad/kernels/arch.hpp"

namespace fusegrad::kernels {

/// C = alpha * op(A) * op(B) + beta * C, with op(X) = X or Xᵀ. op(A) is m×k, op(B) is k×n.
/// `lda`, `ldb`, `ldc` are the leading dimensions of A, B, C as stored (before op).
template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

/// gemm with A's rows read through pointers, for a matrix gathered by index (the rows of a
/// dataset or an embedding table picked by a batch's indices) without copying it first: the
/// rows are read where they lie, as the product packs them. Row r of A is a_rows[r]: m rows of
/// k values when !trans_a (op(A) = A), k rows of m values when trans_a (op(A) = Aᵀ). The
/// result is the same, bit for bit, as gemm's on the gathered copy of A (the same paths, blocks
/// and order of sums; tests/kernels/test_gemm.cpp).
template <class T>
void gemm_rows(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
               const T* const* a_rows, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

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
/// y[i] = (x[i] <= 0 ? 0 : g[i]) + beta * y[i], as PyTorch's threshold_backward: the subgradient
/// at 0 is taken as 0, and a NaN x passes g.
template <class T>
void relu_backward(std::size_t n, const T* x, const T* g, T beta, T* y);

/// splitmix64's finaliser: a bijection of 64-bit words that mixes every bit (dropout's hash).
constexpr std::uint64_t splitmix64(std::uint64_t z) noexcept {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/// Dropout's mask applied: y[i] = x[i] · (kept(i) ? scale : 0) + beta · y[i], where element i is
/// kept when (splitmix64(key + i) >> 11) >= threshold (a uniform 53-bit draw: kept with
/// probability 1 − threshold / 2⁵³). The mask depends on i alone, so it is the same for any
/// chunking and thread count. A dropped element is x · 0, as PyTorch's x · mask · scale: 0, or
/// NaN where x is ±inf or NaN.
template <class T>
void dropout(std::size_t n, const T* x, std::uint64_t key, std::uint64_t threshold, T scale, T beta,
             T* y);

// ---- reductions --------------------------------------------------------------------------------

/// Σ x[i], accumulated in blocks so that the rounding error grows like log n, not n.
template <class T>
T sum(std::size_t n, const T* x);
/// y[j] = Σ_i x[i, j] + beta * y[j] for an m×n contiguous x.
template <class T>
void col_sums(std::size_t m, std::size_t n, const T* x, T beta, T* y);
/// The same over the m×n block of a matrix whose rows are `ld` apart (ld ≥ n). Each column is
/// summed on its own, in the same order as by col_sums, so a block of columns gets the same bits
/// as the same columns of a wider call.
template <class T>
void col_sums_ld(std::size_t m, std::size_t n, const T* x, std::size_t ld, T beta, T* y);

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
// The row reductions logsumexp and max_rows are row bodies run by the row front door
// (fusegrad/kernels/rows.hpp, src/kernels/rows.cpp); these three keep the names they had before.

/// out[i] = max_j x[i, j] + log Σ_j e^{x[i, j] − max}, the row's log-sum-exp, m outputs. A row
/// with a NaN gives NaN, a row whose max is ±inf gives that max, a row of no entries (n = 0)
/// gives −inf (the log of an empty sum), as torch.logsumexp.
template <class T>
void logsumexp_rows(std::size_t m, std::size_t n, const T* x, T* out);
/// dx[i, j] = g[i] · e^{x[i, j] − lse[i]} + beta · dx[i, j]: g[i] times the row's softmax, with
/// lse the forward's output.
template <class T>
void logsumexp_rows_backward(std::size_t m, std::size_t n, const T* x, const T* lse, const T* g,
                             T beta, T* dx);
/// out[i] = max_j x[i, j], or NaN when row i has a NaN (and for n = 0: no maximum).
template <class T>
void max_rows(std::size_t m, std::size_t n, const T* x, T* out);

// ---- layer normalisation, row-wise over an m×n contiguous matrix (src/kernels/norm.cpp) -------

/// y[i, j] = (x[i, j] − μ_i) · r_i · gamma[j] + beta[j], with μ_i the row's mean and
/// r_i = 1 / sqrt(var_i + eps), var_i the biased variance from a second pass over (x − μ_i)² (no
/// E[x²] − E[x]² cancellation). Writes mean[i] = μ_i and rstd[i] = r_i (m each). y may alias x.
template <class T>
void layer_norm_rows(std::size_t m, std::size_t n, const T* x, const T* gamma, const T* beta, T eps,
                     T* y, T* mean, T* rstd);
/// Scratch elements layer_norm_rows_backward needs for m×n: the per-chunk partial sums of
/// dgamma and dbeta (0 when everything is one chunk).
std::size_t layer_norm_backward_scratch(std::size_t m, std::size_t n);
/// The backward of layer_norm_rows, with mean and rstd from its forward, h = g ⊙ gamma and
/// x̂ = (x − μ) r:
///   dx[i, j]  = r_i (h_ij − mean_j h_i − x̂_ij mean_j(h_i ⊙ x̂_i)) + beta_x · dx[i, j],
///   dgamma[j] = Σ_i g_ij x̂_ij + beta_gamma · dgamma[j],   dbeta[j] = Σ_i g_ij + beta_beta ·
///   dbeta[j],
/// reading g and x from memory once (four rows at a time: their means, then one sweep over them
/// in cache). Any of dx, dgamma, dbeta may be null (skipped). The column sums run
/// over fixed chunks of rows, each chunk's partial sums kept in `scratch`
/// (layer_norm_backward_scratch(m, n) elements) and added in chunk order: the result is bitwise
/// the same for every thread count.
template <class T>
void layer_norm_rows_backward(std::size_t m, std::size_t n, const T* x, const T* gamma,
                              const T* mean, const T* rstd, const T* g, T beta_x, T* dx,
                              T beta_gamma, T* dgamma, T beta_beta, T* dbeta, T* scratch);

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

// ==== fused softmax cross-entropy (src/kernels/softmax_xent.cpp) ===============================
//
// Row i of an m×n contiguous logits matrix s is compared with a target row t[i, :]:
//   loss_i = Σ_j t_ij (lse_i − s_ij) = −Σ_j t_ij log softmax(s)_ij,   lse_i = log Σ_j e^{s_ij},
//   ∂loss_i/∂s_ij = T_i softmax(s)_ij − t_ij,   T_i = Σ_j t_ij   (softmax − t for a one-hot t).
// Each kernel describes t from its labels and an `xent_targets` (below). The loss never goes
// through log(softmax): it is (max − s_ij) + log Σ e^{s − max}, all terms non-negative.
//
// Every row carries a scale r_i = alpha · (row_scale ? row_scale[i] : 1): the forward writes
// r_i · loss_i, the backward r_i · ∂loss_i/∂s_i. That is how a caller expresses reductions
// (alpha = 1/N for a mean, row_scale = the upstream gradient for a per-row loss).
//
// Numerics: one streaming read per row keeps a running max M and a running Σ e^{s − M},
// rescaled by e^{M_old − M_new} when the max grows (the online-softmax recurrence), so logits
// of ±1e4 are fine. A −inf entry (a masked class) adds nothing; its softmax is exactly 0, so
// its gradient is exactly −r_i t_ij, as long as the row has one finite entry. An all −inf row,
// or a NaN anywhere in a row, gives NaN for that row. So does a +inf logit (its softmax would
// be ∞/∞; PyTorch gives NaN too), on every instruction set. A term whose target t_ij is exactly
// 0 contributes nothing even where s_ij = −inf (0 · ∞ = 0, as in nll).
//
// Optional row statistics: the forward can store, for each row, the max and log Σ e^{s − max}
// (2m values, interleaved) and the backward can read them instead of redoing the first pass.
// Two numbers rather than their sum: in float, max + log Σ rounded to one number would lose
// about |max| · 6e-8 (6e-4 at 1e4) in every softmax.

/// How the softmax cross-entropy kernels build the target rows t.
///   index targets (label y_i): t_i = (1 − ε) c_{y_i} e_{y_i} + (ε / n) c,  and t_i = 0 when
///                              y_i equals the ignore index (loss 0, gradient 0);
///   probability targets y:     t_ij = c_j ((1 − ε) y_ij + ε / n).
/// c is the per-class weight vector (all 1 when null) and ε the label smoothing: PyTorch's
/// cross_entropy with `weight` and `label_smoothing`.
template <class T>
struct xent_targets {
    const T* class_weights = nullptr;  ///< n weights c_j, or null for all 1
    T smoothing = T(0);                ///< ε: the share of the target spread uniformly
    bool has_ignore_index = false;     ///< index targets only: whether ignore_index is used
    std::int64_t ignore_index = 0;     ///< index targets only: the label of ignored rows
};

/// The first i in [0, m) whose label is outside [0, classes) and is not the ignore index of
/// `targets`, or m when every label is valid.
template <class T, class I>
std::size_t xent_first_bad_label(std::size_t m, const I* y, std::size_t classes,
                                 const xent_targets<T>& targets);

/// Σ over the rows that are not ignored of c_{y_i} (their count when there are no weights):
/// the divisor of a weighted mean. Labels must be valid (see xent_first_bad_label).
template <class T, class I>
T xent_index_weight_total(std::size_t m, const I* y, const xent_targets<T>& targets);

/// Forward with class indices y. loss[i] = r_i · loss_i when `loss` is not null; `stats` (2m,
/// may be null) receives the row statistics. Returns Σ_i r_i · loss_i, summed in blocks.
/// Labels must be valid; the label of an ignored row is never used as an index.
template <class T, class I>
T softmax_xent_index_rows(std::size_t m, std::size_t n, const T* s, const I* y,
                          const xent_targets<T>& targets, T alpha, const T* row_scale, T* loss,
                          T* stats);
/// Backward with class indices y: ds = r_i · (T_i softmax(s_i) − t_i) + beta · ds (0 + beta · ds
/// in an ignored row). `stats` is the forward's output for the same s, or null to recompute it.
template <class T, class I>
void softmax_xent_index_rows_backward(std::size_t m, std::size_t n, const T* s, const I* y,
                                      const xent_targets<T>& targets, T alpha, const T* row_scale,
                                      const T* stats, T beta, T* ds);
/// Forward with probability (or one-hot) targets y, an m×n contiguous matrix; otherwise as
/// softmax_xent_index_rows (the ignore index does not apply).
template <class T>
T softmax_xent_prob_rows(std::size_t m, std::size_t n, const T* s, const T* y,
                         const xent_targets<T>& targets, T alpha, const T* row_scale, T* loss,
                         T* stats);
/// Backward with probability targets:
///   ds_ij = r_i (T_i softmax(s)_ij − t_ij)              + beta_s · ds_ij,
///   dy_ij = r_i (1 − ε) c_j (lse_i − s_ij)  (∂loss/∂y)  + beta_y · dy_ij,
/// dy being 0 where r_i (1 − ε) c_j is 0 and +inf at a −inf logit otherwise. Either output may
/// be null, and is then skipped.
template <class T>
void softmax_xent_prob_rows_backward(std::size_t m, std::size_t n, const T* s, const T* y,
                                     const xent_targets<T>& targets, T alpha, const T* row_scale,
                                     const T* stats, T beta_s, T* ds, T beta_y, T* dy);

// Fused forward + backward: when the gradient is wanted anyway, one call does both with one
// exp per element and one read of s and one write of ds from memory. Per row: a max pass, a pass
// writing e^{s − max} into ds while summing it, and an in-place pass over ds (by then in cache)
// writing the gradient (rows narrower than 32: 32 rows at a time, one exp over the block). No
// row statistics, no row_scale, no beta: the gradient is written, not accumulated, and ds must
// not alias s. The losses are unscaled; alpha scales only the gradient. An ignored row has loss
// 0 and a gradient row of exact zeros. Losses agree with the forward kernel to rounding (the
// sums run in another order), gradients with the backward kernel to a few ulp of alpha · T_i.

/// Forward and backward in one pass over each row: returns Σ_i loss_i (no alpha), writes the
/// per-row losses to `loss` when not null, and overwrites ds (m×n) with
/// alpha · (T_i softmax(s_i) − t_i), the gradient of alpha · Σ_i loss_i. Labels must be valid.
template <class T, class I>
T softmax_xent_index_rows_fused(std::size_t m, std::size_t n, const T* s, const I* y,
                                const xent_targets<T>& targets, T alpha, T* loss, T* ds);
/// The same for a probability / one-hot target matrix y (m×n); no gradient for y.
template <class T>
T softmax_xent_prob_rows_fused(std::size_t m, std::size_t n, const T* s, const T* y,
                               const xent_targets<T>& targets, T alpha, T* loss, T* ds);

// ==== fused linear + softmax cross-entropy (src/kernels/linear_xent.cpp) =======================
//
// The cross-entropy of the logits s = softcap(x·W + b) against class indices, without ever
// holding the N×C logits: x is N×D, W is D×C (in × out, as fg::linear), b has C entries (or is
// null: no bias). Row i's loss is that of softmax_xent_index_rows (same targets t_i, same
// conventions), plus a z-loss λ · lse_i² when λ ≠ 0 (lse_i = log Σ_j e^{s_ij}); an ignored row
// has loss 0, z-loss included. softcap(z) = c · tanh(z / c) when c > 0, the identity when c = 0.
//
// The work is cut into tiles of at most tile_rows × tile_classes logits, fixed by the shapes
// (linear_xent_tiling), never by the thread count. The forward computes each tile by GEMM into
// the workspace and folds it into a running row max M_i and Σ e^{s − M_i}, as the online softmax
// does; the backward recomputes each tile, turns it into G = ∂loss/∂s · ∂s/∂z in place and
// accumulates dx += G·W_tileᵀ, dW_tile += x_blockᵀ·G and db_tile += Σ_rows G. Threads share a
// tile's rows (and dW's) and pack each GEMM's B together: results are bitwise the same for
// every thread count. With one tile and no soft-cap the forward leaves its e^{s − M} in the
// tile and the backward starts from it: nothing is computed twice (small C).

/// The tile grid of a fused linear cross-entropy.
struct linear_xent_tiles {
    std::size_t rows = 0;     ///< tile height (rows of x per tile)
    std::size_t classes = 0;  ///< tile width (classes per tile)
    bool kept = false;        ///< one tile holds everything: the backward reuses the forward's
    /// Elements of T the kernels need as workspace for N rows: two tiles, 4 numbers per row (the
    /// row max, log Σ e^{s − max}, the smoothing term and the target logit) and 3 flags.
    std::size_t workspace(std::size_t n) const { return 2 * rows * classes + 4 * n + 3; }
};

/// The tiles for N rows and C classes: at most `tile_rows` × `tile_classes` when they are not 0,
/// else chosen from the shapes (at most 128 Ki logits per tile, at most 512 classes wide).
linear_xent_tiles linear_xent_tiling(std::size_t n, std::size_t classes, std::size_t tile_rows,
                                     std::size_t tile_classes, bool softcap);

/// The operands and options of a fused linear cross-entropy.
template <class T>
struct linear_xent_problem {
    std::size_t n = 0, depth = 0, classes = 0;  ///< N, D, C
    const T* x = nullptr;                       ///< N×D, contiguous
    const T* w = nullptr;                       ///< D×C, contiguous
    const T* b = nullptr;                       ///< C entries, or null for no bias
    xent_targets<T> targets{};                  ///< weights, smoothing, ignore index
    T z_loss = T(0);                            ///< λ
    T softcap = T(0);                           ///< c, or 0 for none
    linear_xent_tiles tiles{};                  ///< from linear_xent_tiling
    /// Instead of x, when not null: row i of x at x_rows[i] (D values), read where it lies as
    /// the GEMMs pack it (kernels::gemm_rows); every result is bitwise the one on the gathered
    /// copy. dx is still N×D, contiguous.
    const T* const* x_rows = nullptr;
};

/// What the forward sums: Σ_i CE_i (the cross-entropy part) and Σ_i lse_i² over the rows that
/// are not ignored (the z-loss part before λ).
template <class T>
struct linear_xent_totals {
    T cross_entropy = T(0);
    T lse_squared = T(0);
};

/// Forward. `work` has p.tiles.workspace(N) elements; on return it holds the row statistics the
/// backward needs. loss[i] = CE_i + λ lse_i² when `loss` is not null. Labels must be valid (see
/// xent_first_bad_label).
///
/// gradient_scale ≠ 0 says a backward with ce_scale = gradient_scale and no row_scale follows
/// (graph::run() of a loss): with a kept tiling and no z-loss the forward then also writes that
/// gradient tile, in the same pass as the loss (softmax_xent_index_rows_fused: one exp per
/// logit), and the backward only multiplies it into dx, dW and db.
template <class T, class I>
linear_xent_totals<T> linear_xent_forward(const linear_xent_problem<T>& p, const I* y, T* loss,
                                          T* work, T gradient_scale = T(0));

/// Backward after linear_xent_forward on the same operands and `work`: with
/// r_i = ce_scale · (row_scale ? row_scale[i] : 1) and q_i = z_scale · (row_scale ? row_scale[i]
/// : 1), the gradient of Σ_i r_i CE_i + q_i λ lse_i², added as dx = … + beta_x · dx (and so on)
/// into dx (N×D), dw (D×C) and db (C). Any of the three may be null, and is then skipped.
template <class T, class I>
void linear_xent_backward(const linear_xent_problem<T>& p, const I* y, T ce_scale, T z_scale,
                          const T* row_scale, T* work, T beta_x, T* dx, T beta_w, T* dw, T beta_b,
                          T* db);

// ---- negative log-likelihood over log-probabilities (src/kernels/nll_logp.cpp) ---------------

/// out[i] = -logp[i, y[i]]. Labels must be valid (see first_label_out_of_range).
template <class T, class I>
void nll_logp_index_rows(std::size_t m, std::size_t n, const T* logp, const I* y, T* out);
/// dlogp[i, j] = (j == y[i] ? -g[i] : 0) + beta * dlogp[i, j].
template <class T, class I>
void nll_logp_index_rows_backward(std::size_t m, std::size_t n, const I* y, const T* g, T beta,
                                  T* dlogp);
/// out[i] = -Σ_j y[i, j] logp[i, j], a term whose target is exactly 0 contributing nothing even
/// where logp is -inf (0 · log 0 = 0, as nll_prob_rows).
template <class T>
void nll_logp_prob_rows(std::size_t m, std::size_t n, const T* logp, const T* y, T* out);
/// dlogp[i, j] = -g[i] y[i, j] + beta_p * dlogp[i, j] and dy[i, j] = -g[i] logp[i, j] + beta_y *
/// dy[i, j]. Either output may be null, and is then skipped.
template <class T>
void nll_logp_prob_rows_backward(std::size_t m, std::size_t n, const T* logp, const T* y,
                                 const T* g, T beta_p, T* dlogp, T beta_y, T* dy);

}  // namespace fusegrad::kernels
