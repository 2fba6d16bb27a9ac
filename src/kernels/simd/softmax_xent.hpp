#pragma once
/// @file
/// Internal: the fused softmax cross-entropy written once against xsimd::batch<T, A>. Included
/// only by src/kernels/arch/softmax_xent.*.cpp. The maths is in kernels.hpp.
///
/// Row statistics come from one streaming read. Each lane keeps a running max M and a running
/// Σ e^{s − M}; the row is read four batches at a time, and when a block raises a lane's max
/// the lane's sum is rescaled once by e^{M_old − M_new} (the online-softmax recurrence, applied
/// per block rather than per element, so it costs one extra exp per lane per block that raises
/// the max, and none otherwise). The lanes are merged at the end of the row the same way.
///
/// The hot case, class-index targets without label smoothing, needs nothing else from the
/// forward: loss = c_y ((max − s_y) + log Σ). With label smoothing or probability targets the
/// target part Σ_j t_j (max − s_j) is taken in a second read of the row once the max is known
/// (the reference folds it into the first read; the sum is the same up to rounding, every term
/// is still non-negative, so there is no cancellation).
///
/// The backward writes ds = r (T softmax − t) in one more read, e^{(s − max) − log Σ} being
/// computed on arguments <= 0 (exp_nonpositive: exactly 0 at a masked −inf class).
///
/// The fused kernels (*_fused) take one exp per element instead of two: a max pass, an exp
/// pass storing e^{s − max} into the ds row while summing it (and prefetching the next row),
/// and an in-place finish over ds; rows under kNarrowWidth go a block of rows at a time. Their
/// exp is exp_le0, which for float does the exp pass in fewer vector ops than exp_nonpositive.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "batch_io.hpp"
#include "softmax_xent_decl.hpp"

namespace fusegrad::kernels::simd {

namespace xent_detail {

template <class T>
constexpr T kInf = std::numeric_limits<T>::infinity();

/// The running (max, sum) of one row, lane by lane.
template <class A, class T>
struct online {
    using B = xsimd::batch<T, A>;
    B max = B(-kInf<T>);
    B sum = B(T(0));

    /// Folds in a block whose lane-wise max is bm and whose values are v[0..k).
    template <std::size_t K>
    void add(const B (&v)[K], const B& bm) {
        const B mn = xsimd::max(max, bm);
        const auto grew = mn > max;
        if (xsimd::any(grew)) {
            // max − mn < 0 where the max grew; −inf (a lane with nothing finite yet) gives 0.
            sum = xsimd::select(grew, sum * exp_nonpositive<A, T>(max - mn), sum);
        }
        max = mn;
        // A lane still at −inf only holds −inf values: subtract 0 there so −inf − (−inf) never
        // makes a NaN; e^{−inf} = 0 adds nothing. A NaN value still gives a NaN sum.
        const B shift = xsimd::select(max == B(-kInf<T>), B(T(0)), max);
        B acc = exp_nonpositive<A, T>(v[0] - shift);
        for (std::size_t k = 1; k < K; ++k) acc += exp_nonpositive<A, T>(v[k] - shift);
        sum += acc;
    }
};

/// The row max and log Σ e^{s − max} of s[0..n), n >= 1, from one read.
template <class A, class T>
void row_stats(std::size_t n, const T* s, T& out_max, T& out_log_sum) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    constexpr std::size_t W = L::size;
    online<A, T> o;
    std::size_t j = 0;
    for (; j + 4 * W <= n; j += 4 * W) {
        const B v[4] = {B::load_unaligned(s + j), B::load_unaligned(s + j + W),
                        B::load_unaligned(s + j + 2 * W), B::load_unaligned(s + j + 3 * W)};
        o.add(v, xsimd::max(xsimd::max(v[0], v[1]), xsimd::max(v[2], v[3])));
    }
    for (; j < n; j += W) {  // the last batch is padded with −inf, which adds nothing
        const B v[1] = {L::load(s + j, n - j < W ? n - j : W, -kInf<T>)};
        o.add(v, v[0]);
    }
    // Merge the lanes: Σ_l S_l e^{M_l − max}, one batch exp (a lane-by-lane std::exp here
    // would cost more than the whole row when rows are short). A lane with S_l == 0 (only −inf
    // seen) is left out, so an all −inf row gives max = −inf and log Σ = −inf, as the
    // reference; a NaN lane (max or sum) makes the total NaN.
    const T m = L::max_lane(o.max);
    const B scaled = o.sum * exp_nonpositive<A, T>(o.max - B(m));
    const T total = xsimd::hadd(xsimd::select(o.sum == B(T(0)), B(T(0)), scaled));
    out_max = m;
    out_log_sum = std::log(total);
}

/// The batch of targets t_j = c_j ((keep) y_j + spread) (probability targets, y non-null) or
/// c_j · spread (index targets' uniform part, y null) at j with c real lanes (others 0).
template <class A, class T>
xsimd::batch<T, A> target_at(std::size_t j, std::size_t c, const T* y, const T* w, T keep,
                             T spread) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B cw = w != nullptr ? L::load(w + j, c, T(0)) : B(T(1));
    const B t = y != nullptr ? B(keep) * L::load(y + j, c, T(0)) + B(spread) : B(spread);
    B r = cw * t;
    if (c < L::size) {  // zero the padding lanes
        alignas(64) T buf[L::size];
        r.store_aligned(buf);
        for (std::size_t l = c; l < L::size; ++l) buf[l] = T(0);
        r = B::load_aligned(buf);
    }
    return r;
}

