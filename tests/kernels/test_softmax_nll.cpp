// Tests of the softmax family and of the negative log-likelihood kernels against hand values,
// closed forms, long double oracles, the explicit softmax Jacobian and finite differences.

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
double eps() {
    return std::numeric_limits<T>::epsilon();
}

template <class T>
bool any_nan(const std::vector<T>& v) {
    for (const T x : v) {
        if (std::isnan(x)) {
            return true;
        }
    }
    return false;
}

/// Oracle: log_softmax of one finite row in long double, written independently of the kernel.
std::vector<long double> log_softmax_ld(const std::vector<long double>& x) {
    long double mx = x[0];
    for (const long double v : x) {
        mx = v > mx ? v : mx;
    }
    long double s = 0;
    for (const long double v : x) {
        s += std::exp(v - mx);
    }
    std::vector<long double> out(x.size());
    for (std::size_t j = 0; j < x.size(); ++j) {
        out[j] = x[j] - mx - std::log(s);
    }
    return out;
}

/// Deterministic non-dyadic logits in about [-3, 3].
template <class T>
std::vector<T> logits(std::size_t count, unsigned seed) {
    std::vector<T> v(count);
    for (std::size_t i = 0; i < count; ++i) {
        v[i] = static_cast<T>(3.0 * std::sin(0.7 * static_cast<double>(i) + 1.3 * seed));
    }
    return v;
}

using fusegrad_test::F32I32;
using fusegrad_test::F32I64;
using fusegrad_test::F64I32;
using fusegrad_test::F64I64;

}  // namespace

// ---- softmax forward ---------------------------------------------------------------------------

TEMPLATE_TEST_CASE("softmax_rows and log_softmax_rows: {1,2,3} by hand", "[softmax]", float,
                   double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    // softmax(1, 2, 3) = (e^-2, e^-1, 1) / (1 + e^-1 + e^-2); log Σ = 0.40760596444438...
    const double s_ref[] = {0.09003057317038046, 0.24472847105479764, 0.6652409557748219};
    const double ls_ref[] = {-2.4076059644443803, -1.4076059644443803, -0.4076059644443803};
    // Two rows: the second is the first shifted by 1000. The shifted logits are exact integers,
    // so after the max is subtracted both rows are bit-for-bit the same computation.
    const std::vector<T> x = {1, 2, 3, 1001, 1002, 1003};
    std::vector<T> s(6, kNaN<T>);
    std::vector<T> ls(6, kNaN<T>);
    fk::softmax_rows<T>(2, 3, x.data(), s.data());
    fk::log_softmax_rows<T>(2, 3, x.data(), ls.data());
    for (std::size_t j = 0; j < 3; ++j) {
        CAPTURE(j);
        CHECK_THAT(s[j], WithinRel(s_ref[j], 4 * eps<T>()));
        CHECK_THAT(ls[j], WithinRel(ls_ref[j], 4 * eps<T>()));
        CHECK(s[3 + j] == s[j]);
        CHECK(ls[3 + j] == ls[j]);
    }
    SECTION("y == x") {
        auto y = x;
        fk::softmax_rows<T>(2, 3, y.data(), y.data());
        CHECK(y == s);
        auto z = x;
        fk::log_softmax_rows<T>(2, 3, z.data(), z.data());
        CHECK(z == ls);
    }
}

