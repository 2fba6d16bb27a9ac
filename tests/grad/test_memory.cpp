// Memory reuse (grad/memory.hpp, core/keeps.hpp): what each op declares its vjp reads is kept,
// everything else shares buffers after its last use; the figures of memory_report() computed by
// hand for chains, and the values and gradients unchanged by the reuse.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include <fusegrad/fusegrad.hpp>

#include "../compile_cost/models.hpp"
#include "../support/finite_differences.hpp"

namespace fg = fusegrad;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

constexpr std::size_t n = 1000;           // elements per value
constexpr std::size_t S = 4032;           // 1000 floats, rounded up to 64 bytes
constexpr std::size_t scalar_bytes = 64;  // a scalar's buffer

template <class E>
auto relu_chain(E x) {  // relu applied ten times
    auto r1 = fg::relu(fg::relu(fg::relu(fg::relu(fg::relu(x)))));
    return fg::relu(fg::relu(fg::relu(fg::relu(fg::relu(r1)))));
}

xt::xtensor<float, 1> mixed_signs() {
    xt::xtensor<float, 1> x = xt::zeros<float>({n});
    for (std::size_t i = 0; i < n; ++i) x(i) = float(int(i % 7) - 3) * 0.5f;
    return x;
}

// A user op that declares nothing: the graph keeps everything for it, as before `kept` existed.
// It records whether its vjp saw its output and its operand.
struct square_keeps_all {
    static constexpr std::string_view name = "square_keeps_all";
    template <std::size_t R>
    static constexpr std::size_t result_rank = R;
    fg::shape infer(const fg::shape& x) const { return x; }
    template <class T>
    void forward(fg::mview<T> out, fg::cview<T> x) const {
        for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = x.data[i] * x.data[i];
    }
    inline static bool saw_output = false, saw_operand = false;
    template <class T>
    void vjp(fg::grad_sink<T> dx, fg::cview<T> g, fg::cview<T> out, fg::cview<T> x) const {
        saw_output = out.data != nullptr;
        saw_operand = x.data != nullptr;
        if (dx)
            for (std::size_t i = 0; i < x.size(); ++i)
                dx.data[i] = T(2) * x.data[i] * g.data[i] + dx.beta() * dx.data[i];
    }
};
// The same op declaring that its vjp reads only its operand: the output comes as null.
struct square_keeps_x : square_keeps_all {
    static constexpr fg::keeps kept = fg::keeps::operand(0);
};
template <class Op, class E>
auto square(E x) {
    return fg::node<Op, E>{{}, {x}};
}

}  // namespace

TEST_CASE("a forward-only chain needs two buffers, whatever its length", "[grad][memory]") {
    auto x = mixed_signs();
    auto g = fg::compile(fg::sum(relu_chain(fg::input<"x">(x))));
    g.forward();
    double expected = 0;
    for (std::size_t i = 0; i < n; ++i) expected += std::max(0.0, double(x(i)));
    CHECK_THAT(g.value(), WithinRel(expected, 1e-6));

    const auto m = g.memory_report();
    CHECK(m.values == 11);      // ten relus and the sum
    CHECK(m.kept_values == 1);  // the value itself: nothing needs a gradient
    CHECK(m.unshared_bytes == 10 * S + scalar_bytes);
    // relu k is read only by relu k + 1: two buffers alternate; the sum shares the first.
    CHECK(m.arena_bytes == 2 * S);
    CHECK(m.peak_live_bytes == 2 * S);
    CHECK(m.workspace_bytes == 0);
    CHECK(m.param_grad_bytes == 0);
}