/// Σ_j t_j (max − s_j) (terms with t_j == 0 left out, so 0 · ∞ never happens) and Σ_j t_j.
template <class A, class T>
void target_terms(std::size_t n, const T* s, T mx, const T* y, const T* w, T keep, T spread,
                  T& shifted, T& total) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B vm(mx);
    B sh(T(0)), tt(T(0));
    for (std::size_t j = 0; j < n; j += L::size) {
        const std::size_t c = n - j < L::size ? n - j : L::size;
        const B t = target_at<A, T>(j, c, y, w, keep, spread);
        const B sv = L::load(s + j, c, T(0));
        sh += xsimd::select(t != B(T(0)), t * (vm - sv), B(T(0)));
        tt += t;
    }
    shifted = xsimd::hadd(sh);
    total = xsimd::hadd(tt);
}

// These two do not need the arch, but this header is compiled under several sets of -m flags:
// a template that does not depend on A would be one ODR entity with a copy per set, and the
// linker could hand the SSE path the AVX-512 copy. Templating on A keeps the copies apart.

template <class A, class T>
T scale_at(T alpha, const T* row_scale, std::size_t i) {
    return row_scale != nullptr ? alpha * row_scale[i] : alpha;
}

template <class A, class T, class I>
bool ignored(const xent_targets<T>& targets, I label) {
    return targets.has_ignore_index && static_cast<std::int64_t>(label) == targets.ignore_index;
}

/// ds_j = r (T_i e^{(s_j − max) − log Σ} − t_j) + beta · ds_j over a row, t_j from target_at
/// plus `a` at class k (k >= n: no one-hot part). ds is read only when beta != 0.
template <class A, class T>
void write_grad_row(std::size_t n, const T* s, T mx, T log_sum, T t_total, const T* y, const T* w,
                    T keep, T spread, bool has_spread, std::size_t k, T a, T r, T beta, T* ds) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B vm(mx), vl(log_sum), vt(t_total), vr(r), vb(beta);
    for (std::size_t j = 0; j < n; j += L::size) {
        const std::size_t c = n - j < L::size ? n - j : L::size;
        const B prob = exp_nonpositive<A, T>((L::load(s + j, c, -xent_detail::kInf<T>) - vm) - vl);
        B d = vt * prob;
        if (has_spread) d -= target_at<A, T>(j, c, y, w, keep, spread);
        if (k >= j && k < j + c) {  // the batch holding the label: subtract the one-hot part
            // A lane-index compare rather than a store / patch / reload through memory (which
            // would stall store forwarding once per row, a real cost on short rows).
            alignas(64) T iota[L::size];
            for (std::size_t l = 0; l < L::size; ++l) iota[l] = T(l);
            d -= xsimd::select(B::load_aligned(iota) == B(T(k - j)), B(a), B(T(0)));
        }
        d *= vr;
        if (beta != T(0)) d += vb * L::load(ds + j, c, T(0));
        L::store(ds + j, c, d);
    }
}

