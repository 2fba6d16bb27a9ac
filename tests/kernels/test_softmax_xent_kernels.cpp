// The fused softmax cross-entropy kernels and the nll-over-log-probabilities kernels against
// long double oracles written here from the definitions (target rows built independently of
// the kernels), closed forms at extreme logits, masked (-inf) classes, odd sizes, and the
// beta = 0 / beta = 1 output conventions.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "../support/special_values.hpp"
#include "each_arch.hpp"
#include "fusegrad/kernels/kernels.hpp"

#include "kernel_test_data.hpp"

namespace fk = fusegrad::kernels;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using fusegrad_test::kInf;
using fusegrad_test::kNaN;

namespace {

template <class T>
double tol() {
    return std::is_same_v<T, float> ? 2e-5 : 1e-13;
}

/// Deterministic non-dyadic logits in about [-4, 4].
template <class T>
std::vector<T> logits(std::size_t count, unsigned seed) {
    std::vector<T> v(count);
    for (std::size_t i = 0; i < count; ++i)
        v[i] = static_cast<T>(4.0 * std::sin(0.77 * static_cast<double>(i) + 1.3 * seed));
    return v;
}

using fusegrad_test::positives;

/// One row's loss, gradients and log-sum-exp from the definitions, in long double.
struct oracle_row {
    long double max = 0, log_sum = 0, loss = 0;
    std::vector<long double> ds, dy;
};

/// s: logits (may hold -inf); t: the target row; r: the row scale; dy_coef[j] = ∂(r·t_j)/∂y_j.
oracle_row oracle(const std::vector<long double>& s, const std::vector<long double>& t,
                  long double r, const std::vector<long double>& dy_coef) {
    oracle_row o;
    const std::size_t n = s.size();
    long double mx = -std::numeric_limits<long double>::infinity();
    for (const long double v : s) mx = v > mx ? v : mx;
    long double sum = 0;
    for (const long double v : s)
        if (v != -std::numeric_limits<long double>::infinity()) sum += std::exp(v - mx);
    o.max = mx;
    o.log_sum = std::log(sum);
    const long double lse = mx + o.log_sum;
    long double t_total = 0;
    for (std::size_t j = 0; j < n; ++j) {
        t_total += t[j];
        if (t[j] != 0) o.loss += t[j] * (lse - s[j]);
    }
    o.loss *= r;
    o.ds.resize(n);
    o.dy.resize(n);
    for (std::size_t j = 0; j < n; ++j) {
        o.ds[j] = r * (t_total * std::exp(s[j] - lse) - t[j]);
        o.dy[j] = dy_coef.empty() || dy_coef[j] == 0 ? 0 : dy_coef[j] * (lse - s[j]);
    }
    return o;
}

template <class T>
std::vector<long double> row_ld(const std::vector<T>& v, std::size_t i, std::size_t n) {
    return std::vector<long double>(v.begin() + static_cast<std::ptrdiff_t>(i * n),
                                    v.begin() + static_cast<std::ptrdiff_t>((i + 1) * n));
}

/// Checks a kernel value against a long double one: relative for large values, absolute near 0.
void check_close(double got, long double want, double rel, double scale = 1.0) {
    INFO("got " << got << ", want " << static_cast<double>(want));
    if (std::isinf(static_cast<double>(want))) {
        CHECK(got == static_cast<double>(want));
    } else {
        CHECK(std::abs(got - static_cast<double>(want)) <=
              rel * (scale + std::abs(static_cast<double>(want))));
    }
}

using fusegrad_test::F32I32;
using fusegrad_test::F32I64;
using fusegrad_test::F64I32;
using fusegrad_test::F64I64;

/// The index target row from its definition: 0 when ignored, else
/// (1 - eps) c_y e_y + (eps / n) c.
template <class T, class I>
std::vector<long double> index_target(std::size_t n, I label, const T* c, double eps,
                                      bool has_ignore, std::int64_t ignore) {
    std::vector<long double> t(n, 0.0L);
    if (has_ignore && static_cast<std::int64_t>(label) == ignore) return t;
    for (std::size_t j = 0; j < n; ++j) {
        const long double cj = c ? static_cast<long double>(c[j]) : 1.0L;
        t[j] = static_cast<long double>(static_cast<T>(eps)) / n * cj;  // eps as the kernel gets it
        if (j == static_cast<std::size_t>(label))
            t[j] += (1.0L - static_cast<long double>(static_cast<T>(eps))) * cj;
    }
    return t;
}

}  // namespace