TEST_CASE("training keeps exactly what the vjps read, and gradients share two buffers",
          "[grad][memory]") {
    auto x = mixed_signs();
    auto g = fg::compile(fg::sum(relu_chain(fg::param<"x">(x))));
    g.run();
    for (std::size_t i = 0; i < n; ++i) CHECK(g.grad<"x">()(i) == (x(i) > 0 ? 1.0f : 0.0f));

    // relu's vjp reads its operand: relus 1..9 are kept (x is the caller's); relu 10 is read by
    // the sum only, whose vjp reads nothing, so it is not.
    for (std::size_t slot = 1; slot <= 9; ++slot) CHECK(g.kept_for_backward(slot));
    CHECK_FALSE(g.kept_for_backward(10));
    const auto m = g.memory_report();
    CHECK(m.kept_values == 10);  // relus 1..9 and the value
    CHECK(m.kept_bytes == 9 * S + scalar_bytes);
    CHECK(m.unshared_bytes == 20 * S + 2 * scalar_bytes);
    // Kept: 9 S + the value; gradients of consecutive relus overlap at one step, so two
    // gradient buffers alternate, relu 10's output reuses one, and the seed fits in the other.
    CHECK(m.peak_live_bytes == 11 * S + scalar_bytes);
    CHECK(m.arena_bytes == 11 * S + scalar_bytes);
    CHECK(m.param_grad_bytes == n * sizeof(float));

    // A second backward after one forward reads the kept values intact.
    xt::xtensor<float, 1> first = g.grad<"x">();
    g.backward();
    CHECK(g.grad<"x">() == first);
}

TEST_CASE("an op that declares nothing keeps everything; a declared read is all the vjp gets",
          "[grad][memory]") {
    xt::xtensor<double, 1> v = {1.5, -2.0, 0.25};
    {
        auto g = fg::compile(fg::sum(fg::exp(square<square_keeps_all>(fg::param<"v">(v)))));
        g.run();
        CHECK(square_keeps_all::saw_output);
        CHECK(square_keeps_all::saw_operand);
        CHECK(g.memory_report().kept_values == 3);  // square (everything), exp (its output), sum
        for (std::size_t i = 0; i < 3; ++i)
            CHECK_THAT(g.grad<"v">()(i), WithinRel(2 * v(i) * std::exp(v(i) * v(i)), 1e-12));
    }
    {
        auto g = fg::compile(fg::sum(fg::exp(square<square_keeps_x>(fg::param<"v">(v)))));
        g.run();
        CHECK_FALSE(square_keeps_x::saw_output);  // not declared: null, not a stale buffer
        CHECK(square_keeps_x::saw_operand);
        for (std::size_t i = 0; i < 3; ++i)
            CHECK_THAT(g.grad<"v">()(i), WithinRel(2 * v(i) * std::exp(v(i) * v(i)), 1e-12));
    }
}

TEST_CASE("softmax_xent keeps its row statistics in its workspace", "[grad][memory]") {
    xt::xtensor<double, 2> X = {{0.5, -1.0}, {1.5, 0.25}, {0.0, 0.3}, {-0.7, 2.0}};
    xt::xtensor<double, 2> W = {{0.1, -0.2, 0.3}, {0.4, 0.5, -0.6}};
    xt::xtensor<double, 1> b = {0.05, -0.05, 0.0};
    xt::xtensor<std::int64_t, 1> y = {2, 0, 1, 2};
    auto loss = fg::cross_entropy(
        fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b)), fg::labels<"y">(y));
    auto g = fg::compile(loss, fg::no_rewrite);  // as written: linear, then softmax_xent
    STATIC_REQUIRE(fg::contains_op<typename decltype(g)::expression_type,
                                   fg::op::softmax_xent<fg::reduction::mean>>);

    g.forward();  // unfused: the forward writes the statistics, the backward reads them
    g.backward();
    const xt::xtensor<double, 2> dW_stats = g.grad<"W">();
    const auto m = g.memory_report();
    CHECK(m.workspace_bytes ==
          128);  // 2 · 4 rows + 1 flag = 9 doubles, 72 bytes, rounded up to 64s

    g.run();  // fused: no statistics; its backward scales what the forward wrote
    const xt::xtensor<double, 2> dW_fused = g.grad<"W">();
    g.backward();  // a second backward after run() recomputes, without statistics
    const xt::xtensor<double, 2> dW_again = g.grad<"W">();

    // dW = Xᵀ (softmax(XW + b) − onehot(y)) / N, by hand.
    for (std::size_t k = 0; k < 2; ++k)
        for (std::size_t j = 0; j < 3; ++j) {
            double expected = 0;
            for (std::size_t i = 0; i < 4; ++i) {
                double s[3], mx = -1e300, z = 0;
                for (std::size_t c = 0; c < 3; ++c) {
                    s[c] = X(i, 0) * W(0, c) + X(i, 1) * W(1, c) + b(c);
                    mx = std::max(mx, s[c]);
                }
                for (double& e : s) z += (e = std::exp(e - mx));
                expected += X(i, k) * (s[j] / z - (std::size_t(y(i)) == j ? 1.0 : 0.0)) / 4;
            }
            CHECK_THAT(dW_stats(k, j), WithinAbs(expected, 1e-14));
            CHECK_THAT(dW_fused(k, j), WithinAbs(expected, 1e-14));
            CHECK_THAT(dW_again(k, j), WithinAbs(expected, 1e-14));
        }
}

