// fg::dropout: the identity in evaluation mode; in training, a mask drawn from (seed, step,
// index) with the stated rate and scale, replayed by the vjp, new at every run().

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <xtensor/xbuilder.hpp>

#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;
using M = xt::xtensor<float, 2>;

namespace {
M ramp(std::size_t r, std::size_t c) {  // every element non-zero
    M m = M::from_shape({r, c});
    for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = 0.5f + float(i % 13) * 0.25f;
    return m;
}
std::size_t zeros_of(fg::cview<float> v) {
    std::size_t z = 0;
    for (std::size_t i = 0; i < v.size(); ++i) z += v.data[i] == 0.f;
    return z;
}
bool same(fg::cview<float> a, fg::cview<float> b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a.data[i] != b.data[i]) return false;
    return true;
}
}  // namespace

TEST_CASE("dropout in evaluation mode is the identity, and so is its gradient", "[ops][dropout]") {
    M x = ramp(6, 7);
    auto g = fg::compile(fg::sum(fg::scale(fg::dropout(fg::param<"x">(x), 0.4, 3), 2.0)));
    REQUIRE(g.training());
    g.eval();
    REQUIRE_FALSE(g.training());
    g.run();
    double sum = 0;
    for (float v : x) sum += 2.0 * v;
    REQUIRE(g.value() == Approx(sum).epsilon(1e-6));
    for (float d : g.grad<"x">()) REQUIRE(d == 2.f);
}

TEST_CASE("dropout in training zeroes about p of the elements and scales the rest by 1/(1-p)",
          "[ops][dropout]") {
    M x = xt::ones<float>({200, 500});
    const double p = 0.3;
    auto g = fg::compile(fg::dropout(fg::param<"x">(x), p, 11));
    g.forward();
    const auto out = g.value_view();
    const double n = double(out.size()), z = double(zeros_of(out));
    // Binomial(n, p): 5 standard deviations.
    REQUIRE(std::abs(z - p * n) < 5 * std::sqrt(n * p * (1 - p)));
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    for (std::size_t i = 0; i < out.size(); ++i)
        REQUIRE((out.data[i] == 0.f || out.data[i] == scale));
}

TEST_CASE("dropout's gradient is the forward's mask times 1/(1-p)", "[ops][dropout]") {
    M x = ramp(8, 9);
    const double p = 0.5;
    auto g = fg::compile(fg::sum(fg::dropout(fg::param<"x">(x), p, 5)));
    auto out = fg::compile(fg::dropout(fg::param<"x">(x), p, 5));
    for (int step = 0; step < 3; ++step) {
        g.run();  // the masks of steps 0, 1, 2
        out.set_step(g.step() - 1);
        out.forward();  // the same seed and step: the same mask
        const auto y = out.value_view();
        const auto& dx = g.grad<"x">();
        std::size_t dropped = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
            const bool kept = y.data[i] != 0.f;
            dropped += !kept;
            REQUIRE(dx.data()[i] == (kept ? 2.f : 0.f));
            if (kept) REQUIRE(y.data[i] == x.data()[i] * 2.f);
        }
        REQUIRE(dropped > 0);
        REQUIRE(dropped < x.size());
    }
}

TEST_CASE("dropout never reads an output it overwrites (a reused buffer may hold NaN)",
          "[ops][dropout]") {
    // The graph hands ops reused buffers: with beta = 0 the old contents must not be read, or
    // 0 · NaN poisons the result (this test failed now and then before, on whatever the heap
    // held).
    const std::vector<float> x{1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f};
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const fg::shape s = fg::shape::vector(x.size());
    fg::op::dropout d;
    d.p = 0.5;
    for (const bool training : {true, false}) {
        const fg::run_context ctx{training, 3};
        std::vector<float> y(x.size(), nan), dx(x.size(), nan);
        d.forward<float>({y.data(), s}, {x.data(), s}, ctx);
        d.vjp<float>({dx.data(), s, false}, {x.data(), s}, {}, {}, ctx);
        for (std::size_t i = 0; i < x.size(); ++i) {
            REQUIRE_FALSE(std::isnan(y[i]));
            REQUIRE(dx[i] == y[i]);  // the same mask, the same scale
        }
    }
}

