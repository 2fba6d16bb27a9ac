/// @file
/// Fused softmax cross-entropy (scalar reference, and front doors running the SIMD bodies of
/// simd/softmax_xent.hpp over fixed chunks of rows), row-wise over an m×n contiguous logits matrix.
/// The maths and the conventions are in kernels.hpp; the notes here are about how.
///
/// The forward reads each row once. Besides the running max M and the running Σ e^{s − M}
/// (rescaled by e^{M_old − M_new} when the max grows), it keeps the target part of the loss
/// relative to the running max, A = Σ_j t_j (M − s_j), shifted by (M_new − M_old) · Σ t when
/// the max grows. At the end loss = A + (Σ t) · log Σ e^{s − M}, a sum of non-negative terms
/// for non-negative targets, so there is no cancellation even at logits of ±1e4.
///
/// The backward writes ds = r (T softmax − t) in a second read of the row, after either the
/// row statistics the forward stored or a fresh first read.
///
/// The fused kernels (forward + backward in one call) take one exp per element: a max pass,
/// e^{s − max} written into the ds row while summed, then ds finished in place
/// (reference_fused_row; the SIMD bodies do the same, see simd/softmax_xent.hpp).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "block_sum.hpp"
#include "dispatch.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/kernels/trace.hpp"
#include "parallel.hpp"
#include "simd/softmax_xent_decl.hpp"