// ---- class-index targets -----------------------------------------------------------------------

TEMPLATE_TEST_CASE(
    "softmax_xent_index_rows: loss, total, stats and gradient match the oracle "
    "for every option, odd sizes and both label types",
    "[kernels][softmax_xent]", F32I32, F32I64, F64I32, F64I64) {
    FUSEGRAD_EACH_ARCH();
    using T = typename TestType::value;
    using I = typename TestType::index;
    const double rel = tol<T>();
    const std::size_t sizes[][2] = {{1, 1}, {1, 7}, {3, 5}, {7, 13}, {17, 3}, {5, 33}};
    const double smoothings[] = {0.0, 0.1, 1.0};
    unsigned seed = 1;
    for (const auto& mn : sizes) {
        const std::size_t m = mn[0], n = mn[1];
        for (const bool weighted : {false, true}) {
            for (const double eps : smoothings) {
                for (const bool ignoring : {false, true}) {
                    for (const bool per_row : {false, true}) {
                        ++seed;
                        INFO("m " << m << ", n " << n << ", weights " << weighted << ", eps " << eps
                                  << ", ignore " << ignoring << ", row scales " << per_row);
                        const auto s = logits<T>(m * n, seed);
                        const auto c = positives<T>(n, seed);
                        const auto scales = positives<T>(m, seed + 7);
                        std::vector<I> y(m);
                        for (std::size_t i = 0; i < m; ++i)
                            y[i] = static_cast<I>((i * 5 + seed) % n);
                        // Ignore a label that is in range (class 0) and one that is not (-100).
                        const std::int64_t ignore = n > 1 ? 0 : -100;
                        if (ignoring && m > 2) y[m / 2] = static_cast<I>(ignore);
                        fk::xent_targets<T> tg;
                        tg.class_weights = weighted ? c.data() : nullptr;
                        tg.smoothing = static_cast<T>(eps);
                        tg.has_ignore_index = ignoring;
                        tg.ignore_index = ignore;
                        const T alpha = static_cast<T>(0.75);
                        const T* rs = per_row ? scales.data() : nullptr;

                        std::vector<T> loss(m, kNaN<T>), stats(2 * m, kNaN<T>);
                        const T total = fk::softmax_xent_index_rows<T, I>(
                            m, n, s.data(), y.data(), tg, alpha, rs, loss.data(), stats.data());
                        std::vector<T> ds(m * n, kNaN<T>), ds_from_stats(m * n, kNaN<T>);
                        fk::softmax_xent_index_rows_backward<T, I>(
                            m, n, s.data(), y.data(), tg, alpha, rs, nullptr, T(0), ds.data());
                        fk::softmax_xent_index_rows_backward<T, I>(m, n, s.data(), y.data(), tg,
                                                                   alpha, rs, stats.data(), T(0),
                                                                   ds_from_stats.data());
                        long double want_total = 0;
                        for (std::size_t i = 0; i < m; ++i) {
                            INFO("row " << i);
                            const long double r = static_cast<long double>(alpha) *
                                                  (rs ? static_cast<long double>(rs[i]) : 1.0L);
                            const auto t = index_target<T, I>(n, y[i], tg.class_weights, eps,
                                                              ignoring, ignore);
                            const auto o = oracle(row_ld(s, i, n), t, r, {});
                            check_close(loss[i], o.loss, rel);
                            check_close(stats[2 * i], o.max, rel);
                            check_close(stats[2 * i + 1], o.log_sum, rel);
                            want_total += o.loss;
                            for (std::size_t j = 0; j < n; ++j) {
                                check_close(ds[i * n + j], o.ds[j], rel);
                                // The same pass, read back: bitwise the same gradient.
                                CHECK(ds_from_stats[i * n + j] == ds[i * n + j]);
                            }
                        }
                        check_close(total, want_total, rel);
                    }
                }
            }
        }
    }
}

