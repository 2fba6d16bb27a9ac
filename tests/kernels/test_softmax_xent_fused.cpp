// The fused softmax cross-entropy (forward + backward in one call) against the separate forward
// and backward kernels (themselves checked against long double oracles in
// test_softmax_xent_kernels.cpp), against the fused scalar reference, and against closed forms;
// on every instruction set, for every target option, odd sizes up to rows of 32000, unaligned
// pointers and special values. Also: the +inf logit gives a NaN row on every path, and the result
// does not depend on the thread count.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "../support/special_values.hpp"
#include "each_arch.hpp"
#include "fusegrad/kernels/kernels.hpp"

#if __has_include(<omp.h>)
#include <omp.h>
#define FUSEGRAD_TEST_HAVE_OMP 1
#endif

#include "kernel_test_data.hpp"

namespace fk = fusegrad::kernels;
using fusegrad_test::kInf;
using fusegrad_test::kNaN;

namespace {

/// Relative bound on a loss (or a total), against 1 + |want|. The fused kernel sums e^{s − max}
/// and Σ t (max − s) in its own order (and takes one exp, not two), so agreement is to rounding,
/// not to the bit: a fixed part, plus sqrt(n) ulp for the order of n-term sums.
template <class T>
double loss_tol(std::size_t n = 1) {
    const double u = std::numeric_limits<T>::epsilon();
    return (std::is_same_v<T, float> ? 2e-5 : 1e-13) + 4.0 * std::sqrt(double(n)) * u;
}
/// Absolute bound on a gradient entry, in units of alpha · max(1, T_i): every entry is
/// alpha (T_i p_j − t_j) with p_j in [0, 1], and p_j = e_j / Σ e agrees with
/// exp(s_j − max − log Σ) to a few ulp of p_j.
template <class T>
double grad_tol() {
    return std::is_same_v<T, float> ? 1e-6 : 1e-14;
}

/// Deterministic non-dyadic logits in about [-4, 4] (scaled by `spread`).
template <class T>
std::vector<T> logits(std::size_t count, unsigned seed, double spread = 4.0) {
    std::vector<T> v(count);
    for (std::size_t i = 0; i < count; ++i)
        v[i] = static_cast<T>(spread * std::sin(0.77 * static_cast<double>(i) + 1.3 * seed));
    return v;
}

using fusegrad_test::F32I32;
using fusegrad_test::F32I64;
using fusegrad_test::F64I32;
using fusegrad_test::F64I64;
using fusegrad_test::positives;

/// The outputs of one fused call (or of the forward + backward pair).
template <class T>
struct result {
    T total = T(0);
    std::vector<T> loss, ds;
};

void check_loss(double got, double want, double tol) {
    INFO("loss got " << got << ", want " << want);
    if (std::isinf(want))
        CHECK(got == want);
    else
        CHECK(std::abs(got - want) <= tol * (1.0 + std::abs(want)));
}

/// The same for a `want` from the scalar forward kernel (softmax_xent_*_rows), whose n-term sums
/// run left to right: their error bound is n ulp, not sqrt(n) (seen: 2.4e-4 relative at
/// n = 32000 in float with probability targets and smoothing).
template <class T>
double loss_tol_vs(std::size_t n) {
    return fk::active_arch() == fk::arch::scalar
               ? loss_tol<T>(n) + double(n) * std::numeric_limits<T>::epsilon()
               : loss_tol<T>(n);
}

/// Compares two results: losses and total relatively (loss_tol_vs), gradients absolutely.
template <class T>
void check_same(const result<T>& got, const result<T>& want, std::size_t m, std::size_t n,
                double grad_bound) {
    double abs_total = 0;
    for (std::size_t i = 0; i < m; ++i) {
        INFO("row " << i);
        check_loss(got.loss[i], want.loss[i], loss_tol_vs<T>(n));
        abs_total += std::abs(static_cast<double>(want.loss[i]));
        for (std::size_t j = 0; j < n; ++j) {
            const double g = got.ds[i * n + j], w = want.ds[i * n + j];
            if (std::abs(g - w) > grad_bound) {
                INFO("ds[" << i << ", " << j << "] got " << g << ", want " << w);
                CHECK(std::abs(g - w) <= grad_bound);
            }
        }
    }
    INFO("total got " << got.total << ", want " << want.total);
    if (std::isinf(want.total))
        CHECK(got.total == want.total);
    else
        CHECK(std::abs(static_cast<double>(got.total) - static_cast<double>(want.total)) <=
              loss_tol_vs<T>(n) * (1.0 + abs_total));
}

template <class T, class I>
result<T> fused_index(std::size_t m, std::size_t n, const T* s, const I* y,
                      const fk::xent_targets<T>& tg, T alpha) {
    result<T> r;
    r.loss.assign(m, kNaN<T>);
    r.ds.assign(m * n, kNaN<T>);  // overwritten, never read
    r.total =
        fk::softmax_xent_index_rows_fused<T, I>(m, n, s, y, tg, alpha, r.loss.data(), r.ds.data());
    return r;
}

template <class T, class I>
result<T> pair_index(std::size_t m, std::size_t n, const T* s, const I* y,
                     const fk::xent_targets<T>& tg, T alpha) {
    result<T> r;
    r.loss.assign(m, kNaN<T>);
    r.ds.assign(m * n, kNaN<T>);
    std::vector<T> stats(2 * m);
    r.total = fk::softmax_xent_index_rows<T, I>(m, n, s, y, tg, T(1), nullptr, r.loss.data(),
                                                stats.data());
    fk::softmax_xent_index_rows_backward<T, I>(m, n, s, y, tg, alpha, nullptr, stats.data(), T(0),
                                               r.ds.data());
    return r;
}

template <class T>
result<T> fused_prob(std::size_t m, std::size_t n, const T* s, const T* y,
                     const fk::xent_targets<T>& tg, T alpha) {
    result<T> r;
    r.loss.assign(m, kNaN<T>);
    r.ds.assign(m * n, kNaN<T>);
    r.total =
        fk::softmax_xent_prob_rows_fused<T>(m, n, s, y, tg, alpha, r.loss.data(), r.ds.data());
    return r;
}

template <class T>
result<T> pair_prob(std::size_t m, std::size_t n, const T* s, const T* y,
                    const fk::xent_targets<T>& tg, T alpha) {
    result<T> r;
    r.loss.assign(m, kNaN<T>);
    r.ds.assign(m * n, kNaN<T>);
    std::vector<T> stats(2 * m);
    r.total =
        fk::softmax_xent_prob_rows<T>(m, n, s, y, tg, T(1), nullptr, r.loss.data(), stats.data());
    fk::softmax_xent_prob_rows_backward<T>(m, n, s, y, tg, alpha, nullptr, stats.data(), T(0),
                                           r.ds.data(), T(0), nullptr);
    return r;
}

/// The sizes every comparison runs over: widths below, at and above every batch width and the
/// narrow-path limit (rows under 32 wide go 32 rows at a time: 37 rows make two blocks), a
/// prime above 4096, and LLM-vocabulary rows.
constexpr std::size_t kSizes[][2] = {{3, 1},  {5, 7},  {4, 9},    {37, 10},  {9, 16},   {40, 31},
                                     {5, 32}, {4, 33}, {3, 1023}, {2, 4099}, {2, 32000}};

}  // namespace