TEMPLATE_TEST_CASE("softmax_rows and log_softmax_rows: odd sizes against long double", "[softmax]",
                   float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    for (const std::size_t n : {1u, 7u, 9u, 33u}) {
        const std::size_t m = 7;
        const auto x = logits<T>(m * n, static_cast<unsigned>(n));
        std::vector<T> s(m * n, kNaN<T>);
        std::vector<T> ls(m * n, kNaN<T>);
        fk::softmax_rows<T>(m, n, x.data(), s.data());
        fk::log_softmax_rows<T>(m, n, x.data(), ls.data());
        for (std::size_t i = 0; i < m; ++i) {
            const std::vector<long double> row(x.begin() + static_cast<std::ptrdiff_t>(i * n),
                                               x.begin() + static_cast<std::ptrdiff_t>(i * n + n));
            const auto ref = log_softmax_ld(row);
            long double total = 0;
            for (std::size_t j = 0; j < n; ++j) {
                CAPTURE(n, i, j);
                CHECK_THAT(s[i * n + j],
                           WithinRel(static_cast<double>(std::exp(ref[j])), (n + 4) * eps<T>()));
                CHECK_THAT(ls[i * n + j],
                           WithinAbs(static_cast<double>(ref[j]), (n + 4) * eps<T>()));
                total += s[i * n + j];
            }
            CHECK_THAT(static_cast<double>(total), WithinAbs(1.0, (n + 2) * eps<T>()));
        }
        if (n == 1) {  // softmax of a single entry is 1, its log 0
            CHECK(s == std::vector<T>(m, T(1)));
            CHECK(ls == std::vector<T>(m, T(0)));
        }
    }
}