TEMPLATE_TEST_CASE(
    "softmax_xent_index_rows: ignored rows give exactly 0 loss and 0 gradient, "
    "whatever the scale, and their out-of-range label is never read",
    "[kernels][softmax_xent]", F32I32, F64I64) {
    FUSEGRAD_EACH_ARCH();
    using T = typename TestType::value;
    using I = typename TestType::index;
    const std::size_t m = 3, n = 4;
    const auto s = logits<T>(m * n, 3);
    const std::vector<I> y = {1, -100, 3};
    const std::vector<T> scales = {1, kInf<T>, 2};  // an infinite scale on the ignored row
    fk::xent_targets<T> tg;
    tg.has_ignore_index = true;
    tg.ignore_index = -100;
    tg.smoothing = T(0.2);
    std::vector<T> loss(m, kNaN<T>), ds(m * n, kNaN<T>);
    fk::softmax_xent_index_rows<T, I>(m, n, s.data(), y.data(), tg, T(1), scales.data(),
                                      loss.data(), nullptr);
    fk::softmax_xent_index_rows_backward<T, I>(m, n, s.data(), y.data(), tg, T(1), scales.data(),
                                               nullptr, T(0), ds.data());
    CHECK(loss[1] == T(0));
    for (std::size_t j = 0; j < n; ++j) CHECK(ds[n + j] == T(0));
    CHECK(std::isfinite(loss[0]));
    CHECK(std::isfinite(loss[2]));
}

TEMPLATE_TEST_CASE("xent_first_bad_label skips the ignore index, in range or not",
                   "[kernels][softmax_xent]", F32I32, F64I64) {
    FUSEGRAD_EACH_ARCH();
    using T = typename TestType::value;
    using I = typename TestType::index;
    fk::xent_targets<T> none;
    fk::xent_targets<T> ign;
    ign.has_ignore_index = true;
    ign.ignore_index = -100;
    const std::vector<I> y = {0, 2, -100, 1, 3};
    CHECK(fk::xent_first_bad_label<T, I>(5, y.data(), 3, none) == 2);
    CHECK(fk::xent_first_bad_label<T, I>(5, y.data(), 3, ign) == 4);
    CHECK(fk::xent_first_bad_label<T, I>(4, y.data(), 3, ign) == 4);
    CHECK(fk::xent_first_bad_label<T, I>(0, y.data(), 3, ign) == 0);
    ign.ignore_index = 3;  // an ignore index that is a valid class, and then ignores it
    CHECK(fk::xent_first_bad_label<T, I>(5, y.data(), 3, ign) == 2);
    CHECK(fk::xent_first_bad_label<T, I>(5, y.data(), 4, none) == 2);
    // An ignore index no int32 can hold matches no label.
    ign.ignore_index = std::int64_t(1) << 40;
    CHECK(fk::xent_first_bad_label<T, I>(5, y.data(), 4, ign) == 2);
}

TEMPLATE_TEST_CASE("xent_index_weight_total: the weights of the rows not ignored",
                   "[kernels][softmax_xent]", F32I32, F64I64) {
    FUSEGRAD_EACH_ARCH();
    using T = typename TestType::value;
    using I = typename TestType::index;
    const std::vector<T> c = {0.5, 2, 4};
    const std::vector<I> y = {0, 2, 1, 2, 0};
    fk::xent_targets<T> tg;
    CHECK(fk::xent_index_weight_total<T, I>(5, y.data(), tg) == T(5));
    tg.class_weights = c.data();
    CHECK(fk::xent_index_weight_total<T, I>(5, y.data(), tg) == T(0.5 + 4 + 2 + 4 + 0.5));
    tg.has_ignore_index = true;
    tg.ignore_index = 2;
    CHECK(fk::xent_index_weight_total<T, I>(5, y.data(), tg) == T(0.5 + 2 + 0.5));
    CHECK(fk::xent_index_weight_total<T, I>(0, y.data(), tg) == T(0));
}

