// Tests of the elementwise and reduction kernels against hand computations, closed forms and
// long double oracles written here.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "../support/special_values.hpp"
#include "each_arch.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fk = fusegrad::kernels;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using fusegrad_test::kInf;
using fusegrad_test::kNaN;

namespace {

constexpr std::size_t kLong = 1023;  // odd, not a multiple of any vector width

/// Dyadic values in [-4, 4) with few significant bits: sums and products of two of them (and
/// with the small dyadic coefficients below) are exact in float, so oracles compare exactly.
template <class T>
std::vector<T> dyadic(std::size_t n, unsigned seed) {
    std::vector<T> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<T>(static_cast<int>((i * 29 + seed * 13 + i * i) % 64) - 32) / 8;
    }
    return v;
}

/// Applies f(i) -> long double to every index and rounds to T: an oracle computed here.
template <class T, class F>
std::vector<T> expected(std::size_t n, F f) {
    std::vector<T> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<T>(f(i));
    }
    return v;
}

}  // namespace

// ---- elementwise -------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("fill", "[elementwise]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    std::vector<T> y(kLong, kNaN<T>);
    fk::fill<T>(kLong, T(2.5), y.data());
    CHECK(y == std::vector<T>(kLong, T(2.5)));
    fk::fill<T>(0, T(1), nullptr);  // n == 0: no-op
    std::vector<T> z = {1, 2, 3};
    fk::fill<T>(2, T(-1), z.data());
    CHECK(z == std::vector<T>{-1, -1, 3});
}

TEMPLATE_TEST_CASE("axpby", "[elementwise]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    SECTION("by hand") {
        const std::vector<T> x = {1, 2, 3};
        std::vector<T> y = {10, 20, 30};
        fk::axpby<T>(3, T(2), x.data(), T(0.5), y.data());
        CHECK(y == std::vector<T>{7, 14, 21});  // 2*1 + 5, 2*2 + 10, 2*3 + 15
    }
    SECTION("beta == 0 never reads y") {
        const std::vector<T> x = {1, 2, 3};
        std::vector<T> y(3, kNaN<T>);
        fk::axpby<T>(3, T(2), x.data(), T(0), y.data());
        CHECK(y == std::vector<T>{2, 4, 6});
    }
    SECTION("y == x") {
        std::vector<T> x = {1, 2, 3};
        fk::axpby<T>(3, T(2), x.data(), T(3), x.data());
        CHECK(x == std::vector<T>{5, 10, 15});
        fk::axpby<T>(3, T(-1), x.data(), T(0), x.data());
        CHECK(x == std::vector<T>{-5, -10, -15});
    }
    SECTION("1023 elements against an oracle") {
        const auto x = dyadic<T>(kLong, 1);
        auto y = dyadic<T>(kLong, 2);
        const auto y0 = y;
        fk::axpby<T>(kLong, T(0.75), x.data(), T(-2), y.data());
        CHECK(y == expected<T>(kLong, [&](std::size_t i) { return 0.75L * x[i] - 2.0L * y0[i]; }));
    }
    fk::axpby<T>(0, T(1), nullptr, T(1), nullptr);
}

TEMPLATE_TEST_CASE("add", "[elementwise]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const std::vector<T> a = {1, 2, 3};
    const std::vector<T> b = {0.5, -2, 4};
    SECTION("by hand, into a NaN-filled y") {
        std::vector<T> y(3, kNaN<T>);
        fk::add<T>(3, a.data(), b.data(), y.data());
        CHECK(y == std::vector<T>{1.5, 0, 7});
    }
    SECTION("y == a, y == b, y == a == b") {
        auto ya = a;
        fk::add<T>(3, ya.data(), b.data(), ya.data());
        CHECK(ya == std::vector<T>{1.5, 0, 7});
        auto yb = b;
        fk::add<T>(3, a.data(), yb.data(), yb.data());
        CHECK(yb == std::vector<T>{1.5, 0, 7});
        auto yy = a;
        fk::add<T>(3, yy.data(), yy.data(), yy.data());
        CHECK(yy == std::vector<T>{2, 4, 6});
    }
    SECTION("1023 elements against an oracle") {
        const auto x = dyadic<T>(kLong, 3);
        const auto z = dyadic<T>(kLong, 4);
        std::vector<T> y(kLong);
        fk::add<T>(kLong, x.data(), z.data(), y.data());
        CHECK(y == expected<T>(kLong, [&](std::size_t i) { return 0.0L + x[i] + z[i]; }));
    }
    fk::add<T>(0, nullptr, nullptr, nullptr);
}