TEMPLATE_TEST_CASE("softmax_rows and log_softmax_rows: extreme logits", "[softmax]", float,
                   double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const T inf = kInf<T>;
    SECTION("rows of ±1e4 give finite, exact results") {
        const std::vector<T> x = {
            T(1e4),  T(-1e4), T(0),         // row 0: e^-1e4 and e^-2e4 underflow to 0
            T(-1e4), T(-1e4), T(-1e4),      // row 1: uniform
            T(1e4),  T(1e4),  T(1e4) - 1};  // row 2: two tied maxima and one e^-1 below
        std::vector<T> s(9, kNaN<T>);
        std::vector<T> ls(9, kNaN<T>);
        fk::softmax_rows<T>(3, 3, x.data(), s.data());
        fk::log_softmax_rows<T>(3, 3, x.data(), ls.data());
        CHECK_FALSE(any_nan(s));
        CHECK_FALSE(any_nan(ls));
        for (const T v : ls) {
            CHECK(std::isfinite(v));
        }
        CHECK(s[0] == T(1));
        CHECK(s[1] == T(0));
        CHECK(s[2] == T(0));
        CHECK(ls[0] == T(0));
        CHECK(ls[1] == T(-2e4));
        CHECK(ls[2] == T(-1e4));
        for (std::size_t j = 3; j < 6; ++j) {
            CHECK_THAT(s[j], WithinRel(1.0 / 3.0, 2 * eps<T>()));
            CHECK_THAT(ls[j], WithinRel(-1.0986122886681098, 2 * eps<T>()));  // -log 3
        }
        // (1, 1, e^-1) / (2 + e^-1), e^-1 = 0.36787944117144233
        CHECK_THAT(s[6], WithinRel(0.42231879825151820, 4 * eps<T>()));
        CHECK_THAT(s[7], WithinRel(0.42231879825151820, 4 * eps<T>()));
        CHECK_THAT(s[8], WithinRel(0.15536240349696362, 4 * eps<T>()));
        CHECK_THAT(ls[6], WithinRel(-0.8619948040582511, 4 * eps<T>()));  // -log(2 + e^-1)
        CHECK_THAT(ls[8], WithinRel(-1.8619948040582511, 4 * eps<T>()));
    }
    SECTION("-inf entries with one finite entry: softmax 0, log_softmax -inf, no NaN") {
        const std::vector<T> x = {-inf,    T(3), -inf, -inf,   // row 0: one finite entry
                                  -inf,    T(1), T(2), -inf,   // row 1: two finite entries
                                  T(-1e4), -inf, -inf, -inf};  // row 2: the finite entry is -1e4
        std::vector<T> s(12, kNaN<T>);
        std::vector<T> ls(12, kNaN<T>);
        fk::softmax_rows<T>(3, 4, x.data(), s.data());
        fk::log_softmax_rows<T>(3, 4, x.data(), ls.data());
        CHECK_FALSE(any_nan(s));
        CHECK_FALSE(any_nan(ls));
        CHECK(std::vector<T>(s.begin(), s.begin() + 4) == std::vector<T>{0, 1, 0, 0});
        CHECK(std::vector<T>(ls.begin(), ls.begin() + 4) == std::vector<T>{-inf, 0, -inf, -inf});
        CHECK(s[4] == T(0));
        CHECK_THAT(s[5], WithinRel(0.2689414213699951, 2 * eps<T>()));  // 1 / (1 + e)
        CHECK_THAT(s[6], WithinRel(0.7310585786300049, 2 * eps<T>()));  // e / (1 + e)
        CHECK(s[7] == T(0));
        CHECK(ls[4] == -inf);
        CHECK_THAT(ls[5], WithinRel(-1.3132616875182228, 2 * eps<T>()));   // -log(1 + e)
        CHECK_THAT(ls[6], WithinRel(-0.31326168751822286, 2 * eps<T>()));  // -log(1 + e^-1)
        CHECK(ls[7] == -inf);
        CHECK(std::vector<T>(s.begin() + 8, s.end()) == std::vector<T>{1, 0, 0, 0});
        CHECK(std::vector<T>(ls.begin() + 8, ls.end()) == std::vector<T>{0, -inf, -inf, -inf});

        auto y = x;  // in place
        fk::softmax_rows<T>(3, 4, y.data(), y.data());
        CHECK(y == s);
        y = x;
        fk::log_softmax_rows<T>(3, 4, y.data(), y.data());
        CHECK(y == ls);
    }
    SECTION("an all -inf row gives NaN (as documented), and leaves other rows alone") {
        const std::vector<T> x = {-inf, -inf, T(0), T(0)};
        std::vector<T> s(4, T(7));
        std::vector<T> ls(4, T(7));
        fk::softmax_rows<T>(2, 2, x.data(), s.data());
        fk::log_softmax_rows<T>(2, 2, x.data(), ls.data());
        CHECK(std::isnan(s[0]));
        CHECK(std::isnan(s[1]));
        CHECK(std::isnan(ls[0]));
        CHECK(std::isnan(ls[1]));
        CHECK(s[2] == T(0.5));
        CHECK(s[3] == T(0.5));
        CHECK_THAT(ls[2], WithinRel(-0.6931471805599453, 2 * eps<T>()));
    }
    SECTION("m == 0 or n == 0 is a no-op") {
        fk::softmax_rows<T>(0, 3, nullptr, nullptr);
        fk::softmax_rows<T>(3, 0, nullptr, nullptr);
        fk::log_softmax_rows<T>(0, 3, nullptr, nullptr);
        fk::log_softmax_rows<T>(3, 0, nullptr, nullptr);
        fk::softmax_rows_backward<T>(0, 3, nullptr, nullptr, T(0), nullptr);
        fk::softmax_rows_backward<T>(3, 0, nullptr, nullptr, T(0), nullptr);
        fk::log_softmax_rows_backward<T>(0, 3, nullptr, nullptr, T(0), nullptr);
        fk::log_softmax_rows_backward<T>(3, 0, nullptr, nullptr, T(0), nullptr);
        SUCCEED();
    }
}

// ---- softmax backward --------------------------------------------------------------------------