// ---- probability targets -----------------------------------------------------------------------

TEMPLATE_TEST_CASE("softmax_xent_prob_rows: loss, stats, ds and dy match the oracle",
                   "[kernels][softmax_xent]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const double rel = tol<T>();
    const std::size_t sizes[][2] = {{1, 1}, {2, 9}, {7, 13}, {13, 4}};
    unsigned seed = 50;
    for (const auto& mn : sizes) {
        const std::size_t m = mn[0], n = mn[1];
        for (const bool weighted : {false, true}) {
            for (const double eps : {0.0, 0.3}) {
                for (const bool per_row : {false, true}) {
                    ++seed;
                    INFO("m " << m << ", n " << n << ", weights " << weighted << ", eps " << eps
                              << ", row scales " << per_row);
                    const auto s = logits<T>(m * n, seed);
                    auto y = positives<T>(m * n, seed + 1);  // not normalised, on purpose
                    y[0] = T(0);                             // and one zero target
                    const auto c = positives<T>(n, seed + 2);
                    const auto scales = positives<T>(m, seed + 3);
                    fk::xent_targets<T> tg;
                    tg.class_weights = weighted ? c.data() : nullptr;
                    tg.smoothing = static_cast<T>(eps);
                    const T alpha = T(1.5);
                    const T* rs = per_row ? scales.data() : nullptr;

                    std::vector<T> loss(m, kNaN<T>), stats(2 * m, kNaN<T>);
                    const T total = fk::softmax_xent_prob_rows<T>(
                        m, n, s.data(), y.data(), tg, alpha, rs, loss.data(), stats.data());
                    std::vector<T> ds(m * n, kNaN<T>), dy(m * n, kNaN<T>);
                    fk::softmax_xent_prob_rows_backward<T>(m, n, s.data(), y.data(), tg, alpha, rs,
                                                           stats.data(), T(0), ds.data(), T(0),
                                                           dy.data());
                    std::vector<T> ds2(m * n, kNaN<T>);
                    fk::softmax_xent_prob_rows_backward<T>(m, n, s.data(), y.data(), tg, alpha, rs,
                                                           nullptr, T(0), ds2.data(), T(0),
                                                           nullptr);
                    long double want_total = 0;
                    const long double e = static_cast<long double>(static_cast<T>(eps));
                    for (std::size_t i = 0; i < m; ++i) {
                        INFO("row " << i);
                        const long double r = static_cast<long double>(alpha) *
                                              (rs ? static_cast<long double>(rs[i]) : 1.0L);
                        std::vector<long double> t(n), coef(n);
                        for (std::size_t j = 0; j < n; ++j) {
                            const long double cj = weighted ? c[j] : 1.0L;
                            t[j] = cj * ((1 - e) * y[i * n + j] + e / n);
                            coef[j] = r * (1 - e) * cj;
                        }
                        const auto o = oracle(row_ld(s, i, n), t, r, coef);
                        check_close(loss[i], o.loss, rel);
                        check_close(stats[2 * i], o.max, rel);
                        check_close(stats[2 * i + 1], o.log_sum, rel);
                        want_total += o.loss;
                        for (std::size_t j = 0; j < n; ++j) {
                            check_close(ds[i * n + j], o.ds[j], rel);
                            check_close(dy[i * n + j], o.dy[j], rel);
                            CHECK(ds2[i * n + j] == ds[i * n + j]);
                        }
                    }
                    check_close(total, want_total, rel);
                }
            }
        }
    }
}

// ---- numerics: extreme logits, masked classes, the online recurrence ---------------------------