TEMPLATE_TEST_CASE(
    "softmax_xent_index_rows_fused matches the forward + backward kernels and the scalar "
    "reference for every option, odd sizes and unaligned pointers",
    "[kernels][softmax_xent][fused]", F32I32, F32I64, F64I32, F64I64) {
    FUSEGRAD_EACH_ARCH();
    using T = typename TestType::value;
    using I = typename TestType::index;
    unsigned seed = 3;
    for (const auto& mn : kSizes) {
        const std::size_t m = mn[0], n = mn[1];
        for (const bool weighted : {false, true}) {
            for (const double eps : {0.0, 0.1}) {
                for (const bool ignoring : {false, true}) {
                    for (const std::size_t offset : {std::size_t(0), std::size_t(1)}) {
                        ++seed;
                        INFO("m " << m << ", n " << n << ", weights " << weighted << ", eps " << eps
                                  << ", ignore " << ignoring << ", offset " << offset);
                        // offset 1: s (and so every row) starts off its natural alignment.
                        const auto sbuf = logits<T>(m * n + offset, seed);
                        const T* s = sbuf.data() + offset;
                        const auto c = positives<T>(n, seed);
                        std::vector<I> y(m);
                        for (std::size_t i = 0; i < m; ++i)
                            y[i] = static_cast<I>((i * 5 + seed) % n);
                        const std::int64_t ignore = -100;
                        if (ignoring) y[m / 2] = static_cast<I>(ignore);
                        fk::xent_targets<T> tg;
                        tg.class_weights = weighted ? c.data() : nullptr;
                        tg.smoothing = static_cast<T>(eps);
                        tg.has_ignore_index = ignoring;
                        tg.ignore_index = ignore;
                        const T alpha = static_cast<T>(0.75);
                        const double bound = grad_tol<T>() * 0.75 * (weighted ? 2.0 : 1.0);

                        const auto fused = fused_index<T, I>(m, n, s, y.data(), tg, alpha);
                        {
                            INFO("fused vs forward + backward");
                            check_same(fused, pair_index<T, I>(m, n, s, y.data(), tg, alpha), m, n,
                                       bound);
                        }
                        {
                            INFO("fused vs the fused scalar reference");
                            const fk::arch_scope scalar(fk::arch::scalar);
                            check_same(fused, fused_index<T, I>(m, n, s, y.data(), tg, alpha), m, n,
                                       bound);
                        }
                        if (ignoring) {  // an ignored row: loss 0 and gradient exactly 0
                            CHECK(fused.loss[m / 2] == T(0));
                            for (std::size_t j = 0; j < n; ++j)
                                CHECK(fused.ds[(m / 2) * n + j] == T(0));
                        }
                    }
                }
            }
        }
    }
}