namespace fusegrad::kernels {

namespace {

template <class T>
constexpr T kInf = std::numeric_limits<T>::infinity();

/// What one streaming read of a row gives.
template <class T>
struct row_pass {
    T max = -kInf<T>;  ///< the row max (-inf when no entry is above -inf)
    T log_sum = T(0);  ///< log Σ_j e^{s_j - max}
    T shifted = T(0);  ///< Σ_j t_j (max - s_j), terms with t_j == 0 left out
    T total = T(0);    ///< Σ_j t_j
};

/// Marks a read without targets: only max and log_sum are computed.
struct no_targets {};

/// One read of the row s[0..n): the online max / sum-of-exp recurrence, and with a target
/// function t(j), the target part of the loss. (n = 0 gives max = log_sum = -inf.)
template <class T, class Target>
row_pass<T> stream_row(std::size_t n, const T* s, Target target) {
    constexpr bool with_targets = !std::is_same_v<Target, no_targets>;
    T mx = -kInf<T>, sum = T(0), shifted = T(0), total = T(0);
    for (std::size_t j = 0; j < n; ++j) {
        const T v = s[j];
        T t = T(0);
        if constexpr (with_targets) t = target(j);
        if (v > mx) {
            // Every earlier term moves to the new max: t_k (v - s_k) = t_k (mx - s_k) + t_k (v -
            // mx). (total == 0 is skipped: mx may still be -inf, and 0 · inf is NaN.)
            if constexpr (with_targets)
                if (total != T(0)) shifted += (v - mx) * total;
            sum = sum * std::exp(mx - v) + T(1);  // e^{-inf} = 0 when v is the first finite entry
            mx = v;
        } else if (v != -kInf<T>) {  // also a NaN, which then poisons sum
            sum += std::exp(v - mx);
            if constexpr (with_targets)
                if (t != T(0)) shifted += t * (mx - v);
        } else if constexpr (with_targets) {        // a masked class: e^{-inf} adds nothing to sum
            if (t != T(0)) shifted += t * kInf<T>;  // t (mx - (-inf)), whatever mx is
        }
        if constexpr (with_targets) total += t;
    }
    // A +inf logit: the softmax would be inf / inf. The recurrence above would say max = inf,
    // log Σ = 0 (every other e^{s − inf} is 0); the SIMD paths and PyTorch give NaN. NaN it is.
    if (mx == kInf<T>) sum = std::numeric_limits<T>::quiet_NaN();
    return {mx, std::log(sum), shifted, total};
}

/// Row statistics from the forward's `stats` if given, else from a fresh read of the row.
template <class T>
row_pass<T> row_stats(std::size_t i, std::size_t n, const T* sr, const T* stats) {
    if (stats != nullptr) return {stats[2 * i], stats[2 * i + 1], T(0), T(0)};
    return stream_row(n, sr, no_targets{});
}

using detail::block_sum;

template <class T>
T row_scale_at(T alpha, const T* row_scale, std::size_t i) {
    return row_scale != nullptr ? alpha * row_scale[i] : alpha;
}

template <class T>
T class_weight(const xent_targets<T>& targets, std::size_t j) {
    return targets.class_weights != nullptr ? targets.class_weights[j] : T(1);
}

template <class T, class I>
bool is_ignored(const xent_targets<T>& targets, I label) {
    return targets.has_ignore_index && static_cast<std::int64_t>(label) == targets.ignore_index;
}

template <class T>
void write(T* out, T value, T beta) {
    *out = beta == T(0) ? value : value + beta * *out;
}

}  // namespace

template <class T, class I>
std::size_t xent_first_bad_label(std::size_t m, const I* y, std::size_t classes,
                                 const xent_targets<T>& targets) {
    static_assert(std::is_integral_v<I>, "labels must be integers");
    for (std::size_t i = 0; i < m; ++i) {
        if (is_ignored(targets, y[i])) continue;
        if constexpr (std::is_signed_v<I>) {
            if (y[i] < 0) return i;
        }
        if (static_cast<std::make_unsigned_t<I>>(y[i]) >= classes) return i;
    }
    return m;
}

template <class T, class I>
T xent_index_weight_total(std::size_t m, const I* y, const xent_targets<T>& targets) {
    block_sum<T> total;
    for (std::size_t i = 0; i < m; ++i) {
        if (!is_ignored(targets, y[i])) total.add(class_weight(targets, std::size_t(y[i])));
    }
    return total.value();
}

namespace {

template <class T, class I>
T reference_softmax_xent_index_rows(std::size_t m, std::size_t n, const T* s, const I* y,
                                    const xent_targets<T>& targets, T alpha, const T* row_scale,
                                    T* loss, T* stats) {
    const T eps = targets.smoothing;
    const T spread = n > 0 ? eps / T(n) : T(0);  // the uniform share of each class, ε / n
    block_sum<T> total;
    for (std::size_t i = 0; i < m; ++i) {
        const T* sr = s + i * n;
        T l = T(0);
        if (n > 0) {
            const row_pass<T> p =
                eps != T(0)
                    ? stream_row(n, sr,
                                 [&](std::size_t j) { return spread * class_weight(targets, j); })
                    : stream_row(n, sr, no_targets{});
            if (stats != nullptr) {
                stats[2 * i] = p.max;
                stats[2 * i + 1] = p.log_sum;
            }
            if (!is_ignored(targets, y[i])) {
                const auto k = static_cast<std::size_t>(y[i]);
                const T a = (T(1) - eps) * class_weight(targets, k);  // the one-hot part
                if (a != T(0)) l += a * ((p.max - sr[k]) + p.log_sum);
                if (eps != T(0)) l += p.shifted + p.total * p.log_sum;  // the uniform part
                l *= row_scale_at(alpha, row_scale, i);
            }
        }
        if (loss != nullptr) loss[i] = l;
        total.add(l);
    }
    return total.value();
}

template <class T, class I>
void reference_softmax_xent_index_rows_backward(std::size_t m, std::size_t n, const T* s,
                                                const I* y, const xent_targets<T>& targets, T alpha,
                                                const T* row_scale, const T* stats, T beta, T* ds) {
    const T eps = targets.smoothing;
    const T spread = n > 0 ? eps / T(n) : T(0);
    T weight_sum = T(0);  // Σ_j c_j, the same for every row
    for (std::size_t j = 0; j < n; ++j) weight_sum += class_weight(targets, j);

    for (std::size_t i = 0; i < m; ++i) {
        const T* sr = s + i * n;
        T* dr = ds + i * n;
        if (is_ignored(targets, y[i])) {  // t = 0: no gradient, whatever the scale
            for (std::size_t j = 0; j < n; ++j) write(dr + j, T(0), beta);
            continue;
        }
        const auto k = static_cast<std::size_t>(y[i]);
        const row_pass<T> p = row_stats(i, n, sr, stats);
        const T a = (T(1) - eps) * class_weight(targets, k);
        const T t_total = a + spread * weight_sum;  // T_i = Σ_j t_ij
        const T r = row_scale_at(alpha, row_scale, i);
        for (std::size_t j = 0; j < n; ++j) {
            const T prob = std::exp((sr[j] - p.max) - p.log_sum);  // exactly 0 at -inf
            T t = spread != T(0) ? spread * class_weight(targets, j) : T(0);
            if (j == k) t += a;
            write(dr + j, r * (t_total * prob - t), beta);
        }
    }
}

template <class T>
T reference_softmax_xent_prob_rows(std::size_t m, std::size_t n, const T* s, const T* y,
                                   const xent_targets<T>& targets, T alpha, const T* row_scale,
                                   T* loss, T* stats) {
    const T keep = T(1) - targets.smoothing;
    const T spread = n > 0 ? targets.smoothing / T(n) : T(0);
    block_sum<T> total;
    for (std::size_t i = 0; i < m; ++i) {
        const T* sr = s + i * n;
        const T* yr = y + i * n;
        T l = T(0);
        if (n > 0) {
            const row_pass<T> p = stream_row(n, sr, [&](std::size_t j) {
                return class_weight(targets, j) * (keep * yr[j] + spread);
            });
            if (stats != nullptr) {
                stats[2 * i] = p.max;
                stats[2 * i + 1] = p.log_sum;
            }
            l = (p.shifted + p.total * p.log_sum) * row_scale_at(alpha, row_scale, i);
        }
        if (loss != nullptr) loss[i] = l;
        total.add(l);
    }
    return total.value();
}

template <class T>
void reference_softmax_xent_prob_rows_backward(std::size_t m, std::size_t n, const T* s, const T* y,
                                               const xent_targets<T>& targets, T alpha,
                                               const T* row_scale, const T* stats, T beta_s, T* ds,
                                               T beta_y, T* dy) {
    if (ds == nullptr && dy == nullptr) return;
    const T keep = T(1) - targets.smoothing;
    const T spread = n > 0 ? targets.smoothing / T(n) : T(0);
    for (std::size_t i = 0; i < m; ++i) {
        const T* sr = s + i * n;
        const T* yr = y + i * n;
        const row_pass<T> p = row_stats(i, n, sr, stats);
        const T r = row_scale_at(alpha, row_scale, i);
        if (ds != nullptr) {
            auto target = [&](std::size_t j) {
                return class_weight(targets, j) * (keep * yr[j] + spread);
            };
            T t_total = T(0);
            for (std::size_t j = 0; j < n; ++j) t_total += target(j);
            T* dr = ds + i * n;
            for (std::size_t j = 0; j < n; ++j) {
                const T prob = std::exp((sr[j] - p.max) - p.log_sum);
                write(dr + j, r * (t_total * prob - target(j)), beta_s);
            }
        }
        if (dy != nullptr) {
            T* dr = dy + i * n;
            for (std::size_t j = 0; j < n; ++j) {
                const T coef = r * keep * class_weight(targets, j);  // ∂t_ij/∂y_ij, scaled
                // lse - s_j = (max - s_j) + log_sum; the loss does not depend on y_ij if coef = 0
                write(dr + j, coef == T(0) ? T(0) : coef * ((p.max - sr[j]) + p.log_sum), beta_y);
            }
        }
    }
}

/// The fused kernels' reference: per row, a max pass, an exp pass writing e^{s − max} into the
/// gradient row (the one exp per element), and an in-place pass writing alpha (T softmax − t).
/// `target(j)` is t_ij without the one-hot part `a` at class k (k >= n: none).
template <class T, class Target>
T reference_fused_row(std::size_t n, const T* sr, Target target, bool has_targets, std::size_t k,
                      T a, T alpha, T* dr) {
    T mx = -kInf<T>;
    for (std::size_t j = 0; j < n; ++j) mx = sr[j] > mx ? sr[j] : mx;
    // A +inf entry makes its inf − inf NaN, an all −inf row makes every entry NaN: NaN row.
    // A NaN entry (never the max) gives e^{NaN} = NaN: NaN row.
    // The sums go through blocks of kBlock terms: a rounding error growing like n / kBlock +
    // kBlock rather than n (at n = 32000 in float, a left-to-right sum is off by ~1e-4).
    constexpr std::size_t kBlock = 64;
    T sum = T(0);
    for (std::size_t b = 0; b < n; b += kBlock) {
        T part = T(0);
        for (std::size_t j = b; j < std::min(n, b + kBlock); ++j)
            part += dr[j] = std::exp(sr[j] - mx);
        sum += part;
    }
    const T log_sum = std::log(sum);
    T l = T(0), t_total = a;
    if (a != T(0)) l += a * ((mx - sr[k]) + log_sum);
    if (has_targets) {
        T shifted = T(0), total = T(0);
        for (std::size_t b = 0; b < n; b += kBlock) {
            T part_shifted = T(0), part_total = T(0);
            for (std::size_t j = b; j < std::min(n, b + kBlock); ++j) {
                const T t = target(j);
                if (t != T(0)) part_shifted += t * (mx - sr[j]);  // 0 · inf never happens
                part_total += t;
            }
            shifted += part_shifted;
            total += part_total;
        }
        l += shifted + total * log_sum;
        t_total += total;
    }
    const T scale = alpha * t_total / sum;
    for (std::size_t j = 0; j < n; ++j)
        dr[j] = has_targets ? scale * dr[j] - alpha * target(j) : scale * dr[j];
    if (k < n) dr[k] -= alpha * a;
    return l;
}

template <class T, class I>
T reference_softmax_xent_index_rows_fused(std::size_t m, std::size_t n, const T* s, const I* y,
                                          const xent_targets<T>& targets, T alpha, T* loss, T* ds) {
    const T eps = targets.smoothing;
    const T spread = n > 0 ? eps / T(n) : T(0);
    block_sum<T> total;
    for (std::size_t i = 0; i < m; ++i) {
        T* dr = ds + i * n;
        T l = T(0);
        if (is_ignored(targets, y[i])) {
            for (std::size_t j = 0; j < n; ++j) dr[j] = T(0);
        } else if (n > 0) {
            const auto k = static_cast<std::size_t>(y[i]);
            l = reference_fused_row(
                n, s + i * n, [&](std::size_t j) { return spread * class_weight(targets, j); },
                eps != T(0), k, (T(1) - eps) * class_weight(targets, k), alpha, dr);
        }
        if (loss != nullptr) loss[i] = l;
        total.add(l);
    }
    return total.value();
}

template <class T>
T reference_softmax_xent_prob_rows_fused(std::size_t m, std::size_t n, const T* s, const T* y,
                                         const xent_targets<T>& targets, T alpha, T* loss, T* ds) {
    const T keep = T(1) - targets.smoothing;
    const T spread = n > 0 ? targets.smoothing / T(n) : T(0);
    block_sum<T> total;
    for (std::size_t i = 0; i < m; ++i) {
        const T* yr = y + i * n;
        T l = T(0);
        if (n > 0) {
            l = reference_fused_row(
                n, s + i * n,
                [&](std::size_t j) { return class_weight(targets, j) * (keep * yr[j] + spread); },
                true, n, T(0), alpha, ds + i * n);
        }
        if (loss != nullptr) loss[i] = l;
        total.add(l);
    }
    return total.value();
}

}  // namespace

namespace {

/// Rows per chunk of a forward: the reference's loss blocks (256 rows), so that adding the
/// chunk sums in order gives the same total as one serial pass, for every thread count.
constexpr std::size_t kForwardRows = 256;

/// Rows per chunk of a backward: about 32 Ki elements, at least one row.
std::size_t backward_rows(std::size_t n) {
    return std::max<std::size_t>(1, (std::size_t(1) << 15) / std::max<std::size_t>(n, 1));
}

template <class T>
const T* offset(const T* p, std::size_t k) {
    return p != nullptr ? p + k : nullptr;
}
template <class T>
T* offset(T* p, std::size_t k) {
    return p != nullptr ? p + k : nullptr;
}

/// Runs a forward kernel `f(A, first_row, rows)` over fixed chunks of kForwardRows rows and
/// adds the chunks' sums in chunk order.
template <class T, class F>
T forward_chunks(std::size_t m, std::size_t n, F f) {
    return detail::dispatch([&](auto arch_tag) -> T {
        using A = decltype(arch_tag);
        const std::size_t chunks = (m + kForwardRows - 1) / kForwardRows;
        if (chunks <= 1) return m == 0 ? T(0) : f(A{}, std::size_t(0), m);
        // Per-chunk losses in a buffer that only grows: no allocation per forward.
        T* const partial = detail::chunk_partials<struct xent_forward_site, T>(chunks);
        detail::for_each_chunk(
            m, kForwardRows, 8 * n + 8,
            [&](std::size_t c, std::size_t b, std::size_t e) { partial[c] = f(A{}, b, e - b); });
        T total = T(0);
        for (std::size_t c = 0; c < chunks; ++c) total += partial[c];
        return total;
    });
}

/// Runs a backward kernel `f(A, first_row, rows)` over fixed chunks of rows.
template <class F>
void backward_chunks(std::size_t m, std::size_t n, F f) {
    detail::dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        detail::for_each_chunk(
            m, backward_rows(n), 8 * n + 8,
            [&](std::size_t, std::size_t b, std::size_t e) { f(A{}, b, e - b); });
    });
}

}  // namespace