TEMPLATE_TEST_CASE("logits of ±1e4 stay finite and equal the closed form logsumexp - s_y",
                   "[kernels][softmax_xent]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const std::size_t m = 4, n = 4;
    const std::vector<T> s = {T(1e4),  T(-1e4), T(0),     T(1e4 - 3),   //
                              T(-1e4), T(-1e4), T(-1e4),  T(-1e4 + 1),  //
                              T(1e4),  T(1e4),  T(1e4),   T(1e4),       //
                              T(-1e4), T(1e4),  T(-9999), T(9999.5)};
    const std::vector<std::int32_t> y = {1, 3, 2, 0};
    fk::xent_targets<T> tg;
    std::vector<T> loss(m), ds(m * n, kNaN<T>);
    fk::softmax_xent_index_rows<T, std::int32_t>(m, n, s.data(), y.data(), tg, T(1), nullptr,
                                                 loss.data(), nullptr);
    fk::softmax_xent_index_rows_backward<T, std::int32_t>(m, n, s.data(), y.data(), tg, T(1),
                                                          nullptr, nullptr, T(0), ds.data());
    for (std::size_t i = 0; i < m; ++i) {
        INFO("row " << i);
        // The closed form, in long double: max + log Σ e^{s - max} - s_y.
        const auto r = row_ld(s, i, n);
        long double mx = r[0];
        for (auto v : r) mx = v > mx ? v : mx;
        long double sum = 0;
        for (auto v : r) sum += std::exp(v - mx);
        const long double want = (mx - r[y[i]]) + std::log(sum);
        REQUIRE(std::isfinite(loss[i]));
        check_close(loss[i], want, std::is_same_v<T, float> ? 1e-6 : 1e-15);
        for (std::size_t j = 0; j < n; ++j) {
            REQUIRE(std::isfinite(ds[i * n + j]));
            const long double p = std::exp(r[j] - mx) / sum;
            check_close(ds[i * n + j], p - (j == std::size_t(y[i]) ? 1 : 0),
                        std::is_same_v<T, float> ? 1e-6 : 1e-15);
        }
    }
    // Row 0: y = 1 at -1e4 against a max of 1e4, loss 2e4 + log(1 + e^-3 + e^-1e4) exactly enough.
    CHECK_THAT(double(loss[0]), WithinRel(2e4 + std::log1p(std::exp(-3.0)), 1e-7));
    // Row 2: four equal logits of 1e4: log 4.
    CHECK_THAT(double(loss[2]), WithinRel(std::log(4.0), std::is_same_v<T, float> ? 1e-6 : 1e-15));
}

TEMPLATE_TEST_CASE("an increasing row rescales the running sum at every entry and still matches",
                   "[kernels][softmax_xent]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const std::size_t n = 1000;
    std::vector<T> s(n);
    for (std::size_t j = 0; j < n; ++j) s[j] = static_cast<T>(-50.0 + 0.1 * double(j));
    const std::vector<std::int64_t> y = {123};
    std::vector<T> loss(1), stats(2);
    fk::softmax_xent_index_rows<T, std::int64_t>(1, n, s.data(), y.data(), {}, T(1), nullptr,
                                                 loss.data(), stats.data());
    const auto o = oracle(row_ld(s, 0, n),
                          [&] {
                              std::vector<long double> t(n, 0);
                              t[123] = 1;
                              return t;
                          }(),
                          1.0L, {});
    check_close(loss[0], o.loss, tol<T>() * 10);
    CHECK(stats[0] == s[n - 1]);
    check_close(stats[1], o.log_sum, tol<T>() * 10);
}