TEMPLATE_TEST_CASE(
    "softmax_xent_prob_rows_fused matches the forward + backward kernels and the scalar "
    "reference for every option, odd sizes and unaligned pointers",
    "[kernels][softmax_xent][fused]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    unsigned seed = 11;
    for (const auto& mn : kSizes) {
        const std::size_t m = mn[0], n = mn[1];
        for (const bool weighted : {false, true}) {
            for (const double eps : {0.0, 0.2}) {
                for (const bool one_hot : {false, true}) {
                    for (const std::size_t offset : {std::size_t(0), std::size_t(1)}) {
                        ++seed;
                        INFO("m " << m << ", n " << n << ", weights " << weighted << ", eps " << eps
                                  << ", one-hot " << one_hot << ", offset " << offset);
                        const auto sbuf = logits<T>(m * n + offset, seed);
                        const T* s = sbuf.data() + offset;
                        const auto c = positives<T>(n, seed);
                        // Unnormalised positive targets (T_i != 1), or one-hot rows.
                        auto ybuf = positives<T>(m * n + offset, seed + 5);
                        if (one_hot) {
                            for (auto& v : ybuf) v = T(0);
                            for (std::size_t i = 0; i < m; ++i)
                                ybuf[offset + i * n + (i * 3 + seed) % n] = T(1);
                        }
                        const T* yp = ybuf.data() + offset;
                        fk::xent_targets<T> tg;
                        tg.class_weights = weighted ? c.data() : nullptr;
                        tg.smoothing = static_cast<T>(eps);
                        const T alpha = static_cast<T>(1.5);
                        // T_i is up to about n · 2 · 2 here: the bound scales with it.
                        double t_max = 1.0;
                        for (std::size_t i = 0; i < m; ++i) {
                            double t = 0;
                            for (std::size_t j = 0; j < n; ++j)
                                t += (weighted ? double(c[j]) : 1.0) *
                                     ((1.0 - eps) * double(yp[i * n + j]) + eps / double(n));
                            t_max = std::max(t_max, t);
                        }
                        const double bound = grad_tol<T>() * 1.5 * t_max;

                        const auto fused = fused_prob<T>(m, n, s, yp, tg, alpha);
                        {
                            INFO("fused vs forward + backward");
                            check_same(fused, pair_prob<T>(m, n, s, yp, tg, alpha), m, n, bound);
                        }
                        {
                            INFO("fused vs the fused scalar reference");
                            const fk::arch_scope scalar(fk::arch::scalar);
                            check_same(fused, fused_prob<T>(m, n, s, yp, tg, alpha), m, n, bound);
                        }
                    }
                }
            }
        }
    }
}