TEMPLATE_TEST_CASE("add_scalar", "[elementwise]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    std::vector<T> a = {1, -2, 3};
    std::vector<T> y(3, kNaN<T>);
    fk::add_scalar<T>(3, a.data(), T(0.25), y.data());
    CHECK(y == std::vector<T>{1.25, -1.75, 3.25});
    fk::add_scalar<T>(3, a.data(), T(-1), a.data());  // y == a
    CHECK(a == std::vector<T>{0, -3, 2});

    const auto x = dyadic<T>(kLong, 5);
    std::vector<T> z = x;
    fk::add_scalar<T>(kLong, z.data(), T(-0.375), z.data());
    CHECK(z == expected<T>(kLong, [&](std::size_t i) { return x[i] - 0.375L; }));
    fk::add_scalar<T>(0, nullptr, T(1), nullptr);
}

TEMPLATE_TEST_CASE("add_row and broadcast_row", "[elementwise]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const std::vector<T> x = {1, 2, 3, 4, 5, 6};  // 2×3
    const std::vector<T> row = {10, 20, 30};
    SECTION("add_row by hand") {
        std::vector<T> y(6, kNaN<T>);
        fk::add_row<T>(2, 3, x.data(), row.data(), y.data());
        CHECK(y == std::vector<T>{11, 22, 33, 14, 25, 36});
    }
    SECTION("add_row with y == x") {
        auto y = x;
        fk::add_row<T>(2, 3, y.data(), row.data(), y.data());
        CHECK(y == std::vector<T>{11, 22, 33, 14, 25, 36});
    }
    SECTION("add_row, 33×31 = 1023 elements, against an oracle") {
        const std::size_t m = 33;
        const std::size_t n = 31;
        const auto xx = dyadic<T>(m * n, 6);
        const auto rr = dyadic<T>(n, 7);
        std::vector<T> y(m * n);
        fk::add_row<T>(m, n, xx.data(), rr.data(), y.data());
        CHECK(y == expected<T>(m * n, [&](std::size_t i) { return 0.0L + xx[i] + rr[i % n]; }));
    }
    SECTION("broadcast_row by hand, into a NaN-filled y") {
        std::vector<T> y(9, kNaN<T>);
        fk::broadcast_row<T>(3, 3, row.data(), y.data());
        CHECK(y == std::vector<T>{10, 20, 30, 10, 20, 30, 10, 20, 30});
        std::vector<T> z(7, kNaN<T>);
        fk::broadcast_row<T>(7, 1, row.data(), z.data());
        CHECK(z == std::vector<T>(7, T(10)));
    }
    SECTION("empty shapes are no-ops") {
        fk::add_row<T>(0, 3, nullptr, row.data(), nullptr);
        fk::add_row<T>(4, 0, nullptr, nullptr, nullptr);
        fk::broadcast_row<T>(0, 3, row.data(), nullptr);
        fk::broadcast_row<T>(4, 0, nullptr, nullptr);
        SUCCEED();
    }
}

TEMPLATE_TEST_CASE("exp and log", "[elementwise]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const double eps = std::numeric_limits<T>::epsilon();
    SECTION("closed forms and IEEE special values") {
        const std::vector<T> x = {0, 1, -1, -kInf<T>, kInf<T>};
        std::vector<T> y(x.size(), kNaN<T>);
        fk::exp<T>(x.size(), x.data(), y.data());
        CHECK(y[0] == T(1));
        CHECK_THAT(y[1], WithinRel(2.718281828459045, 2 * eps));
        CHECK_THAT(y[2], WithinRel(0.36787944117144233, 2 * eps));
        CHECK(y[3] == T(0));
        CHECK(y[4] == kInf<T>);

        const std::vector<T> p = {1, T(2.718281828459045), T(0.5), 0, -1, kInf<T>};
        std::vector<T> l(p.size(), kNaN<T>);
        fk::log<T>(p.size(), p.data(), l.data());
        CHECK(l[0] == T(0));
        CHECK_THAT(l[1], WithinRel(1.0, 2 * eps));
        CHECK_THAT(l[2], WithinRel(-0.6931471805599453, 2 * eps));
        CHECK(l[3] == -kInf<T>);  // log 0 = -inf
        CHECK(std::isnan(l[4]));  // log of a negative = NaN
        CHECK(l[5] == kInf<T>);
    }
    SECTION("1023 elements in place against long double, and log(exp(x)) ~ x") {
        std::vector<T> x(kLong);
        for (std::size_t i = 0; i < kLong; ++i) {
            x[i] = static_cast<T>(-20.0 + 40.0 * static_cast<double>(i) / kLong);
        }
        auto y = x;
        fk::exp<T>(kLong, y.data(), y.data());  // y == x
        for (std::size_t i = 0; i < kLong; ++i) {
            CHECK_THAT(
                y[i],
                WithinRel(static_cast<double>(std::exp(static_cast<long double>(x[i]))), 2 * eps));
        }
        fk::log<T>(kLong, y.data(), y.data());  // y == x
        for (std::size_t i = 0; i < kLong; ++i) {
            CHECK_THAT(y[i], WithinAbs(x[i], 4 * eps * (1 + std::fabs(x[i]))));
        }
    }
    fk::exp<T>(0, nullptr, nullptr);
    fk::log<T>(0, nullptr, nullptr);
}