TEMPLATE_TEST_CASE("masked classes (-inf logits): softmax exactly 0, gradient exactly -r t",
                   "[kernels][softmax_xent]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const T ninf = -kInf<T>;
    const std::size_t m = 3, n = 5;
    // A masked class first (before any finite entry), in the middle, and last.
    const std::vector<T> s = {ninf, T(1), T(-2), ninf, T(0.5),  //
                              T(3), ninf, ninf,  T(2), T(-1),   //
                              T(0), T(1), T(2),  T(3), ninf};
    const std::vector<std::int32_t> y = {1, 4, 2};
    const T alpha = T(0.5);

    SECTION("class indices, no smoothing: finite loss, gradient -0 at masked classes") {
        fk::xent_targets<T> tg;
        std::vector<T> loss(m), ds(m * n, kNaN<T>);
        fk::softmax_xent_index_rows<T, std::int32_t>(m, n, s.data(), y.data(), tg, alpha, nullptr,
                                                     loss.data(), nullptr);
        fk::softmax_xent_index_rows_backward<T, std::int32_t>(m, n, s.data(), y.data(), tg, alpha,
                                                              nullptr, nullptr, T(0), ds.data());
        for (std::size_t i = 0; i < m; ++i) {
            std::vector<long double> t(n, 0);
            t[std::size_t(y[i])] = 1;
            const auto o = oracle(row_ld(s, i, n), t, alpha, {});
            REQUIRE(std::isfinite(loss[i]));
            check_close(loss[i], o.loss, tol<T>());
            for (std::size_t j = 0; j < n; ++j) {
                if (s[i * n + j] == ninf)
                    CHECK(ds[i * n + j] == T(0));  // softmax 0, target 0
                else
                    check_close(ds[i * n + j], o.ds[j], tol<T>());
            }
        }
    }
    SECTION("smoothing puts target mass on masked classes: infinite loss, gradient -r ε/n there") {
        fk::xent_targets<T> tg;
        tg.smoothing = T(0.25);
        std::vector<T> loss(m), ds(m * n, kNaN<T>);
        fk::softmax_xent_index_rows<T, std::int32_t>(m, n, s.data(), y.data(), tg, alpha, nullptr,
                                                     loss.data(), nullptr);
        fk::softmax_xent_index_rows_backward<T, std::int32_t>(m, n, s.data(), y.data(), tg, alpha,
                                                              nullptr, nullptr, T(0), ds.data());
        for (std::size_t i = 0; i < m; ++i) CHECK(loss[i] == kInf<T>);
        for (std::size_t k = 0; k < m * n; ++k) {
            if (s[k] == ninf) {
                CHECK(ds[k] == -alpha * (T(0.25) / T(n)));
            } else {
                CHECK(std::isfinite(ds[k]));
            }
        }
    }
    SECTION("probability targets, 0 at the masked classes: finite loss, ds 0 and dy +inf there") {
        std::vector<T> yp(m * n, T(0));
        for (std::size_t i = 0; i < m; ++i) {
            T total = 0;
            for (std::size_t j = 0; j < n; ++j)
                if (s[i * n + j] != ninf) total += yp[i * n + j] = T(1 + j);
            for (std::size_t j = 0; j < n; ++j) yp[i * n + j] /= total;
        }
        fk::xent_targets<T> tg;
        std::vector<T> loss(m), ds(m * n, kNaN<T>), dy(m * n, kNaN<T>);
        fk::softmax_xent_prob_rows<T>(m, n, s.data(), yp.data(), tg, alpha, nullptr, loss.data(),
                                      nullptr);
        fk::softmax_xent_prob_rows_backward<T>(m, n, s.data(), yp.data(), tg, alpha, nullptr,
                                               nullptr, T(0), ds.data(), T(0), dy.data());
        for (std::size_t i = 0; i < m; ++i) {
            std::vector<long double> coef(n, static_cast<long double>(alpha));
            const auto o = oracle(row_ld(s, i, n), row_ld(yp, i, n), alpha, coef);
            REQUIRE(std::isfinite(loss[i]));
            check_close(loss[i], o.loss, tol<T>());
            for (std::size_t j = 0; j < n; ++j) {
                const std::size_t k = i * n + j;
                if (s[k] == ninf) {
                    CHECK(ds[k] == T(0));
                    CHECK(dy[k] == kInf<T>);  // moving target mass there costs infinitely
                } else {
                    check_close(ds[k], o.ds[j], tol<T>());
                    check_close(dy[k], o.dy[j], tol<T>());
                }
            }
        }
    }
}