TEMPLATE_TEST_CASE("softmax_rows_backward against the explicit Jacobian diag(s) - s sᵀ",
                   "[softmax]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    for (const std::size_t n : {1u, 3u, 7u, 33u}) {
        const std::size_t m = 3;
        // s: the softmax of some logits (rounded to T), g: an arbitrary cotangent.
        const auto x = logits<T>(m * n, 5 + static_cast<unsigned>(n));
        std::vector<T> s(m * n);
        for (std::size_t i = 0; i < m; ++i) {
            const std::vector<long double> row(x.begin() + static_cast<std::ptrdiff_t>(i * n),
                                               x.begin() + static_cast<std::ptrdiff_t>(i * n + n));
            const auto ls = log_softmax_ld(row);
            for (std::size_t j = 0; j < n; ++j) {
                s[i * n + j] = static_cast<T>(std::exp(ls[j]));
            }
        }
        const auto g = logits<T>(m * n, 17 + static_cast<unsigned>(n));
        auto dx0 = logits<T>(m * n, 29);
        for (const T beta : {T(0), T(1), T(-0.5)}) {
            std::vector<T> dx = beta == T(0) ? std::vector<T>(m * n, kNaN<T>) : dx0;
            fk::softmax_rows_backward<T>(m, n, s.data(), g.data(), beta, dx.data());
            for (std::size_t i = 0; i < m; ++i) {
                for (std::size_t j = 0; j < n; ++j) {
                    // (gᵀ J)_j = Σ_k g_k J_kj, J_kj = [k == j] s_j - s_k s_j.
                    long double ref = 0;
                    for (std::size_t k = 0; k < n; ++k) {
                        const long double jac =
                            (k == j ? static_cast<long double>(s[i * n + j]) : 0.0L) -
                            static_cast<long double>(s[i * n + k]) * s[i * n + j];
                        ref += g[i * n + k] * jac;
                    }
                    if (beta != T(0)) {
                        ref += static_cast<long double>(beta) * dx0[i * n + j];
                    }
                    CAPTURE(n, static_cast<double>(beta), i, j);
                    CHECK_THAT(dx[i * n + j],
                               WithinAbs(static_cast<double>(ref), 4 * (n + 4) * eps<T>()));
                }
            }
        }
    }
}

TEMPLATE_TEST_CASE("log_softmax_rows_backward against finite differences of log_softmax",
                   "[softmax]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    for (const std::size_t n : {1u, 3u, 9u, 33u}) {
        const std::size_t m = 2;
        const auto x = logits<T>(m * n, 3 + static_cast<unsigned>(n));
        const auto g = logits<T>(m * n, 11 + static_cast<unsigned>(n));
        std::vector<T> ls(m * n);
        std::vector<long double> ref(m * n);
        const long double h = 1e-5L;
        for (std::size_t i = 0; i < m; ++i) {
            const std::vector<long double> row(x.begin() + static_cast<std::ptrdiff_t>(i * n),
                                               x.begin() + static_cast<std::ptrdiff_t>(i * n + n));
            const auto l0 = log_softmax_ld(row);
            for (std::size_t j = 0; j < n; ++j) {
                ls[i * n + j] = static_cast<T>(l0[j]);
            }
            // d/dx_j Σ_k g_k ls_k(x), by central differences in long double.
            for (std::size_t j = 0; j < n; ++j) {
                auto up = row;
                auto down = row;
                up[j] += h;
                down[j] -= h;
                const auto lu = log_softmax_ld(up);
                const auto ld = log_softmax_ld(down);
                long double d = 0;
                for (std::size_t k = 0; k < n; ++k) {
                    d += g[i * n + k] * (lu[k] - ld[k]) / (2 * h);
                }
                ref[i * n + j] = d;
            }
        }
        std::vector<T> dx(m * n, kNaN<T>);
        fk::log_softmax_rows_backward<T>(m, n, ls.data(), g.data(), T(0), dx.data());
        std::vector<T> acc(m * n, T(2));
        fk::log_softmax_rows_backward<T>(m, n, ls.data(), g.data(), T(1), acc.data());
        // Truncation error ~h² ~ 1e-10 and rounding ~1e-19 / h = 1e-14 in the reference, so
        // the tolerance is the kernel's own rounding.
        const double tol = 4 * (n + 4) * eps<T>() + 1e-9;
        for (std::size_t k = 0; k < m * n; ++k) {
            CAPTURE(n, k);
            CHECK_THAT(dx[k], WithinAbs(static_cast<double>(ref[k]), tol));
            CHECK_THAT(acc[k], WithinAbs(static_cast<double>(ref[k] + 2), tol));
        }
    }
}