TEMPLATE_TEST_CASE("relu and relu_backward", "[elementwise]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const std::vector<T> x = {-2, -0.5, 0, 0.5, 3, -kInf<T>, kInf<T>};
    SECTION("relu by hand, and in place") {
        std::vector<T> y(x.size(), kNaN<T>);
        fk::relu<T>(x.size(), x.data(), y.data());
        CHECK(y == std::vector<T>{0, 0, 0, 0.5, 3, 0, kInf<T>});
        auto z = x;
        fk::relu<T>(z.size(), z.data(), z.data());
        CHECK(z == y);
    }
    SECTION("relu, 1023 elements") {
        const auto v = dyadic<T>(kLong, 8);
        std::vector<T> y(kLong);
        fk::relu<T>(kLong, v.data(), y.data());
        CHECK(y == expected<T>(kLong, [&](std::size_t i) { return v[i] > 0 ? v[i] : T(0); }));
    }
    const std::vector<T> g = {1, 2, 3, 4, 5, 6, 7};
    SECTION("relu_backward, beta == 0 over NaN (subgradient at 0 is 0)") {
        std::vector<T> dx(x.size(), kNaN<T>);
        fk::relu_backward<T>(x.size(), x.data(), g.data(), T(0), dx.data());
        CHECK(dx == std::vector<T>{0, 0, 0, 4, 5, 0, 7});
    }
    SECTION("relu_backward at a NaN x passes g, as PyTorch's threshold_backward (x <= 0 ? 0 : g)") {
        const std::vector<T> xn = {kNaN<T>, T(-1), kNaN<T>};
        std::vector<T> dx(3, T(0));
        fk::relu_backward<T>(3, xn.data(), g.data(), T(0), dx.data());
        CHECK(dx == std::vector<T>{1, 0, 3});
    }
    SECTION("relu_backward, beta == 1 accumulates, beta == -0.5 scales") {
        std::vector<T> dx(x.size(), T(10));
        fk::relu_backward<T>(x.size(), x.data(), g.data(), T(1), dx.data());
        CHECK(dx == std::vector<T>{10, 10, 10, 14, 15, 10, 17});
        fk::relu_backward<T>(x.size(), x.data(), g.data(), T(-0.5), dx.data());
        CHECK(dx == std::vector<T>{-5, -5, -5, -3, -2.5, -5, -1.5});
    }
    SECTION("relu_backward, 1023 elements") {
        const auto v = dyadic<T>(kLong, 9);
        const auto gg = dyadic<T>(kLong, 10);
        auto dx = dyadic<T>(kLong, 11);
        const auto dx0 = dx;
        fk::relu_backward<T>(kLong, v.data(), gg.data(), T(0.5), dx.data());
        CHECK(dx == expected<T>(kLong, [&](std::size_t i) {
                  return (v[i] > 0 ? gg[i] : 0.0L) + 0.5L * dx0[i];
              }));
    }
    fk::relu<T>(0, nullptr, nullptr);
    fk::relu_backward<T>(0, nullptr, nullptr, T(1), nullptr);
}