/// e^x for x <= 0, as exp_nonpositive, with fewer vector ops per batch for float (the fused
/// exp pass is bound by them): x is clamped with one max instead of a compare and a select
/// (max(c, x) returns x when x is NaN, so NaN stays NaN); n = round(x log2 e) and the exponent
/// bits of 2^n both come from one fma adding 1.5 · 2^23 + 127 (no round, no convert, no integer
/// add: the low bits of the sum are n + 127); and 2^n (1 + q) is one fma. Below −126.5 ln 2
/// (about −87.68) n is −127, whose bit pattern is +0, so the result is exactly 0 there and at
/// −inf; between −87.68 and exp_low the result is e^x (about FLT_MIN or less), not 0. Checked
/// exhaustively on [exp_low, −22] and sampled above (test_softmax_xent_fused.cpp). Double keeps
/// exp_nonpositive.
template <class A, class T>
xsimd::batch<T, A> exp_le0(const xsimd::batch<T, A>& x) {
    if constexpr (std::is_same_v<T, float>) {
        using B = xsimd::batch<float, A>;
        using BI = xsimd::batch<std::int32_t, A>;
        constexpr float kMagic = 12582912.0f + 127.0f;  // 1.5 · 2^23 + the exponent bias
        const B xc = xsimd::max(B(-88.0f), x);
        const B t = xsimd::fma(xc, B(1.44269504088896341f), B(kMagic));
        const B n = t - B(kMagic);  // exact: an integer in [−127, 0]
        // ln 2 in two parts: n · hi is exact (fma with −hi, not fnma: xsimd 8.1's avx512f fnma
        // negates first, one more op).
        B r = xsimd::fma(n, B(-0.693359375f), xc);
        r = xsimd::fma(n, B(2.12194440e-4f), r);
        // e^r = 1 + r + r² p(r) on |r| <= ln 2 / 2 (+ a little: the rounding of t may tie the
        // other way): p of degree 4, fitted for the least relative error of e^r (Lawson's
        // iteration, 0.08 ulp with these float coefficients), one fma fewer than Cephes' 5.
        B p = B(1.3813753612e-3f);
        p = xsimd::fma(p, r, B(8.3691235632e-3f));
        p = xsimd::fma(p, r, B(4.1668426245e-2f));
        p = xsimd::fma(p, r, B(1.6666516662e-1f));
        p = xsimd::fma(p, r, B(4.9999994040e-1f));
        const B q = xsimd::fma(p, r * r, r);
        const B scale = xsimd::bitwise_cast<B>(xsimd::bitwise_cast<BI>(t) << 23);
        return xsimd::fma(scale, q, scale);
    } else {
        return exp_nonpositive<A, T>(x);
    }
}

/// Fused pass 1: the row max of s[0..n), n >= 1. A NaN may be lost here (x86 max returns an
/// operand, not NaN); the exp pass then propagates it, since e^{NaN − max} is NaN.
template <class A, class T>
T row_max(std::size_t n, const T* s) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    constexpr std::size_t W = L::size;
    B m0(-kInf<T>), m1(-kInf<T>), m2(-kInf<T>), m3(-kInf<T>);
    std::size_t j = 0;
    for (; j + 4 * W <= n; j += 4 * W) {  // four chains: the max latency is not the bound
        m0 = xsimd::max(m0, B::load_unaligned(s + j));
        m1 = xsimd::max(m1, B::load_unaligned(s + j + W));
        m2 = xsimd::max(m2, B::load_unaligned(s + j + 2 * W));
        m3 = xsimd::max(m3, B::load_unaligned(s + j + 3 * W));
    }
    for (; j + W <= n; j += W) m0 = xsimd::max(m0, B::load_unaligned(s + j));
    if (j < n) m1 = xsimd::max(m1, L::load(s + j, n - j, -kInf<T>));
    return L::max_lane(xsimd::max(xsimd::max(m0, m1), xsimd::max(m2, m3)));
}