TEST_CASE("dropout draws a new mask at every run(); forward() and backward() keep the step",
          "[ops][dropout]") {
    M x = ramp(10, 10);
    auto g = fg::compile(fg::sum(fg::dropout(fg::param<"x">(x), 0.5, 1)));
    REQUIRE(g.step() == 0);
    g.forward();
    const float v0 = g.value();
    g.forward();
    g.backward();
    REQUIRE(g.step() == 0);
    REQUIRE(g.value() == v0);
    const M d0 = g.grad<"x">();  // the mask of step 0, times 2
    g.run();                     // step 0 again, then step 1
    REQUIRE(g.step() == 1);
    REQUIRE(bool(g.grad<"x">() == d0));
    g.run();  // step 1
    const M d1 = g.grad<"x">();
    REQUIRE_FALSE(bool(d1 == d0));
    g.run();  // step 2
    REQUIRE_FALSE(bool(g.grad<"x">() == d1));
    g.set_step(1);  // replay step 1
    g.run();
    REQUIRE(bool(g.grad<"x">() == d1));

    auto h = fg::compile(fg::sum(fg::dropout(fg::param<"x">(x), 0.5, 1)));
    h.set_step(1);
    h.run();
    REQUIRE(bool(h.grad<"x">() == d1));  // same seed and step: the same mask
    auto other = fg::compile(fg::sum(fg::dropout(fg::param<"x">(x), 0.5, 2)));
    other.set_step(1);
    other.run();
    REQUIRE_FALSE(bool(other.grad<"x">() == d1));
}

TEST_CASE("dropout with p 0 is the identity and with p 1 gives zeros", "[ops][dropout]") {
    M x = ramp(3, 4);
    auto keep = fg::compile(fg::sum(fg::dropout(fg::param<"x">(x), 0.0)));
    keep.run();
    for (float d : keep.grad<"x">()) REQUIRE(d == 1.f);
    auto drop = fg::compile(fg::sum(fg::dropout(fg::param<"x">(x), 1.0)));
    drop.run();
    REQUIRE(drop.value() == 0.f);
    for (float d : drop.grad<"x">()) REQUIRE(d == 0.f);
}

TEST_CASE("dropout refuses p outside [0, 1], naming itself", "[ops][dropout][errors]") {
    M x = ramp(2, 2);
    REQUIRE_THROWS_AS(fg::dropout(fg::param<"x">(x), 1.5), fg::value_error);
    REQUIRE_THROWS_WITH(fg::dropout(fg::param<"x">(x), -0.1),
                        Catch::Matchers::Contains("dropout: p must be in [0, 1]"));
    REQUIRE_THROWS_AS(fg::dropout(fg::param<"x">(x), std::nan("")), fg::value_error);
}

TEST_CASE("a model with dropout: evaluation mode computes the model without it", "[ops][dropout]") {
    M X = ramp(16, 6);
    xt::xtensor<std::int32_t, 1> y = xt::arange<std::int32_t>(16) % 3;
    M W = ramp(6, 3) * 0.1f;
    xt::xtensor<float, 1> b = {0.1f, -0.2f, 0.3f};
    auto with = fg::compile(fg::cross_entropy(
        fg::linear(fg::dropout(fg::input<"x">(X), 0.25, 9), fg::param<"W">(W), fg::param<"b">(b)),
        fg::labels<"y">(y)));
    auto without = fg::compile(fg::cross_entropy(
        fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b)), fg::labels<"y">(y)));
    with.run();
    without.run();
    REQUIRE(with.value() != without.value());
    with.eval();
    with.run();
    REQUIRE(with.value() == without.value());
    REQUIRE(same({with.grad<"W">().data(), fg::shape::matrix(6, 3)},
                 {without.grad<"W">().data(), fg::shape::matrix(6, 3)}));
}