TEMPLATE_TEST_CASE("log_softmax_rows_backward: -inf log-probabilities contribute g", "[softmax]",
                   float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    // ls = (-inf, 0, -inf): exp(ls) = (0, 1, 0), rowsum(g) = 6, so dx = g - (0, 6, 0).
    const std::vector<T> ls = {-kInf<T>, 0, -kInf<T>};
    const std::vector<T> g = {1, 2, 3};
    std::vector<T> dx(3, kNaN<T>);
    fk::log_softmax_rows_backward<T>(1, 3, ls.data(), g.data(), T(0), dx.data());
    CHECK(dx == std::vector<T>{1, -4, 3});
    // softmax_rows_backward with s = (0, 1, 0): dx = s ⊙ (g - 2) = (0, 0, 0).
    const std::vector<T> s = {0, 1, 0};
    fk::softmax_rows_backward<T>(1, 3, s.data(), g.data(), T(0), dx.data());
    CHECK(dx == std::vector<T>{0, 0, 0});
}

// ---- labels and nll over indices ---------------------------------------------------------------

TEMPLATE_TEST_CASE("first_label_out_of_range", "[nll]", std::int32_t, std::int64_t) {
    FUSEGRAD_EACH_ARCH();
    using I = TestType;
    const std::vector<I> ok = {0, 1, 2, 2, 0};
    CHECK(fk::first_label_out_of_range<I>(ok.size(), ok.data(), 3) == ok.size());
    CHECK(fk::first_label_out_of_range<I>(0, nullptr, 3) == 0);  // m == 0: all (none) valid
    const std::vector<I> negative = {0, 1, -1, 5};
    CHECK(fk::first_label_out_of_range<I>(negative.size(), negative.data(), 3) == 2);
    const std::vector<I> equal = {0, 2, 1, 3, -1};  // 3 == classes is out of range
    CHECK(fk::first_label_out_of_range<I>(equal.size(), equal.data(), 3) == 3);
    const std::vector<I> first = {std::numeric_limits<I>::min(), 0};
    CHECK(fk::first_label_out_of_range<I>(first.size(), first.data(), 3) == 0);
    const std::vector<I> big = {1, std::numeric_limits<I>::max()};
    CHECK(fk::first_label_out_of_range<I>(big.size(), big.data(), 3) == 1);
    // classes beyond the index type's range: every non-negative label is valid.
    const std::size_t huge = std::size_t{1} << 63;
    CHECK(fk::first_label_out_of_range<I>(big.size(), big.data(), huge) == big.size());
    CHECK(fk::first_label_out_of_range<I>(negative.size(), negative.data(), huge) == 2);
    // Even with the largest classes, a negative label is out of range: -2 converted to
    // std::size_t would be SIZE_MAX - 1 < SIZE_MAX.
    const std::vector<I> minus_two = {0, -2};
    CHECK(fk::first_label_out_of_range<I>(2, minus_two.data(), SIZE_MAX) == 1);
    // classes == 0: no label is valid.
    CHECK(fk::first_label_out_of_range<I>(ok.size(), ok.data(), 0) == 0);
}