/// Fused pass 2: e_j = e^{s_j − mx} written to e[0..n) (the gradient row, used as scratch),
/// returning Σ_j e_j. The only exp of the fused kernel. mx = +inf (a +inf logit) makes the
/// +inf entry's e NaN, and so the sum; mx = −inf (an all −inf row) makes every e NaN.
///
/// `next` (may be null) is the next row, prefetched into L2 along the way: the max pass of the
/// next row is then served from cache, so its memory read overlaps this row's exps (the exp
/// pass is compute bound, the max pass memory bound; in sequence their times would add up).
template <class A, class T>
T exp_row(std::size_t n, const T* s, T mx, T* e, const T* next) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    constexpr std::size_t W = L::size;
    constexpr std::size_t kLine = 64 / sizeof(T);  // values per cache line
    const B vm(mx);
    B a0(T(0));  // one accumulator: four would be spilled (the exp's constants fill the registers)
    std::size_t j = 0;
    for (; j + 4 * W <= n; j += 4 * W) {
        if (next != nullptr)
            for (std::size_t o = 0; o < 4 * W; o += kLine)
                _mm_prefetch(reinterpret_cast<const char*>(next + j + o), _MM_HINT_T1);
        const B e0 = exp_le0<A, T>(B::load_unaligned(s + j) - vm);
        const B e1 = exp_le0<A, T>(B::load_unaligned(s + j + W) - vm);
        const B e2 = exp_le0<A, T>(B::load_unaligned(s + j + 2 * W) - vm);
        const B e3 = exp_le0<A, T>(B::load_unaligned(s + j + 3 * W) - vm);
        e0.store_unaligned(e + j);
        e1.store_unaligned(e + j + W);
        e2.store_unaligned(e + j + 2 * W);
        e3.store_unaligned(e + j + 3 * W);
        a0 += (e0 + e1) + (e2 + e3);
    }
    for (; j < n; j += W) {  // the tail is padded with −inf: e^{−inf} = 0 adds nothing
        const std::size_t c = n - j < W ? n - j : W;
        const B e0 = exp_le0<A, T>(L::load(s + j, c, -kInf<T>) - vm);
        L::store(e + j, c, e0);
        a0 += e0;
    }
    return xsimd::hadd(a0);
}

/// Fused pass 3, in place over the row: d_j = scale · d_j − r · t_j, with t_j from target_at
/// (only when has_targets; the one-hot part of index targets is patched by the caller).
template <class A, class T>
void finish_row(std::size_t n, T* d, T scale, bool has_targets, const T* y, const T* w, T keep,
                T spread, T r) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    constexpr std::size_t W = L::size;
    const B vs(scale), vr(r);
    std::size_t j = 0;
    if (!has_targets) {
        for (; j + 4 * W <= n; j += 4 * W) {
            (vs * B::load_unaligned(d + j)).store_unaligned(d + j);
            (vs * B::load_unaligned(d + j + W)).store_unaligned(d + j + W);
            (vs * B::load_unaligned(d + j + 2 * W)).store_unaligned(d + j + 2 * W);
            (vs * B::load_unaligned(d + j + 3 * W)).store_unaligned(d + j + 3 * W);
        }
        for (; j < n; j += W) {
            const std::size_t c = n - j < W ? n - j : W;
            L::store(d + j, c, vs * L::load(d + j, c, T(0)));
        }
        return;
    }
    for (; j < n; j += W) {
        const std::size_t c = n - j < W ? n - j : W;
        const B t = target_at<A, T>(j, c, y, w, keep, spread);
        L::store(d + j, c, xsimd::fms(vs, L::load(d + j, c, T(0)), vr * t));
    }
}

/// Rows narrower than this take the narrow path: per-row passes over one or two masked batches
/// cost more in horizontal reductions, masks and stalls than the arithmetic of the row.
template <class A>
inline constexpr std::size_t kNarrowWidth = 32;
/// Rows per block of the narrow path.
template <class A>
inline constexpr std::size_t kNarrowRows = 32;