TEMPLATE_TEST_CASE("mul and div", "[elementwise]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    SECTION("mul by hand") {
        const std::vector<T> a = {1, 2, 3};
        const std::vector<T> b = {4, -5, 0.5};
        std::vector<T> y(3, kNaN<T>);
        fk::mul<T>(3, a.data(), b.data(), T(0), y.data());  // beta == 0 over NaN
        CHECK(y == std::vector<T>{4, -10, 1.5});
        std::vector<T> z = {1, 1, 1};
        fk::mul<T>(3, a.data(), b.data(), T(2), z.data());
        CHECK(z == std::vector<T>{6, -8, 3.5});
    }
    SECTION("div by hand") {
        const std::vector<T> a = {1, 3, -2, 1};
        const std::vector<T> b = {4, 2, 8, 0};
        std::vector<T> y(4, kNaN<T>);
        fk::div<T>(4, a.data(), b.data(), T(0), y.data());  // beta == 0 over NaN
        CHECK(y == std::vector<T>{0.25, 1.5, -0.25, kInf<T>});
        std::vector<T> z = {1, 1, 1, 1};
        fk::div<T>(3, a.data(), b.data(), T(-1), z.data());
        CHECK(z == std::vector<T>{-0.75, 0.5, -1.25, 1});
    }
    SECTION("1023 elements against an oracle") {
        const auto a = dyadic<T>(kLong, 12);
        const auto b = dyadic<T>(kLong, 13);
        auto y = dyadic<T>(kLong, 14);
        const auto y0 = y;
        fk::mul<T>(kLong, a.data(), b.data(), T(1), y.data());
        CHECK(y == expected<T>(kLong, [&](std::size_t i) {
                  return static_cast<long double>(a[i]) * b[i] + y0[i];
              }));
        // Divide by powers of two so that the quotients are exact.
        std::vector<T> d(kLong);
        for (std::size_t i = 0; i < kLong; ++i) {
            d[i] = static_cast<T>(1 << (i % 5)) * (i % 2 == 0 ? T(1) : T(-1));
        }
        std::vector<T> q(kLong, kNaN<T>);
        fk::div<T>(kLong, a.data(), d.data(), T(0), q.data());
        CHECK(q == expected<T>(kLong, [&](std::size_t i) {
                  return static_cast<long double>(a[i]) / d[i];
              }));
    }
    fk::mul<T>(0, nullptr, nullptr, T(0), nullptr);
    fk::div<T>(0, nullptr, nullptr, T(0), nullptr);
}

// ---- reductions --------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("sum: hand values, odd sizes and special values", "[reduce]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const std::vector<T> x = {1, 2, 3, 4.5};
    CHECK(fk::sum<T>(4, x.data()) == T(10.5));
    CHECK(fk::sum<T>(0, nullptr) == T(0));  // the empty sum
    // Σ_{i=1}^{n} i = n(n + 1)/2, exact in float for n <= 4095 (< 2^24).
    for (const std::size_t n : {1u, 7u, 9u, 33u, 127u, 128u, 129u, 255u, 256u, 1023u, 4095u}) {
        std::vector<T> v(n);
        for (std::size_t i = 0; i < n; ++i) {
            v[i] = static_cast<T>(i + 1);
        }
        CAPTURE(n);
        CHECK(fk::sum<T>(n, v.data()) == static_cast<T>(n * (n + 1) / 2));
    }
    std::vector<T> v(1000, T(1));
    v[700] = kInf<T>;
    CHECK(fk::sum<T>(v.size(), v.data()) == kInf<T>);
    v[300] = kNaN<T>;
    CHECK(std::isnan(fk::sum<T>(v.size(), v.data())));
}

TEST_CASE("sum: 1e6 copies of 0.1f is accurate where naive float summation is not", "[reduce]") {
    FUSEGRAD_EACH_ARCH();
    const std::size_t n = 1000000;
    const std::vector<float> x(n, 0.1f);
    // The exact sum: 0.1f has a 24-bit significand and 1e6 < 2^20, so the product is exact in
    // the 64-bit long double significand.
    const long double exact = static_cast<long double>(n) * static_cast<long double>(0.1f);
    // Bound: pairwise summation with blocks of b <= 128 elements has relative error at most
    // (b - 1 + ceil(log2(n / b))) * u = (127 + 13) * 2^-24 ~ 8.3e-6 for positive terms. We
    // require 1e-5. Naive left-to-right float summation is off by about 1e-2 here.
    const long double bound = 1e-5L;
    const float got = fk::sum<float>(n, x.data());
    const long double rel = std::fabs(got - exact) / exact;
    INFO("pairwise sum = " << got << ", relative error = " << static_cast<double>(rel));
    CHECK(rel <= bound);

    float naive = 0.0f;
    for (const float v : x) {
        naive += v;
    }
    const long double naive_rel = std::fabs(naive - exact) / exact;
    INFO("naive sum = " << naive << ", relative error = " << static_cast<double>(naive_rel));
    CHECK(naive_rel > 100 * bound);  // the test does discriminate
}

