// softmax against hand computations, and its Jacobian against the closed form diag(s) - s sᵀ.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

TEST_CASE("softmax of a vector matches a hand computation", "[ops][softmax]") {
    // e^1, e^2, e^3 = 2.718281828, 7.389056099, 20.08553692; their sum is 30.19287485.
    xt::xtensor<double, 1> x = {1.0, 2.0, 3.0};
    auto g = fg::compile(fg::softmax(fg::input<"x">(x)));
    g.forward();
    const auto s = g.value_view();
    REQUIRE(s.size() == 3);
    CHECK_THAT(s.data[0], WithinRel(2.718281828459045 / 30.19287485057736, 1e-12));
    CHECK_THAT(s.data[1], WithinRel(7.38905609893065 / 30.19287485057736, 1e-12));
    CHECK_THAT(s.data[2], WithinRel(20.085536923187668 / 30.19287485057736, 1e-12));
}

TEST_CASE("softmax rows of a matrix are independent and shift-invariant", "[ops][softmax]") {
    // Row 2 is row 1 plus 1000: without subtracting the max, e^1003 would overflow.
    xt::xtensor<float, 2> x = {{1.f, 2.f, 3.f}, {1001.f, 1002.f, 1003.f}, {0.f, 0.f, 0.f}};
    auto g = fg::compile(fg::softmax(fg::input<"x">(x)));
    g.forward();
    const auto s = g.value_view();
    const double expected[3] = {0.09003057317038046, 0.24472847105479767, 0.6652409557748219};
    for (int j = 0; j < 3; ++j) {
        CHECK_THAT(s.data[j], WithinRel(expected[j], 1e-6));
        CHECK_THAT(s.data[3 + j], WithinRel(expected[j], 1e-6));
        CHECK_THAT(s.data[6 + j], WithinRel(1.0 / 3.0, 1e-6));
    }
}

TEST_CASE("log_softmax matches log of a hand-computed softmax, even where softmax underflows",
          "[ops][softmax]") {
    xt::xtensor<double, 1> x = {0.0, -800.0};  // softmax(x)[1] = e^-800 underflows to 0
    auto g = fg::compile(fg::log_softmax(fg::input<"x">(x)));
    g.forward();
    const auto ls = g.value_view();
    // log(1 + e^-800) is 0 to double precision.
    CHECK_THAT(ls.data[0], WithinAbs(0.0, 1e-300));
    CHECK_THAT(ls.data[1], WithinRel(-800.0, 1e-15));
}

TEST_CASE("the softmax Jacobian, differentiated output by output, is diag(s) - s s^T",
          "[ops][softmax][jacobian]") {
    xt::xtensor<double, 1> x = {0.5, -1.25, 2.0, 0.0, 1.5};
    const std::size_t n = x.size();
    auto g = fg::compile(fg::softmax(fg::param<"x">(x)));
    g.forward();
    std::vector<double> s(g.value_view().data, g.value_view().data + n);

    for (std::size_t i = 0; i < n; ++i) {
        // Seeding the backward pass with e_i gives row i of the Jacobian: ∂s_i/∂x_j.
        std::vector<double> e(n, 0.0);
        e[i] = 1.0;
        g.backward(fg::cview<double>{e.data(), fg::shape::vector(n)});
        const auto& row = g.grad<"x">();
        for (std::size_t j = 0; j < n; ++j) {
            const double closed_form = (i == j ? s[i] : 0.0) - s[i] * s[j];
            INFO("J[" << i << "][" << j << "]");
            CHECK_THAT(row(j), WithinAbs(closed_form, 1e-15));
        }
    }
}

TEST_CASE("softmax of a row with -inf entries keeps them at exactly 0", "[ops][softmax]") {
    const float inf = std::numeric_limits<float>::infinity();
    xt::xtensor<float, 2> x = {{-inf, 0.f, -inf, 0.f}};
    auto g = fg::compile(fg::softmax(fg::input<"x">(x)));
    g.forward();
    const auto s = g.value_view();
    CHECK(s.data[0] == 0.f);
    CHECK(s.data[2] == 0.f);
    CHECK_THAT(s.data[1], WithinRel(0.5, 1e-7));
    CHECK_THAT(s.data[3], WithinRel(0.5, 1e-7));
}