/// Narrow path, for `rows` (<= kNarrowRows) consecutive rows of width n < kNarrowWidth: the row
/// maxes (scalar), d = s − max(row) over the block, then e^d over the block as one contiguous
/// array of rows · n values (full batches, one masked tail), then the row sums (scalar). As in
/// the wide path, a +inf or all −inf row gives NaN (inf − inf), and so does a NaN entry.
template <class A, class T>
void narrow_exp_block(std::size_t rows, std::size_t n, const T* s, T* d, T* mx, T* sum) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    constexpr std::size_t W = L::size;
    for (std::size_t r = 0; r < rows; ++r) {
        const T* sr = s + r * n;
        T m = -kInf<T>;
        for (std::size_t j = 0; j < n; ++j) m = sr[j] > m ? sr[j] : m;
        mx[r] = m;
        for (std::size_t j = 0; j < n; ++j) d[r * n + j] = sr[j] - m;
    }
    const std::size_t count = rows * n;
    std::size_t j = 0;
    for (; j + W <= count; j += W) exp_le0<A, T>(B::load_unaligned(d + j)).store_unaligned(d + j);
    if (j < count) L::store(d + j, count - j, exp_le0<A, T>(L::load(d + j, count - j, T(0))));
    for (std::size_t r = 0; r < rows; ++r) {
        T total = T(0);
        for (std::size_t k = 0; k < n; ++k) total += d[r * n + k];
        sum[r] = total;
    }
}

/// Narrow path, one row after narrow_exp_block: returns the loss and turns e (in d) into the
/// gradient alpha (T e / Σ − t), t_j = target(j) plus `a` at class k (k >= n: no one-hot part).
template <class A, class T, class Target>
T narrow_finish_row(std::size_t n, const T* sr, T mx, T sum, Target target, bool has_targets,
                    std::size_t k, T a, T alpha, T* d) {
    const T log_sum = std::log(sum);
    T l = T(0), t_total = a;
    if (a != T(0)) l += a * ((mx - sr[k]) + log_sum);
    if (has_targets) {
        T shifted = T(0), total = T(0);
        for (std::size_t j = 0; j < n; ++j) {
            const T t = target(j);
            if (t != T(0)) shifted += t * (mx - sr[j]);  // 0 · inf never happens
            total += t;
        }
        l += shifted + total * log_sum;
        t_total += total;
    }
    const T scale = alpha * t_total / sum;
    if (has_targets)
        for (std::size_t j = 0; j < n; ++j) d[j] = scale * d[j] - alpha * target(j);
    else
        for (std::size_t j = 0; j < n; ++j) d[j] *= scale;
    if (k < n) d[k] -= alpha * a;
    return l;
}

}  // namespace xent_detail

template <class A, class T, class I>
T softmax_xent_index_rows(std::size_t m, std::size_t n, const T* s, const I* y,
                          const xent_targets<T>& targets, T alpha, const T* row_scale, T* loss,
                          T* stats) {
    using namespace xent_detail;
    const T eps = targets.smoothing;
    const T spread = n > 0 ? eps / T(n) : T(0);
    const T* w = targets.class_weights;
    T total = T(0);
    for (std::size_t i = 0; i < m; ++i) {
        const T* sr = s + i * n;
        T l = T(0);
        if (n > 0) {
            T mx, log_sum;
            row_stats<A, T>(n, sr, mx, log_sum);
            if (stats != nullptr) {
                stats[2 * i] = mx;
                stats[2 * i + 1] = log_sum;
            }
            if (!ignored<A>(targets, y[i])) {
                const auto k = static_cast<std::size_t>(y[i]);
                const T a = (T(1) - eps) * (w != nullptr ? w[k] : T(1));
                if (a != T(0)) l += a * ((mx - sr[k]) + log_sum);
                if (eps != T(0)) {
                    T shifted, t_total;
                    target_terms<A, T>(n, sr, mx, nullptr, w, T(0), spread, shifted, t_total);
                    l += shifted + t_total * log_sum;
                }
                l *= scale_at<A>(alpha, row_scale, i);
            }
        }
        if (loss != nullptr) loss[i] = l;
        total += l;
    }
    return total;
}