TEST_CASE("linear_xent's workspace is two tiles and four numbers per row, never the N x C logits",
          "[grad][memory][linear_xent]") {
    const std::size_t N = 64, D = 8, C = 20000;
    auto X = xt::xtensor<float, 2>::from_shape({N, D});
    auto W = xt::xtensor<float, 2>::from_shape({D, C});
    auto b = xt::xtensor<float, 1>::from_shape({C});
    auto y = xt::xtensor<std::int32_t, 1>::from_shape({N});
    fusegrad_test::fill_uniform(X, -1, 1, 1);
    fusegrad_test::fill_uniform(W, -1, 1, 2);
    b.fill(0.f);
    for (std::size_t i = 0; i < N; ++i) y(i) = std::int32_t((i * 977) % C);
    auto loss = fg::cross_entropy(
        fg::linear(fg::param<"x">(X), fg::param<"W">(W), fg::param<"b">(b)), fg::labels<"y">(y));
    auto fused = fg::compile(loss);
    auto written = fg::compile(loss, fg::no_rewrite);
    STATIC_REQUIRE(fg::contains_op<typename decltype(fused)::expression_type,
                                   fg::op::linear_xent<fg::reduction::mean, true>>);
    fused.run();
    written.run();
    const auto f = fused.memory_report();
    const auto w = written.memory_report();
    // By hand: N · C = 1.28 M logits is over the 128 Ki tile budget, so tiles are 512 classes wide
    // and min(N, 128 Ki / 512) = 64 rows high: 2 · 64 · 512 + 4 · 64 + 2 = 65794 floats = 263176
    // bytes, 263232 in whole 64-byte lines.
    CHECK(f.workspace_bytes == 263232);
    CHECK(f.arena_bytes < N * C * sizeof(float) / 4);
    // As written, the logits and their gradient are both there.
    CHECK(w.arena_bytes >= 2 * N * C * sizeof(float));
    CHECK_THAT(double(fused.value()), WithinRel(double(written.value()), 1e-5));
    const auto& a = fused.grad<"W">();
    const auto& c = written.grad<"W">();
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(double(a.data()[i]) - double(c.data()[i])));
    CHECK(worst < 1e-7);
}

TEST_CASE("a deep MLP trains in less memory than one buffer per value, with the same gradients",
          "[grad][memory]") {
    // models.hpp: relu(linear) layers under mean(nll(softmax(linear))), batch 2, width 4.
    static fusegrad_cost::weights<6> w;
    auto x = fg::input<"x">(w.X);
    auto g = fg::compile(fusegrad_cost::textbook_loss(w, fusegrad_cost::mlp_hidden<0, 6>(w, x)));
    auto written = fg::compile(
        fusegrad_cost::textbook_loss(w, fusegrad_cost::mlp_hidden<0, 6>(w, x)), fg::no_rewrite);
    g.run();
    written.run();
    for (const auto& m : {g.memory_report(), written.memory_report()}) {
        CHECK(m.arena_bytes < m.unshared_bytes);
        CHECK(m.arena_bytes >= m.peak_live_bytes);
        CHECK(m.kept_bytes <= m.arena_bytes);
    }
    CHECK_THAT(g.value(), WithinRel(written.value(), 1e-13));
    const auto& dW0 = g.grad<"W0">();
    for (std::size_t i = 0; i < dW0.size(); ++i) {
        CHECK_THAT(dW0.data()[i], WithinAbs(written.grad<"W0">().data()[i], 1e-13));
        CHECK_THAT(dW0.data()[i], WithinAbs(fusegrad_test::central_difference(g, w.W[0], i), 1e-7));
    }
}