template <class T, class I>
T softmax_xent_index_rows(std::size_t m, std::size_t n, const T* s, const I* y,
                          const xent_targets<T>& targets, T alpha, const T* row_scale, T* loss,
                          T* stats) {
    detail::trace_call("softmax_xent_index_rows");
    return forward_chunks<T>(m, n, [&](auto arch_tag, std::size_t b, std::size_t rows) -> T {
        using A = decltype(arch_tag);
        if constexpr (detail::is_scalar_v<A>)
            return reference_softmax_xent_index_rows(rows, n, s + b * n, y + b, targets, alpha,
                                                     offset(row_scale, b), offset(loss, b),
                                                     offset(stats, 2 * b));
        else
            return simd::softmax_xent_index_rows<A, T, I>(rows, n, s + b * n, y + b, targets, alpha,
                                                          offset(row_scale, b), offset(loss, b),
                                                          offset(stats, 2 * b));
    });
}

template <class T, class I>
void softmax_xent_index_rows_backward(std::size_t m, std::size_t n, const T* s, const I* y,
                                      const xent_targets<T>& targets, T alpha, const T* row_scale,
                                      const T* stats, T beta, T* ds) {
    detail::trace_call("softmax_xent_index_rows_backward");
    backward_chunks(m, n, [&](auto arch_tag, std::size_t b, std::size_t rows) {
        using A = decltype(arch_tag);
        if constexpr (detail::is_scalar_v<A>)
            reference_softmax_xent_index_rows_backward(rows, n, s + b * n, y + b, targets, alpha,
                                                       offset(row_scale, b), offset(stats, 2 * b),
                                                       beta, ds + b * n);
        else
            simd::softmax_xent_index_rows_backward<A, T, I>(rows, n, s + b * n, y + b, targets,
                                                            alpha, offset(row_scale, b),
                                                            offset(stats, 2 * b), beta, ds + b * n);
    });
}