template <class A, class T, class I>
void softmax_xent_index_rows_backward(std::size_t m, std::size_t n, const T* s, const I* y,
                                      const xent_targets<T>& targets, T alpha, const T* row_scale,
                                      const T* stats, T beta, T* ds) {
    using namespace xent_detail;
    using L = lanes<A, T>;
    const T eps = targets.smoothing;
    const T spread = n > 0 ? eps / T(n) : T(0);
    const T* w = targets.class_weights;
    T weight_sum = T(0);  // Σ_j c_j, the same for every row (as the reference: left to right)
    for (std::size_t j = 0; j < n; ++j) weight_sum += w != nullptr ? w[j] : T(1);
    for (std::size_t i = 0; i < m; ++i) {
        const T* sr = s + i * n;
        T* dr = ds + i * n;
        if (ignored<A>(targets, y[i])) {  // t = 0: no gradient, whatever the scale
            for (std::size_t j = 0; j < n; j += L::size) {
                const std::size_t c = n - j < L::size ? n - j : L::size;
                typename L::batch d(T(0));
                if (beta != T(0)) d = typename L::batch(beta) * L::load(dr + j, c, T(0));
                L::store(dr + j, c, d);
            }
            continue;
        }
        const auto k = static_cast<std::size_t>(y[i]);
        T mx, log_sum;
        if (stats != nullptr) {
            mx = stats[2 * i];
            log_sum = stats[2 * i + 1];
        } else {
            row_stats<A, T>(n, sr, mx, log_sum);
        }
        const T a = (T(1) - eps) * (w != nullptr ? w[k] : T(1));
        const T t_total = a + spread * weight_sum;
        write_grad_row<A, T>(n, sr, mx, log_sum, t_total, nullptr, w, T(0), spread, spread != T(0),
                             k, a, scale_at<A>(alpha, row_scale, i), beta, dr);
    }
}

template <class A, class T>
T softmax_xent_prob_rows(std::size_t m, std::size_t n, const T* s, const T* y,
                         const xent_targets<T>& targets, T alpha, const T* row_scale, T* loss,
                         T* stats) {
    using namespace xent_detail;
    const T keep = T(1) - targets.smoothing;
    const T spread = n > 0 ? targets.smoothing / T(n) : T(0);
    T total = T(0);
    for (std::size_t i = 0; i < m; ++i) {
        const T* sr = s + i * n;
        T l = T(0);
        if (n > 0) {
            T mx, log_sum, shifted, t_total;
            row_stats<A, T>(n, sr, mx, log_sum);
            if (stats != nullptr) {
                stats[2 * i] = mx;
                stats[2 * i + 1] = log_sum;
            }
            target_terms<A, T>(n, sr, mx, y + i * n, targets.class_weights, keep, spread, shifted,
                               t_total);
            l = (shifted + t_total * log_sum) * scale_at<A>(alpha, row_scale, i);
        }
        if (loss != nullptr) loss[i] = l;
        total += l;
    }
    return total;
}

template <class A, class T>
void softmax_xent_prob_rows_backward(std::size_t m, std::size_t n, const T* s, const T* y,
                                     const xent_targets<T>& targets, T alpha, const T* row_scale,
                                     const T* stats, T beta_s, T* ds, T beta_y, T* dy) {
    using namespace xent_detail;
    using L = lanes<A, T>;
    using B = typename L::batch;
    if (ds == nullptr && dy == nullptr) return;
    const T keep = T(1) - targets.smoothing;
    const T spread = n > 0 ? targets.smoothing / T(n) : T(0);
    const T* w = targets.class_weights;
    for (std::size_t i = 0; i < m; ++i) {
        const T* sr = s + i * n;
        const T* yr = y + i * n;
        T mx = -kInf<T>, log_sum = -kInf<T>;
        if (stats != nullptr) {
            mx = stats[2 * i];
            log_sum = stats[2 * i + 1];
        } else if (n > 0) {
            row_stats<A, T>(n, sr, mx, log_sum);
        }
        const T r = scale_at<A>(alpha, row_scale, i);
        if (ds != nullptr) {
            B tt(T(0));
            for (std::size_t j = 0; j < n; j += L::size)
                tt += target_at<A, T>(j, n - j < L::size ? n - j : L::size, yr, w, keep, spread);
            write_grad_row<A, T>(n, sr, mx, log_sum, xsimd::hadd(tt), yr, w, keep, spread, true, n,
                                 T(0), r, beta_s, ds + i * n);
        }
        if (dy != nullptr) {
            T* dr = dy + i * n;
            const B vm(mx), vl(log_sum), vb(beta_y), rk(r * keep);
            for (std::size_t j = 0; j < n; j += L::size) {
                const std::size_t c = n - j < L::size ? n - j : L::size;
                const B coef = rk * (w != nullptr ? L::load(w + j, c, T(0)) : B(T(1)));
                // lse − s_j = (max − s_j) + log Σ; the loss does not depend on y_ij if coef = 0
                B d = xsimd::select(coef == B(T(0)), B(T(0)),
                                    coef * ((vm - L::load(sr + j, c, T(0))) + vl));
                if (beta_y != T(0)) d += vb * L::load(dr + j, c, T(0));
                L::store(dr + j, c, d);
            }
        }
    }
}