TEMPLATE_TEST_CASE("nll_index_rows and its backward", "[nll]", F32I32, F32I64, F64I32, F64I64) {
    FUSEGRAD_EACH_ARCH();
    using T = typename TestType::value;
    using I = typename TestType::index;
    // 3×3 probabilities; labels 2, 0, 1.
    const std::vector<T> p = {0.2, 0.3, 0.5, 0.1, 0.1, 0.8, 0, 1, 0};
    const std::vector<I> y = {2, 0, 1};
    REQUIRE(fk::first_label_out_of_range<I>(3, y.data(), 3) == 3);
    SECTION("forward: -log p at the label") {
        std::vector<T> out(3, kNaN<T>);
        fk::nll_index_rows<T, I>(3, 3, p.data(), y.data(), out.data());
        CHECK_THAT(out[0], WithinRel(0.6931471805599453, 2 * eps<T>()));  // -log 0.5
        CHECK_THAT(out[1], WithinRel(2.302585092994046, 2 * eps<T>()));   // -log 0.1
        CHECK(out[2] == T(0));                                            // -log 1
        const std::vector<I> y0 = {2, 0, 0};  // p = 0 at the label: +inf
        fk::nll_index_rows<T, I>(3, 3, p.data(), y0.data(), out.data());
        CHECK(out[2] == kInf<T>);
    }
    const std::vector<T> g = {2, -1, 0.5};
    SECTION("backward, beta == 0 over NaN: -g/p at the label, 0 elsewhere (even where p == 0)") {
        std::vector<T> dp(9, kNaN<T>);
        fk::nll_index_rows_backward<T, I>(3, 3, p.data(), y.data(), g.data(), T(0), dp.data());
        CHECK_FALSE(any_nan(dp));
        CHECK(dp[0] == T(0));
        CHECK(dp[1] == T(0));
        CHECK(dp[2] == T(-4));                             // -2 / 0.5
        CHECK_THAT(dp[3], WithinRel(10.0, 2 * eps<T>()));  // 1 / 0.1
        CHECK(dp[4] == T(0));
        CHECK(dp[5] == T(0));
        CHECK(std::vector<T>(dp.begin() + 6, dp.end()) == std::vector<T>{0, -0.5, 0});
    }
    SECTION("backward, beta == 1 accumulates, beta == 2 scales") {
        std::vector<T> dp(9, T(1));
        fk::nll_index_rows_backward<T, I>(3, 3, p.data(), y.data(), g.data(), T(1), dp.data());
        CHECK(dp[2] == T(-3));
        CHECK(dp[0] == T(1));
        CHECK(dp[7] == T(0.5));
        fk::nll_index_rows_backward<T, I>(3, 3, p.data(), y.data(), g.data(), T(2), dp.data());
        CHECK(dp[2] == T(-10));  // -4 + 2 * -3
        CHECK(dp[0] == T(2));
        CHECK(dp[7] == T(0.5));  // -0.5 + 2 * 0.5
    }
    SECTION("odd sizes against an oracle") {
        const std::size_t m = 9;
        const std::size_t n = 33;
        std::vector<T> pp(m * n);
        for (std::size_t k = 0; k < m * n; ++k) {
            pp[k] = static_cast<T>(0.01 + 0.9 * static_cast<double>((k * 7) % 31) / 31.0);
        }
        std::vector<I> yy(m);
        for (std::size_t i = 0; i < m; ++i) {
            yy[i] = static_cast<I>((i * 5 + 3) % n);
        }
        REQUIRE(fk::first_label_out_of_range<I>(m, yy.data(), n) == m);
        std::vector<T> out(m);
        fk::nll_index_rows<T, I>(m, n, pp.data(), yy.data(), out.data());
        const auto gg = logits<T>(m, 4);
        std::vector<T> dp(m * n, kNaN<T>);
        fk::nll_index_rows_backward<T, I>(m, n, pp.data(), yy.data(), gg.data(), T(0), dp.data());
        for (std::size_t i = 0; i < m; ++i) {
            const auto label = static_cast<std::size_t>(yy[i]);
            const long double pl = pp[i * n + label];
            CHECK_THAT(out[i], WithinRel(static_cast<double>(-std::log(pl)), 2 * eps<T>()));
            for (std::size_t j = 0; j < n; ++j) {
                const long double ref = j == label ? -gg[i] / pl : 0.0L;
                CHECK_THAT(dp[i * n + j], WithinRel(static_cast<double>(ref), 2 * eps<T>()));
            }
        }
    }
    SECTION("m == 0 is a no-op") {
        fk::nll_index_rows<T, I>(0, 3, nullptr, nullptr, nullptr);
        fk::nll_index_rows_backward<T, I>(0, 3, nullptr, nullptr, nullptr, T(0), nullptr);
        SUCCEED();
    }
}

