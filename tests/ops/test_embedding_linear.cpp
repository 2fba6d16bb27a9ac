// fg::embedding_linear and the rule linear(embedding(T, idx), W, b) -> embedding_linear: the
// fused op against the graph as written (values and every gradient, padding_idx), the rule's
// reach (an embedding used twice; linear_xent keeps its place under a cross-entropy), a bad
// index named, and the table's gradient the same for any thread count.

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include <xtensor/xtensor.hpp>

#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;

namespace {
template <class T>
xt::xtensor<T, 2> filled(std::size_t r, std::size_t c, unsigned seed) {
    xt::xtensor<T, 2> m = xt::xtensor<T, 2>::from_shape({r, c});
    for (std::size_t i = 0; i < m.size(); ++i)
        m.data()[i] = T(((i * 37 + seed * 101) % 199) / 99.0 - 1.0);
    return m;
}

template <class A, class B>
void same_values(const A& got, const B& want, double tol) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i)
        REQUIRE(double(got.data()[i]) == Approx(double(want.data()[i])).margin(tol));
}
}  // namespace

TEMPLATE_TEST_CASE(
    "linear(embedding(T, idx), W, b) is rewritten to embedding_linear, with the "
    "written graph's value and gradients",
    "[ops][embedding_linear]", float, double) {
    using T = TestType;
    const double tol = sizeof(T) == 4 ? 2e-5 : 1e-12;
    // Shapes that reach the GEMM's skinny path (10 columns) and its blocked one (40), with
    // repeated indices and rows never picked.
    for (const std::size_t out : {std::size_t(10), std::size_t(40)}) {
        INFO(out << " outputs");
        auto table = filled<T>(23, 37, 1);
        auto w = filled<T>(37, out, 2);
        xt::xtensor<T, 1> b = xt::xtensor<T, 1>::from_shape({out});
        for (std::size_t j = 0; j < out; ++j) b(j) = T(0.1 * double(j % 7) - 0.3);
        xt::xtensor<std::int64_t, 1> idx = xt::xtensor<std::int64_t, 1>::from_shape({70});
        for (std::size_t i = 0; i < idx.size(); ++i) idx(i) = std::int64_t((i * 5 + 3) % 17);
        // With padding_idx 3 (a picked row): its rows add nothing to T's gradient, fused or not.
        const auto build = [&] {
            auto h = fg::linear(fg::embedding(fg::param<"T">(table), fg::labels<"i">(idx), 3),
                                fg::param<"W">(w), fg::param<"b">(b));
            return fg::sum(fg::square(h));
        };
        using R = decltype(fg::rewrite(build()));
        STATIC_REQUIRE(fg::contains_op<R, fg::op::embedding_linear>);
        STATIC_REQUIRE(!fg::contains_op<R, fg::op::embedding>);
        auto fused = fg::compile(build());
        auto written = fg::compile(build(), fg::no_rewrite);
        fused.run();
        written.run();
        REQUIRE(double(fused.value()) == Approx(double(written.value())).epsilon(tol));
        same_values(fused.template grad<"W">(), written.template grad<"W">(), tol);
        same_values(fused.template grad<"b">(), written.template grad<"b">(), tol);
        same_values(fused.template grad<"T">(), written.template grad<"T">(), tol);
        for (std::size_t j = 0; j < 37; ++j) REQUIRE(fused.template grad<"T">()(3, j) == T(0));
        // A second run (the workspace's row pointers rebuilt) gives the same bits.
        const auto first = fused.template grad<"T">();
        fused.run();
        REQUIRE(fused.template grad<"T">() == first);
    }
}

TEST_CASE("embedding_linear: the rule's reach", "[ops][embedding_linear]") {
    auto table = filled<float>(9, 6, 3);
    auto w = filled<float>(6, 4, 4);
    xt::xtensor<float, 1> b = {0.1f, -0.2f, 0.3f, 0.f};
    xt::xtensor<std::int32_t, 1> idx = {3, 0, 8, 3, 5};
    auto T = fg::param<"T">(table);
    auto I = fg::labels<"i">(idx);
    auto W = fg::param<"W">(w);
    auto B = fg::param<"b">(b);
    // The embedding used twice. It has run-time state (padding_idx), so each use is its own
    // value (keyed by position, as every stateful op's): fusing the linear's use computes
    // nothing twice, and the rule fires there; the other use stays an embedding.
    auto e = fg::embedding(T, I);
    auto shared = fg::sum(fg::linear(e, W, B)) + fg::sum(e);
    using S = decltype(fg::rewrite(shared));
    STATIC_REQUIRE(fg::count_op<S, fg::op::embedding_linear> == 1);
    STATIC_REQUIRE(fg::count_op<S, fg::op::embedding> == 1);
    auto gs = fg::compile(shared);
    auto hs = fg::compile(shared, fg::no_rewrite);
    gs.run();
    hs.run();
    REQUIRE(gs.value() == Approx(hs.value()).epsilon(1e-5));
    same_values(gs.grad<"T">(), hs.grad<"T">(), 1e-5);
    // Under a cross-entropy, linear_xent (logits never held whole) keeps its place, on the
    // embedding as written.
    xt::xtensor<std::int64_t, 1> y = {0, 3, 1, 2, 2};
    auto xent = fg::cross_entropy(fg::linear(fg::embedding(T, I), W, B), fg::labels<"y">(y));
    using X = decltype(fg::rewrite(xent));
    static_assert(fg::count_op<X, fg::op::linear_xent<fg::reduction::mean, true>> == 1);
    static_assert(fg::contains_op<X, fg::op::embedding>);
    static_assert(!fg::contains_op<X, fg::op::embedding_linear>);
    auto g = fg::compile(xent);
    auto h = fg::compile(xent, fg::no_rewrite);
    g.run();
    h.run();
    REQUIRE(g.value() == Approx(h.value()).epsilon(1e-5));
    // Written directly, as a user may.
    auto d = fg::compile(fg::sum(fg::embedding_linear(T, I, W, B)));
    auto u = fg::compile(fg::sum(fg::linear(fg::embedding(T, I), W, B)), fg::no_rewrite);
    d.run();
    u.run();
    REQUIRE(d.value() == Approx(u.value()).epsilon(1e-5));
}