template <class A, class T, class I>
T softmax_xent_index_rows_fused(std::size_t m, std::size_t n, const T* s, const I* y,
                                const xent_targets<T>& targets, T alpha, T* loss, T* ds) {
    using namespace xent_detail;
    using L = lanes<A, T>;
    const T eps = targets.smoothing;
    const T spread = n > 0 ? eps / T(n) : T(0);
    const T* w = targets.class_weights;
    T weight_sum = T(0);  // Σ_j c_j, the same for every row (as the reference: left to right)
    if (eps != T(0))
        for (std::size_t j = 0; j < n; ++j) weight_sum += w != nullptr ? w[j] : T(1);
    T total = T(0);
    if (n > 0 && n < kNarrowWidth<A>) {
        T mx[kNarrowRows<A>], sum[kNarrowRows<A>];
        const auto uniform = [&](std::size_t j) { return spread * (w != nullptr ? w[j] : T(1)); };
        for (std::size_t b = 0; b < m; b += kNarrowRows<A>) {
            const std::size_t rows = m - b < kNarrowRows<A> ? m - b : kNarrowRows<A>;
            // Ignored rows go through the exp too (no branch per row there), then are zeroed.
            narrow_exp_block<A, T>(rows, n, s + b * n, ds + b * n, mx, sum);
            for (std::size_t r = 0; r < rows; ++r) {
                const std::size_t i = b + r;
                T* dr = ds + i * n;
                T l = T(0);
                if (ignored<A>(targets, y[i])) {
                    for (std::size_t j = 0; j < n; ++j) dr[j] = T(0);
                } else {
                    const auto k = static_cast<std::size_t>(y[i]);
                    l = narrow_finish_row<A, T>(n, s + i * n, mx[r], sum[r], uniform, eps != T(0),
                                                k, (T(1) - eps) * (w != nullptr ? w[k] : T(1)),
                                                alpha, dr);
                }
                if (loss != nullptr) loss[i] = l;
                total += l;
            }
        }
        return total;
    }
    for (std::size_t i = 0; i < m; ++i) {
        const T* sr = s + i * n;
        T* dr = ds + i * n;
        T l = T(0);
        if (n > 0 && ignored<A>(targets, y[i])) {  // t = 0: no loss, no gradient
            for (std::size_t j = 0; j < n; j += L::size)
                L::store(dr + j, n - j < L::size ? n - j : L::size, typename L::batch(T(0)));
        } else if (n > 0) {
            const auto k = static_cast<std::size_t>(y[i]);
            const T mx = row_max<A, T>(n, sr);
            const T sum = exp_row<A, T>(n, sr, mx, dr, i + 1 < m ? sr + n : nullptr);
            const T log_sum = std::log(sum);
            const T a = (T(1) - eps) * (w != nullptr ? w[k] : T(1));
            const T xk = sr[k];
            if (a != T(0)) l += a * ((mx - xk) + log_sum);
            T t_total = a;
            if (eps != T(0)) {  // the uniform part: one more read of the row, from cache
                T shifted, uniform_total;
                target_terms<A, T>(n, sr, mx, nullptr, w, T(0), spread, shifted, uniform_total);
                l += shifted + uniform_total * log_sum;
                t_total = a + spread * weight_sum;
            }
            finish_row<A, T>(n, dr, alpha * t_total / sum, eps != T(0), nullptr, w, T(0), spread,
                             alpha);
            dr[k] -= alpha * a;  // the one-hot part, after the row was written
        }
        if (loss != nullptr) loss[i] = l;
        total += l;
    }
    return total;
}