// ---- nll over probability targets --------------------------------------------------------------

TEMPLATE_TEST_CASE("nll_prob_rows: 0 · log 0 = 0", "[nll]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const std::vector<T> p = {0,    0.5,  0.5,   // row 0: p == 0 where the target is 0
                              0.25, 0.25, 0.5,   // row 1
                              0,    1,    0,     // row 2: a one-hot target at p == 1
                              0,    0.5,  0.5};  // row 3: target mass where p == 0
    const std::vector<T> y = {0,   0.25, 0.75,   //
                              1,   0,    0,      //
                              0,   1,    0,      //
                              0.5, 0.5,  0};
    std::vector<T> out(4, kNaN<T>);
    fk::nll_prob_rows<T>(4, 3, p.data(), y.data(), out.data());
    CHECK_THAT(out[0], WithinRel(0.6931471805599453, 2 * eps<T>()));  // -(0.25 + 0.75) log 0.5
    CHECK_THAT(out[1], WithinRel(1.3862943611198906, 2 * eps<T>()));  // -log 0.25
    CHECK(out[2] == T(0));
    CHECK(out[3] == kInf<T>);  // -0.5 log 0 = +inf

    SECTION("odd sizes against an oracle") {
        const std::size_t m = 7;
        const std::size_t n = 9;
        std::vector<T> pp(m * n);
        std::vector<T> yy(m * n);
        for (std::size_t k = 0; k < m * n; ++k) {
            pp[k] = (k % 4 == 0) ? T(0) : static_cast<T>(0.05 + static_cast<double>(k % 5) / 7);
            yy[k] = (k % 4 == 0) ? T(0) : static_cast<T>(static_cast<double>(k % 3) / 3);
        }
        std::vector<T> o(m);
        fk::nll_prob_rows<T>(m, n, pp.data(), yy.data(), o.data());
        for (std::size_t i = 0; i < m; ++i) {
            long double ref = 0;
            for (std::size_t j = 0; j < n; ++j) {
                const long double t = yy[i * n + j];
                ref -= t == 0 ? 0.0L : t * std::log(static_cast<long double>(pp[i * n + j]));
            }
            CAPTURE(i);
            CHECK_THAT(o[i], WithinRel(static_cast<double>(ref), (n + 2) * eps<T>()));
        }
    }
    SECTION("n == 0: every row is an empty sum, 0; m == 0 is a no-op") {
        std::vector<T> o(2, kNaN<T>);
        fk::nll_prob_rows<T>(2, 0, nullptr, nullptr, o.data());
        CHECK(o == std::vector<T>{0, 0});
        fk::nll_prob_rows<T>(0, 3, nullptr, nullptr, nullptr);
    }
}