TEMPLATE_TEST_CASE("softmax_xent fused: closed forms for equal and huge logits",
                   "[kernels][softmax_xent][fused]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const T alpha = T(0.5);
    for (const std::size_t n :
         {std::size_t(1), std::size_t(7), std::size_t(10), std::size_t(33), std::size_t(4099)}) {
        INFO("n " << n);
        SECTION("equal logits: loss log n, gradient alpha (1/n - onehot)") {
            // Any common value, even 1e4, gives the uniform softmax: the max is subtracted first.
            for (const T v : {T(0), T(-3.25), T(1e4), T(-1e4)}) {
                INFO("logit " << v);
                const std::vector<T> s(2 * n, v);
                const std::vector<std::int32_t> y = {0, static_cast<std::int32_t>(n - 1)};
                std::vector<T> loss(2), ds(2 * n);
                const T total = fk::softmax_xent_index_rows_fused<T, std::int32_t>(
                    2, n, s.data(), y.data(), {}, alpha, loss.data(), ds.data());
                const double want = std::log(static_cast<double>(n));
                check_loss(loss[0], want, loss_tol<T>());
                check_loss(loss[1], want, loss_tol<T>());
                check_loss(total, 2 * want, loss_tol<T>());
                for (std::size_t i = 0; i < 2; ++i)
                    for (std::size_t j = 0; j < n; ++j) {
                        const double g = 0.5 * (1.0 / double(n) -
                                                (j == static_cast<std::size_t>(y[i]) ? 1.0 : 0.0));
                        CHECK(std::abs(ds[i * n + j] - g) <= grad_tol<T>());
                    }
            }
        }
        SECTION("one logit 1e4 (or 30) above the rest: loss ~0 at it, ~gap elsewhere") {
            for (const T gap : {T(30), T(1e4)}) {
                INFO("gap " << gap);
                std::vector<T> s(n, T(-2));
                s[n / 2] = T(-2) + gap;
                const std::int32_t at = static_cast<std::int32_t>(n / 2);
                const std::int32_t off = n > 1 ? 0 : at;
                std::vector<T> loss(1), ds(n);
                fk::softmax_xent_index_rows_fused<T, std::int32_t>(1, n, s.data(), &at, {}, alpha,
                                                                   loss.data(), ds.data());
                // loss = log(1 + (n − 1) e^{−gap}): e^{−30} · 4098 ≈ 3.8e-10, below any bound.
                CHECK(std::abs(loss[0]) <= 1e-6);
                for (std::size_t j = 0; j < n; ++j) CHECK(std::abs(ds[j]) <= 1e-6);
                fk::softmax_xent_index_rows_fused<T, std::int32_t>(1, n, s.data(), &off, {}, alpha,
                                                                   loss.data(), ds.data());
                if (n > 1) {
                    check_loss(loss[0], static_cast<double>(gap), loss_tol<T>());
                    CHECK(std::abs(ds[n / 2] - 0.5) <= grad_tol<T>());
                    CHECK(std::abs(ds[0] + 0.5) <= grad_tol<T>());
                }
            }
        }
    }
}