template <class A, class T>
T softmax_xent_prob_rows_fused(std::size_t m, std::size_t n, const T* s, const T* y,
                               const xent_targets<T>& targets, T alpha, T* loss, T* ds) {
    using namespace xent_detail;
    const T keep = T(1) - targets.smoothing;
    const T spread = n > 0 ? targets.smoothing / T(n) : T(0);
    const T* w = targets.class_weights;
    T total = T(0);
    if (n > 0 && n < kNarrowWidth<A>) {
        T mx[kNarrowRows<A>], sum[kNarrowRows<A>];
        for (std::size_t b = 0; b < m; b += kNarrowRows<A>) {
            const std::size_t rows = m - b < kNarrowRows<A> ? m - b : kNarrowRows<A>;
            narrow_exp_block<A, T>(rows, n, s + b * n, ds + b * n, mx, sum);
            for (std::size_t r = 0; r < rows; ++r) {
                const std::size_t i = b + r;
                const T* yr = y + i * n;
                const auto target = [&](std::size_t j) {
                    return (w != nullptr ? w[j] : T(1)) * (keep * yr[j] + spread);
                };
                const T l = narrow_finish_row<A, T>(n, s + i * n, mx[r], sum[r], target, true, n,
                                                    T(0), alpha, ds + i * n);
                if (loss != nullptr) loss[i] = l;
                total += l;
            }
        }
        return total;
    }
    for (std::size_t i = 0; i < m; ++i) {
        const T* sr = s + i * n;
        const T* yr = y + i * n;
        T* dr = ds + i * n;
        T l = T(0);
        if (n > 0) {
            const T mx = row_max<A, T>(n, sr);
            const T sum = exp_row<A, T>(n, sr, mx, dr, i + 1 < m ? sr + n : nullptr);
            const T log_sum = std::log(sum);
            T shifted, t_total;
            target_terms<A, T>(n, sr, mx, yr, w, keep, spread, shifted, t_total);
            l = shifted + t_total * log_sum;
            finish_row<A, T>(n, dr, alpha * t_total / sum, true, yr, w, keep, spread, alpha);
        }
        if (loss != nullptr) loss[i] = l;
        total += l;
    }
    return total;
}

}  // namespace fusegrad::kernels::simd

#define FUSEGRAD_INSTANTIATE_SOFTMAX_XENT_TI(A, T, I)                                            \
    template T fusegrad::kernels::simd::softmax_xent_index_rows<A, T, I>(                        \
        std::size_t, std::size_t, const T*, const I*, const fusegrad::kernels::xent_targets<T>&, \
        T, const T*, T*, T*);                                                                    \
    template void fusegrad::kernels::simd::softmax_xent_index_rows_backward<A, T, I>(            \
        std::size_t, std::size_t, const T*, const I*, const fusegrad::kernels::xent_targets<T>&, \
        T, const T*, const T*, T, T*);                                                           \
    template T fusegrad::kernels::simd::softmax_xent_index_rows_fused<A, T, I>(                  \
        std::size_t, std::size_t, const T*, const I*, const fusegrad::kernels::xent_targets<T>&, \
        T, T*, T*);
#define FUSEGRAD_INSTANTIATE_SOFTMAX_XENT_T(A, T)                                                \
    FUSEGRAD_INSTANTIATE_SOFTMAX_XENT_TI(A, T, std::int32_t)                                     \
    FUSEGRAD_INSTANTIATE_SOFTMAX_XENT_TI(A, T, std::int64_t)                                     \
    template T fusegrad::kernels::simd::softmax_xent_prob_rows<A, T>(                            \
        std::size_t, std::size_t, const T*, const T*, const fusegrad::kernels::xent_targets<T>&, \
        T, const T*, T*, T*);                                                                    \
    template void fusegrad::kernels::simd::softmax_xent_prob_rows_backward<A, T>(                \
        std::size_t, std::size_t, const T*, const T*, const fusegrad::kernels::xent_targets<T>&, \
        T, const T*, const T*, T, T*, T, T*);                                                    \
    template T fusegrad::kernels::simd::softmax_xent_prob_rows_fused<A, T>(                      \
        std::size_t, std::size_t, const T*, const T*, const fusegrad::kernels::xent_targets<T>&, \
        T, T*, T*);
#define FUSEGRAD_INSTANTIATE_SOFTMAX_XENT(A)      \
    FUSEGRAD_INSTANTIATE_SOFTMAX_XENT_T(A, float) \
    FUSEGRAD_INSTANTIATE_SOFTMAX_XENT_T(A, double)