template <class T>
T softmax_xent_prob_rows(std::size_t m, std::size_t n, const T* s, const T* y,
                         const xent_targets<T>& targets, T alpha, const T* row_scale, T* loss,
                         T* stats) {
    detail::trace_call("softmax_xent_prob_rows");
    return forward_chunks<T>(m, n, [&](auto arch_tag, std::size_t b, std::size_t rows) -> T {
        using A = decltype(arch_tag);
        if constexpr (detail::is_scalar_v<A>)
            return reference_softmax_xent_prob_rows(rows, n, s + b * n, y + b * n, targets, alpha,
                                                    offset(row_scale, b), offset(loss, b),
                                                    offset(stats, 2 * b));
        else
            return simd::softmax_xent_prob_rows<A, T>(rows, n, s + b * n, y + b * n, targets, alpha,
                                                      offset(row_scale, b), offset(loss, b),
                                                      offset(stats, 2 * b));
    });
}

template <class T>
void softmax_xent_prob_rows_backward(std::size_t m, std::size_t n, const T* s, const T* y,
                                     const xent_targets<T>& targets, T alpha, const T* row_scale,
                                     const T* stats, T beta_s, T* ds, T beta_y, T* dy) {
    detail::trace_call("softmax_xent_prob_rows_backward");
    if (ds == nullptr && dy == nullptr) return;
    backward_chunks(m, n, [&](auto arch_tag, std::size_t b, std::size_t rows) {
        using A = decltype(arch_tag);
        if constexpr (detail::is_scalar_v<A>)
            reference_softmax_xent_prob_rows_backward(
                rows, n, s + b * n, y + b * n, targets, alpha, offset(row_scale, b),
                offset(stats, 2 * b), beta_s, offset(ds, b * n), beta_y, offset(dy, b * n));
        else
            simd::softmax_xent_prob_rows_backward<A, T>(
                rows, n, s + b * n, y + b * n, targets, alpha, offset(row_scale, b),
                offset(stats, 2 * b), beta_s, offset(ds, b * n), beta_y, offset(dy, b * n));
    });
}