TEMPLATE_TEST_CASE("nll_prob_rows_backward", "[nll]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    // Row 0: p = (0, 0.5, 0.25), y = (0, 0.5, 0.5), g = 2.
    // Row 1: p = (0.5, 0.25, 0), y = (1, 0, 1),     g = 1 (target mass where p == 0).
    const std::vector<T> p = {0, 0.5, 0.25, 0.5, 0.25, 0};
    const std::vector<T> y = {0, 0.5, 0.5, 1, 0, 1};
    const std::vector<T> g = {2, 1};
    const T inf = kInf<T>;
    const double ln2 = 0.6931471805599453;
    SECTION("beta == 0 over NaN; 0 where y == 0 even at p == 0; +inf in dy at p == 0") {
        std::vector<T> dp(6, kNaN<T>);
        std::vector<T> dy(6, kNaN<T>);
        fk::nll_prob_rows_backward<T>(2, 3, p.data(), y.data(), g.data(), T(0), dp.data(), T(0),
                                      dy.data());
        // dp = -g y / p
        CHECK(dp == std::vector<T>{0, -2, -4, -2, 0, -inf});
        // dy = -g log p
        CHECK(dy[0] == inf);
        CHECK_THAT(dy[1], WithinRel(2 * ln2, 2 * eps<T>()));
        CHECK_THAT(dy[2], WithinRel(4 * ln2, 2 * eps<T>()));
        CHECK_THAT(dy[3], WithinRel(ln2, 2 * eps<T>()));
        CHECK_THAT(dy[4], WithinRel(2 * ln2, 2 * eps<T>()));
        CHECK(dy[5] == inf);
    }
    SECTION("beta accumulation, separately for dp and dy") {
        std::vector<T> dp(6, T(1));
        std::vector<T> dy(6, T(1));
        fk::nll_prob_rows_backward<T>(2, 3, p.data(), y.data(), g.data(), T(1), dp.data(), T(-2),
                                      dy.data());
        CHECK(dp == std::vector<T>{1, -1, -3, -1, 1, -inf});
        CHECK(dy[0] == inf);
        CHECK_THAT(dy[1], WithinRel(2 * ln2 - 2, 4 * eps<T>()));
        CHECK_THAT(dy[3], WithinRel(ln2 - 2, 4 * eps<T>()));
    }
    SECTION("a null output is skipped") {
        std::vector<T> dp(6, kNaN<T>);
        fk::nll_prob_rows_backward<T>(2, 3, p.data(), y.data(), g.data(), T(0), dp.data(), T(0),
                                      nullptr);
        CHECK(dp == std::vector<T>{0, -2, -4, -2, 0, -inf});
        std::vector<T> dy(6, kNaN<T>);
        fk::nll_prob_rows_backward<T>(2, 3, p.data(), y.data(), g.data(), T(0), nullptr, T(0),
                                      dy.data());
        CHECK_THAT(dy[3], WithinRel(ln2, 2 * eps<T>()));
        fk::nll_prob_rows_backward<T>(2, 3, p.data(), y.data(), g.data(), T(0), nullptr, T(0),
                                      nullptr);
    }
    SECTION("dp is the derivative of nll_prob_rows (finite differences, interior point)") {
        // Central differences of -Σ_k y_k log p_k in long double, with respect to p_j and y_j,
        // at an interior point (p > 0, y > 0) where everything is smooth.
        const std::vector<T> pp = {0.2, 0.3, 0.5};
        const std::vector<T> yy = {0.1, 0.6, 0.3};
        const std::vector<T> one = {1};
        std::vector<T> dp(3);
        std::vector<T> dy(3);
        fk::nll_prob_rows_backward<T>(1, 3, pp.data(), yy.data(), one.data(), T(0), dp.data(), T(0),
                                      dy.data());
        for (std::size_t j = 0; j < 3; ++j) {
            const long double h = 1e-6L;
            long double fp = 0;
            long double fm = 0;
            long double gp = 0;
            long double gm = 0;
            for (std::size_t k = 0; k < 3; ++k) {
                const long double pk = pp[k];
                const long double yk = yy[k];
                fp -= yk * std::log(k == j ? pk + h : pk);
                fm -= yk * std::log(k == j ? pk - h : pk);
                gp -= (k == j ? yk + h : yk) * std::log(pk);
                gm -= (k == j ? yk - h : yk) * std::log(pk);
            }
            CHECK_THAT(dp[j],
                       WithinAbs(static_cast<double>((fp - fm) / (2 * h)), 1e-6 + 8 * eps<T>()));
            CHECK_THAT(dy[j],
                       WithinAbs(static_cast<double>((gp - gm) / (2 * h)), 1e-6 + 8 * eps<T>()));
        }
    }
    SECTION("m == 0 is a no-op") {
        fk::nll_prob_rows_backward<T>(0, 3, nullptr, nullptr, nullptr, T(0), nullptr, T(0),
                                      nullptr);
        SUCCEED();
    }
}