TEMPLATE_TEST_CASE("an all -inf row gives NaN and leaves the other rows alone",
                   "[kernels][softmax_xent]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const T ninf = -kInf<T>;
    const std::vector<T> s = {ninf, ninf, ninf, T(1), T(2), T(3)};
    const std::vector<std::int64_t> y = {0, 2};
    std::vector<T> loss(2), ds(6);
    fk::softmax_xent_index_rows<T, std::int64_t>(2, 3, s.data(), y.data(), {}, T(1), nullptr,
                                                 loss.data(), nullptr);
    fk::softmax_xent_index_rows_backward<T, std::int64_t>(2, 3, s.data(), y.data(), {}, T(1),
                                                          nullptr, nullptr, T(0), ds.data());
    CHECK(std::isnan(loss[0]));
    CHECK(std::isnan(ds[0]));
    CHECK_THAT(double(loss[1]), WithinRel(0.40760596444438, 1e-6));
    for (std::size_t j = 3; j < 6; ++j) CHECK(std::isfinite(ds[j]));
}

// ---- output conventions ------------------------------------------------------------------------

TEMPLATE_TEST_CASE("beta = 0 never reads the outputs; beta = 1 adds to them",
                   "[kernels][softmax_xent]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const std::size_t m = 3, n = 5;
    const auto s = logits<T>(m * n, 9);
    const auto yp = positives<T>(m * n, 10);
    const std::vector<std::int32_t> y = {4, -1, 0};
    fk::xent_targets<T> tg;
    tg.has_ignore_index = true;
    tg.ignore_index = -1;
    tg.smoothing = T(0.1);

    std::vector<T> base(m * n, kNaN<T>), acc(m * n);
    fk::softmax_xent_index_rows_backward<T, std::int32_t>(m, n, s.data(), y.data(), tg, T(1),
                                                          nullptr, nullptr, T(0), base.data());
    for (std::size_t k = 0; k < m * n; ++k) {
        REQUIRE(std::isfinite(base[k]));
        acc[k] = T(k);
    }
    fk::softmax_xent_index_rows_backward<T, std::int32_t>(m, n, s.data(), y.data(), tg, T(1),
                                                          nullptr, nullptr, T(1), acc.data());
    for (std::size_t k = 0; k < m * n; ++k) CHECK_THAT(acc[k], WithinAbs(base[k] + T(k), 1e-6));

    std::vector<T> ds(m * n, kNaN<T>), dy(m * n, kNaN<T>), ds1(m * n), dy1(m * n);
    fk::softmax_xent_prob_rows_backward<T>(m, n, s.data(), yp.data(), tg, T(1), nullptr, nullptr,
                                           T(0), ds.data(), T(0), dy.data());
    for (std::size_t k = 0; k < m * n; ++k) {
        REQUIRE(std::isfinite(ds[k]));
        REQUIRE(std::isfinite(dy[k]));
        ds1[k] = T(1);
        dy1[k] = T(-2);
    }
    fk::softmax_xent_prob_rows_backward<T>(m, n, s.data(), yp.data(), tg, T(1), nullptr, nullptr,
                                           T(1), ds1.data(), T(1), dy1.data());
    for (std::size_t k = 0; k < m * n; ++k) {
        CHECK_THAT(ds1[k], WithinAbs(ds[k] + T(1), 1e-6));
        CHECK_THAT(dy1[k], WithinAbs(dy[k] - T(2), 1e-6));
    }
    // Only ds, or only dy: the other stays untouched.
    std::vector<T> only(m * n, kNaN<T>);
    fk::softmax_xent_prob_rows_backward<T>(m, n, s.data(), yp.data(), tg, T(1), nullptr, nullptr,
                                           T(0), nullptr, T(0), only.data());
    for (std::size_t k = 0; k < m * n; ++k) CHECK(only[k] == dy[k]);
}