template <class T, class I>
T softmax_xent_index_rows_fused(std::size_t m, std::size_t n, const T* s, const I* y,
                                const xent_targets<T>& targets, T alpha, T* loss, T* ds) {
    detail::trace_call("softmax_xent_index_rows_fused");
    return forward_chunks<T>(m, n, [&](auto arch_tag, std::size_t b, std::size_t rows) -> T {
        using A = decltype(arch_tag);
        if constexpr (detail::is_scalar_v<A>)
            return reference_softmax_xent_index_rows_fused(rows, n, s + b * n, y + b, targets,
                                                           alpha, offset(loss, b), ds + b * n);
        else
            return simd::softmax_xent_index_rows_fused<A, T, I>(rows, n, s + b * n, y + b, targets,
                                                                alpha, offset(loss, b), ds + b * n);
    });
}

template <class T>
T softmax_xent_prob_rows_fused(std::size_t m, std::size_t n, const T* s, const T* y,
                               const xent_targets<T>& targets, T alpha, T* loss, T* ds) {
    detail::trace_call("softmax_xent_prob_rows_fused");
    return forward_chunks<T>(m, n, [&](auto arch_tag, std::size_t b, std::size_t rows) -> T {
        using A = decltype(arch_tag);
        if constexpr (detail::is_scalar_v<A>)
            return reference_softmax_xent_prob_rows_fused(rows, n, s + b * n, y + b * n, targets,
                                                          alpha, offset(loss, b), ds + b * n);
        else
            return simd::softmax_xent_prob_rows_fused<A, T>(rows, n, s + b * n, y + b * n, targets,
                                                            alpha, offset(loss, b), ds + b * n);
    });
}