TEMPLATE_TEST_CASE("softmax_xent fused: special values", "[kernels][softmax_xent][fused]", float,
                   double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const T ninf = -kInf<T>;
    const T alpha = T(0.25);
    for (const std::size_t n : {std::size_t(3), std::size_t(10), std::size_t(37)}) {
        INFO("n " << n);
        SECTION("masked (-inf) classes: softmax exactly 0 there, rest as without them") {
            // Row 0: every third class masked; row 1: the same logits without the masked classes
            // would give the same softmax over the rest; compare with the pair kernels.
            auto s = logits<T>(2 * n, 5);
            for (std::size_t j = 0; j < n; j += 3) s[j] = ninf;
            const std::vector<std::int64_t> y = {1, 0};  // row 1's label lands on a masked class
            s[n] = ninf;
            std::vector<T> loss(2), ds(2 * n);
            fk::softmax_xent_index_rows_fused<T, std::int64_t>(2, n, s.data(), y.data(), {}, alpha,
                                                               loss.data(), ds.data());
            CHECK(std::isfinite(loss[0]));
            CHECK(loss[1] == kInf<T>);  // the target class has probability 0
            for (std::size_t j = 0; j < n; j += 3) CHECK(ds[j] == T(0));
            CHECK(ds[n] == -alpha);  // alpha (0 − 1) exactly
            const auto pair = pair_index<T, std::int64_t>(2, n, s.data(), y.data(), {}, alpha);
            result<T> got{loss[0] + loss[1], loss, ds};
            check_same(got, pair, 2, n, grad_tol<T>());
        }
        SECTION(
            "+inf logit, NaN logit, all -inf row: NaN loss and NaN gradient in that row "
            "only, on the fused and the pair kernels alike") {
            for (const int kind : {0, 1, 2}) {
                INFO("kind " << kind << " (0: +inf, 1: NaN, 2: all -inf)");
                auto s = logits<T>(3 * n, 9);
                if (kind == 0) s[n + 1] = kInf<T>;
                if (kind == 1) s[n + n / 2] = kNaN<T>;
                if (kind == 2)
                    for (std::size_t j = 0; j < n; ++j) s[n + j] = ninf;
                const std::vector<std::int32_t> y = {0, 1, 2};
                const auto fused =
                    fused_index<T, std::int32_t>(3, n, s.data(), y.data(), {}, alpha);
                const auto pair = pair_index<T, std::int32_t>(3, n, s.data(), y.data(), {}, alpha);
                for (const result<T>* r : {&fused, &pair}) {
                    INFO((r == &fused ? "fused" : "pair"));
                    CHECK(std::isnan(r->loss[1]));
                    CHECK(std::isnan(r->total));
                    for (std::size_t j = 0; j < n; ++j) CHECK(std::isnan(r->ds[n + j]));
                    for (const std::size_t i : {std::size_t(0), std::size_t(2)}) {
                        CHECK(std::isfinite(r->loss[i]));
                        for (std::size_t j = 0; j < n; ++j) CHECK(std::isfinite(r->ds[i * n + j]));
                    }
                }
                // Probability targets too.
                const std::vector<T> yp(3 * n, T(1) / T(n));
                const auto fp = fused_prob<T>(3, n, s.data(), yp.data(), {}, alpha);
                CHECK(std::isnan(fp.loss[1]));
                for (std::size_t j = 0; j < n; ++j) CHECK(std::isnan(fp.ds[n + j]));
                CHECK(std::isfinite(fp.loss[0]));
            }
        }
        SECTION("an ignored row's values do not matter: +inf / NaN there give loss 0, gradient 0") {
            auto s = logits<T>(2 * n, 4);
            s[n] = kInf<T>;
            s[n + 1] = kNaN<T>;
            const std::vector<std::int64_t> y = {2, -1};
            fk::xent_targets<T> tg;
            tg.has_ignore_index = true;
            tg.ignore_index = -1;
            const auto r = fused_index<T, std::int64_t>(2, n, s.data(), y.data(), tg, alpha);
            CHECK(r.loss[1] == T(0));
            CHECK(std::isfinite(r.total));
            for (std::size_t j = 0; j < n; ++j) CHECK(r.ds[n + j] == T(0));
        }
    }
}