TEST_CASE("embedding_linear names a bad index and writes nothing", "[ops][embedding_linear]") {
    auto table = filled<float>(4, 3, 5);
    auto w = filled<float>(3, 2, 6);
    xt::xtensor<float, 1> b = {0.f, 1.f};
    xt::xtensor<std::int64_t, 1> idx = {1, 4, 0};
    auto g = fg::compile(fg::linear(fg::embedding(fg::constant(table), fg::labels<"i">(idx)),
                                    fg::param<"W">(w), fg::param<"b">(b)));
    REQUIRE_THROWS_WITH(g.forward(), Catch::Contains("idx[1] = 4 is outside [0, 4)"));
    idx(1) = -1;  // the leaf reads the array at every run
    REQUIRE_THROWS_WITH(g.forward(), Catch::Contains("idx[1] = -1 is outside [0, 4)"));
}

// PyTorch's scale_grad_by_freq by hand: idx = {2, 0, 2, 2}, upstream rows u_0..u_3. Row 2 of
// the table's gradient is (u_0 + u_2 + u_3) / 3, row 0 is u_1, the others 0; the same through
// embedding_linear (upstream g·Wᵀ), and printed as an option of the op.
TEST_CASE("scale_grad_by_freq divides each row by its index's count (by hand)",
          "[ops][embedding_linear]") {
    xt::xtensor<double, 2> table = filled<double>(3, 2, 7);
    xt::xtensor<std::int32_t, 1> idx = {2, 0, 2, 2};
    auto e =
        fg::embedding(fg::param<"t">(table), fg::labels<"i">(idx), {.scale_grad_by_freq = true});
    CHECK_THAT(fg::to_string(e), Catch::Contains("scale_grad_by_freq"));
    auto g = fg::compile(e);
    g.forward();
    const double u[8] = {1, 2, 3, 4, 5, 6, 7, 8};  // 4 rows of 2
    g.backward(fg::cview<double>{u, g.value_shape()});
    const auto& dt = g.grad<"t">();
    CHECK(dt(0, 0) == 3.0);
    CHECK(dt(0, 1) == 4.0);
    CHECK(dt(1, 0) == 0.0);
    CHECK(dt(1, 1) == 0.0);
    CHECK(dt(2, 0) == Approx((1.0 + 5 + 7) / 3).epsilon(1e-15));
    CHECK(dt(2, 1) == Approx((2.0 + 6 + 8) / 3).epsilon(1e-15));

    // Through embedding_linear: W = I (2×2), b = 0, so g·Wᵀ = g and the same rows come out.
    xt::xtensor<double, 2> w = {{1.0, 0.0}, {0.0, 1.0}};
    xt::xtensor<double, 1> b = {0.0, 0.0};
    auto lin = fg::compile(fg::linear(e, fg::constant(w), fg::constant(b)));
    STATIC_REQUIRE(
        fg::contains_op<typename decltype(lin)::expression_type, fg::op::embedding_linear>);
    lin.forward();
    lin.backward(fg::cview<double>{u, lin.value_shape()});
    const auto& dl = lin.grad<"t">();
    for (std::size_t k = 0; k < dl.size(); ++k)
        CHECK(dl.data()[k] == Approx(dt.data()[k]).epsilon(1e-15));
    CHECK(dl(2, 1) == Approx(16.0 / 3).epsilon(1e-15));

    // fg::embedding_linear built directly, with the same options
    auto direct = fg::compile(fg::embedding_linear(fg::param<"t">(table), fg::labels<"i">(idx),
                                                   fg::constant(w), fg::constant(b),
                                                   {.scale_grad_by_freq = true}));
    direct.forward();
    direct.backward(fg::cview<double>{u, direct.value_shape()});
    for (std::size_t k = 0; k < dl.size(); ++k) CHECK(direct.grad<"t">().data()[k] == dl.data()[k]);
}