#define FUSEGRAD_INSTANTIATE_XENT_INDEX(T, I)                                                    \
    template std::size_t xent_first_bad_label<T, I>(std::size_t, const I*, std::size_t,          \
                                                    const xent_targets<T>&);                     \
    template T xent_index_weight_total<T, I>(std::size_t, const I*, const xent_targets<T>&);     \
    template T softmax_xent_index_rows<T, I>(std::size_t, std::size_t, const T*, const I*,       \
                                             const xent_targets<T>&, T, const T*, T*, T*);       \
    template void softmax_xent_index_rows_backward<T, I>(std::size_t, std::size_t, const T*,     \
                                                         const I*, const xent_targets<T>&, T,    \
                                                         const T*, const T*, T, T*);             \
    template T softmax_xent_index_rows_fused<T, I>(std::size_t, std::size_t, const T*, const I*, \
                                                   const xent_targets<T>&, T, T*, T*);

#define FUSEGRAD_INSTANTIATE_XENT_PROB(T)                                                          \
    template T softmax_xent_prob_rows<T>(std::size_t, std::size_t, const T*, const T*,             \
                                         const xent_targets<T>&, T, const T*, T*, T*);             \
    template void softmax_xent_prob_rows_backward<T>(std::size_t, std::size_t, const T*, const T*, \
                                                     const xent_targets<T>&, T, const T*,          \
                                                     const T*, T, T*, T, T*);                      \
    template T softmax_xent_prob_rows_fused<T>(std::size_t, std::size_t, const T*, const T*,       \
                                               const xent_targets<T>&, T, T*, T*);

FUSEGRAD_INSTANTIATE_XENT_INDEX(float, std::int32_t)
FUSEGRAD_INSTANTIATE_XENT_INDEX(float, std::int64_t)
FUSEGRAD_INSTANTIATE_XENT_INDEX(double, std::int32_t)
FUSEGRAD_INSTANTIATE_XENT_INDEX(double, std::int64_t)
FUSEGRAD_INSTANTIATE_XENT_PROB(float)
FUSEGRAD_INSTANTIATE_XENT_PROB(double)

#undef FUSEGRAD_INSTANTIATE_XENT_INDEX
#undef FUSEGRAD_INSTANTIATE_XENT_PROB

}  // namespace fusegrad::kernels