namespace {
/// The distance in float steps between a and b (both finite and of one sign).
std::int64_t ulps(float a, float b) {
    std::int32_t ia, ib;
    std::memcpy(&ia, &a, sizeof ia);
    std::memcpy(&ib, &b, sizeof ib);
    return ia > ib ? std::int64_t(ia) - ib : std::int64_t(ib) - ia;
}
}  // namespace

TEST_CASE(
    "softmax_xent fused: the wide path's exp is within 1 ulp of e^x on every float in "
    "[-87.3, -22], below FLT_MIN under that, and accurate (sampled) in (-22, 0]",
    "[kernels][softmax_xent][fused]") {
    FUSEGRAD_EACH_ARCH();
    // Rows of 32 (the wide path): logit 0 at the label, then values x <= -22, whose e^x are
    // too small to move Σ = 1 + Σ e^x off 1 in float. So log Σ = 0, the gradient's scale is
    // 1 / Σ = 1, and ds = e^x exactly as the kernel's exp computed it.
    const std::size_t n = 32, per_row = n - 1, rows = 4096;
    std::vector<float> s(rows * n), ds(rows * n), loss(rows);
    const std::vector<std::int32_t> y(rows, 0);
    std::int64_t worst = 0;
    float worst_at = 0.0f;
    const auto check_block = [&](std::size_t count) {
        const std::size_t used = (count + per_row - 1) / per_row;
        fk::softmax_xent_index_rows_fused<float, std::int32_t>(used, n, s.data(), y.data(), {},
                                                               1.0f, loss.data(), ds.data());
        for (std::size_t i = 0; i < used; ++i) {
            REQUIRE(loss[i] == 0.0f);
            REQUIRE(ds[i * n] == 0.0f);  // 1 · 1 − 1
            for (std::size_t j = 1; j < n && (i * per_row + j - 1) < count; ++j) {
                const float x = s[i * n + j];
                const float want = static_cast<float>(std::exp(static_cast<double>(x)));
                const float got = ds[i * n + j];
                if (x >= -87.3f) {
                    const std::int64_t d = ulps(got, want);
                    if (d > worst) {
                        worst = d;
                        worst_at = x;
                    }
                } else {  // under exp_low: 0 or the true value, an error under FLT_MIN
                    REQUIRE(got >= 0.0f);
                    REQUIRE(std::abs(double(got) - std::exp(double(x))) <
                            double(std::numeric_limits<float>::min()));
                }
            }
        }
    };
    // Every float from -22 down to -88 (a little past exp_low), in blocks of rows.
    std::int32_t bits, last;
    const float hi = -22.0f, lo = -88.0f;
    std::memcpy(&bits, &hi, sizeof bits);
    std::memcpy(&last, &lo, sizeof last);
    std::size_t count = 0;
    std::fill(s.begin(), s.end(), 0.0f);
    for (; bits <= last; ++bits) {
        float x;
        std::memcpy(&x, &bits, sizeof x);
        s[(count / per_row) * n + 1 + count % per_row] = x;
        if (++count == rows * per_row) {
            check_block(count);
            count = 0;
        }
    }
    if (count > 0) {
        for (std::size_t k = count; k < rows * per_row; ++k)
            s[(k / per_row) * n + 1 + k % per_row] = lo;
        check_block(count);
    }
    {
        INFO("worst " << worst << " ulp at " << worst_at);
        CHECK(worst <= 1);
    }

    // Above -22: one value per row, the rest masked: ds = e^x · (1 / fl(1 + e^x)), three
    // roundings after the exp's, so the bound is 4 ulp of e^x / (1 + e^x). Every 4999th float.
    std::fill(s.begin(), s.end(), -kInf<float>);
    // The bit patterns of negative floats grow with the magnitude: walk down from -22 to -0.
    std::int32_t top32;
    const float zero = -0.0f;
    std::memcpy(&top32, &zero, sizeof top32);
    std::memcpy(&bits, &hi, sizeof bits);
    std::int64_t at = bits;
    std::int64_t worst_wide = 0;
    while (at > top32) {
        std::size_t used = 0;
        for (; used < rows && at > top32; ++used, at -= 4999) {
            const auto b = static_cast<std::int32_t>(at);
            float x;
            std::memcpy(&x, &b, sizeof x);
            s[used * n] = 0.0f;
            s[used * n + 1] = x;
        }
        fk::softmax_xent_index_rows_fused<float, std::int32_t>(used, n, s.data(), y.data(), {},
                                                               1.0f, loss.data(), ds.data());
        for (std::size_t i = 0; i < used; ++i) {
            const double e = std::exp(double(s[i * n + 1]));
            const float want = static_cast<float>(e / (1.0 + e));
            const std::int64_t d = ulps(ds[i * n + 1], want);
            if (d > worst_wide) {
                worst_wide = d;
                worst_at = s[i * n + 1];
            }
            REQUIRE(ds[i * n + 2] == 0.0f);  // a masked class
        }
    }
    INFO("worst " << worst_wide << " ulp at " << worst_at);
    CHECK(worst_wide <= 4);
}