TEMPLATE_TEST_CASE("empty sizes touch nothing and sum to 0", "[kernels][softmax_xent]", float,
                   double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    fk::xent_targets<T> tg;
    const std::int64_t* no_labels = nullptr;
    const T* none = nullptr;
    CHECK(fk::softmax_xent_index_rows<T, std::int64_t>(0, 5, none, no_labels, tg, T(1), nullptr,
                                                       nullptr, nullptr) == T(0));
    CHECK(fk::softmax_xent_prob_rows<T>(0, 5, none, none, tg, T(1), nullptr, nullptr, nullptr) ==
          T(0));
    fk::softmax_xent_index_rows_backward<T, std::int64_t>(0, 5, none, no_labels, tg, T(1), nullptr,
                                                          nullptr, T(0), nullptr);
    fk::softmax_xent_prob_rows_backward<T>(0, 5, none, none, tg, T(1), nullptr, nullptr, T(0),
                                           nullptr, T(0), nullptr);
    // Rows of no classes: an empty target row has loss 0.
    std::vector<T> loss(3, kNaN<T>);
    CHECK(fk::softmax_xent_prob_rows<T>(3, 0, none, none, tg, T(1), nullptr, loss.data(),
                                        nullptr) == T(0));
    for (const T l : loss) CHECK(l == T(0));
}

// ---- nll over log-probabilities ---------------------------------------------------------------

TEMPLATE_TEST_CASE("nll_logp kernels: class indices, by hand", "[kernels][nll_logp]", F32I32,
                   F64I64) {
    FUSEGRAD_EACH_ARCH();
    using T = typename TestType::value;
    using I = typename TestType::index;
    const std::vector<T> lp = {T(-0.5), T(-1.25), T(-3),  //
                               T(-2),   T(-0.1),  -kInf<T>};
    const std::vector<I> y = {2, 1};
    std::vector<T> out(2, kNaN<T>);
    fk::nll_logp_index_rows<T, I>(2, 3, lp.data(), y.data(), out.data());
    CHECK(out[0] == T(3));
    CHECK(out[1] == T(0.1));
    const std::vector<T> g = {T(2), T(-0.5)};
    std::vector<T> d(6, kNaN<T>);
    fk::nll_logp_index_rows_backward<T, I>(2, 3, y.data(), g.data(), T(0), d.data());
    const T want[6] = {0, 0, -2, 0, T(0.5), 0};
    for (std::size_t k = 0; k < 6; ++k) CHECK(d[k] == want[k]);
    fk::nll_logp_index_rows_backward<T, I>(2, 3, y.data(), g.data(), T(1), d.data());
    for (std::size_t k = 0; k < 6; ++k) CHECK(d[k] == 2 * want[k]);
}

TEMPLATE_TEST_CASE("nll_logp kernels: probability targets, by hand, with 0 · (-inf) = 0",
                   "[kernels][nll_logp]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const std::vector<T> lp = {T(-0.5), T(-1.25), T(-3),  //
                               T(-2),   T(-0.1),  -kInf<T>};
    const std::vector<T> y = {T(0.5), T(0.25), T(0.25),  //
                              T(0.5), T(0.5),  T(0)};
    std::vector<T> out(2, kNaN<T>);
    fk::nll_logp_prob_rows<T>(2, 3, lp.data(), y.data(), out.data());
    CHECK_THAT(double(out[0]), WithinRel(0.25 + 0.3125 + 0.75, 1e-6));
    CHECK_THAT(double(out[1]), WithinRel(1.0 + 0.05, 1e-6));
    const std::vector<T> g = {T(2), T(-0.5)};
    std::vector<T> dp(6, kNaN<T>), dy(6, kNaN<T>);
    fk::nll_logp_prob_rows_backward<T>(2, 3, lp.data(), y.data(), g.data(), T(0), dp.data(), T(0),
                                       dy.data());
    for (std::size_t k = 0; k < 6; ++k) {
        CHECK(dp[k] == -g[k / 3] * y[k]);
        CHECK(dy[k] == -g[k / 3] * lp[k]);  // -(-0.5)·(-inf) = -inf at the masked class
    }
    std::vector<T> only(6, kNaN<T>);
    fk::nll_logp_prob_rows_backward<T>(2, 3, lp.data(), y.data(), g.data(), T(0), nullptr, T(1),
                                       nullptr);
    fk::nll_logp_prob_rows_backward<T>(2, 3, lp.data(), y.data(), g.data(), T(0), only.data(), T(0),
                                       nullptr);
    for (std::size_t k = 0; k < 6; ++k) CHECK(only[k] == dp[k]);
}