TEST_CASE("sum: 1e6 copies of 0.1 in double", "[reduce]") {
    FUSEGRAD_EACH_ARCH();
    const std::size_t n = 1000000;
    const std::vector<double> x(n, 0.1);
    const long double exact = static_cast<long double>(n) * static_cast<long double>(0.1);
    // (127 + 13) * 2^-53 ~ 1.6e-14; we require 2e-14. Naive summation is off by ~1e-11.
    const long double bound = 2e-14L;
    const double got = fk::sum<double>(n, x.data());
    CHECK(std::fabs(got - exact) / exact <= bound);
    double naive = 0.0;
    for (const double v : x) {
        naive += v;
    }
    CHECK(std::fabs(naive - exact) / exact > 10 * bound);
}

TEMPLATE_TEST_CASE("col_sums", "[reduce]", float, double) {
    FUSEGRAD_EACH_ARCH();
    using T = TestType;
    const std::vector<T> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // 3×4
    SECTION("beta == 0 over NaN") {
        std::vector<T> y(4, kNaN<T>);
        fk::col_sums<T>(3, 4, x.data(), T(0), y.data());
        CHECK(y == std::vector<T>{15, 18, 21, 24});
    }
    SECTION("beta == 1 accumulates, beta == 0.5 scales") {
        std::vector<T> y = {1, 2, 3, 4};
        fk::col_sums<T>(3, 4, x.data(), T(1), y.data());
        CHECK(y == std::vector<T>{16, 20, 24, 28});
        fk::col_sums<T>(3, 4, x.data(), T(0.5), y.data());
        CHECK(y == std::vector<T>{23, 28, 33, 38});
    }
    SECTION("odd shapes against an oracle") {
        for (const std::size_t m : {1u, 7u, 9u, 33u, 129u}) {
            for (const std::size_t n : {1u, 7u, 9u, 33u}) {
                const auto v = dyadic<T>(m * n, static_cast<unsigned>(m + n));
                std::vector<T> y(n, kNaN<T>);
                fk::col_sums<T>(m, n, v.data(), T(0), y.data());
                CAPTURE(m, n);
                CHECK(y == expected<T>(n, [&](std::size_t j) {
                          long double s = 0;
                          for (std::size_t i = 0; i < m; ++i) {
                              s += v[i * n + j];
                          }
                          return s;
                      }));
            }
        }
    }
    SECTION("m == 0: the empty column sums are 0, so y = beta * y") {
        std::vector<T> y(3, kNaN<T>);
        fk::col_sums<T>(0, 3, nullptr, T(0), y.data());
        CHECK(y == std::vector<T>{0, 0, 0});
        std::vector<T> z = {1, 2, 3};
        fk::col_sums<T>(0, 3, nullptr, T(2), z.data());
        CHECK(z == std::vector<T>{2, 4, 6});
    }
    SECTION("n == 0 is a no-op") {
        fk::col_sums<T>(5, 0, nullptr, T(0), nullptr);
        SUCCEED();
    }
}

TEST_CASE("col_sums: a tall column of 0.1f is summed pairwise", "[reduce]") {
    FUSEGRAD_EACH_ARCH();
    const std::size_t m = 200000;
    std::vector<float> x(2 * m);
    for (std::size_t i = 0; i < m; ++i) {
        x[2 * i] = 0.1f;
        x[2 * i + 1] = 1.0f;
    }
    std::vector<float> y(2, std::numeric_limits<float>::quiet_NaN());
    fk::col_sums<float>(m, 2, x.data(), 0.0f, y.data());
    const long double exact = static_cast<long double>(m) * static_cast<long double>(0.1f);
    // Same bound as for sum: (127 + ceil(log2(200000 / 128))) * 2^-24 = 138 * 2^-24 < 1e-5.
    CHECK(std::fabs(y[0] - exact) / exact <= 1e-5L);
    CHECK(y[1] == 200000.0f);
}