TEST_CASE("softmax_xent fused: empty problems write nothing", "[kernels][softmax_xent][fused]") {
    FUSEGRAD_EACH_ARCH();
    std::vector<float> loss(3, kNaN<float>);
    const std::vector<std::int32_t> y = {0, 0, 0};
    // n = 0: three rows of nothing, each loss 0; m = 0: nothing at all.
    CHECK(fk::softmax_xent_index_rows_fused<float, std::int32_t>(3, 0, nullptr, y.data(), {}, 1.0f,
                                                                 loss.data(), nullptr) == 0.0f);
    for (const float l : loss) CHECK(l == 0.0f);
    CHECK(fk::softmax_xent_prob_rows_fused<float>(0, 5, nullptr, nullptr, {}, 1.0f, nullptr,
                                                  nullptr) == 0.0f);
}

#ifdef FUSEGRAD_TEST_HAVE_OMP
TEST_CASE("softmax_xent fused: bitwise the same with 1 and 2 threads",
          "[kernels][softmax_xent][fused][threads]") {
    FUSEGRAD_EACH_ARCH();
    const std::size_t m = 1500, n = 1000;  // 6 chunks of 256 rows, over the parallel threshold
    const auto s = logits<float>(m * n, 2, 8.0);
    std::vector<std::int32_t> y(m);
    for (std::size_t i = 0; i < m; ++i) y[i] = static_cast<std::int32_t>((i * 37) % n);
    auto run = [&](int threads) {
        const int previous = omp_get_max_threads();
        omp_set_num_threads(threads);
        auto r = fused_index<float, std::int32_t>(m, n, s.data(), y.data(), {}, 1.0f / m);
        omp_set_num_threads(previous);
        r.ds.push_back(r.total);
        r.ds.insert(r.ds.end(), r.loss.begin(), r.loss.end());
        return r.ds;
    };
    const auto one = run(1), two = run(2);
    REQUIRE(one.size() == two.size());
    CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
}
#endif
