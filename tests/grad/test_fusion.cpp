// Fused and unfused graphs at run time: the default fg::compile runs the fused softmax_xent
// kernel (and not softmax or its Jacobian-vector product; under run(), forward and gradient in
// one kernel call), and gives the same loss and gradients as the graph as written
// (fg::no_rewrite), which the core tests check against closed forms and libtorch.

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include <fusegrad/fusegrad.hpp>

#include "../support/finite_differences.hpp"

namespace fg = fusegrad;

namespace {

template <class G, class U>
void require_same_grads(const G& fused, const U& unfused, double tol) {
    const auto& a = fused.template grad<"W">();
    const auto& b = unfused.template grad<"W">();
    REQUIRE(a.shape() == b.shape());
    for (std::size_t i = 0; i < a.size(); ++i)
        CHECK_THAT(double(a.data()[i]), Catch::Matchers::WithinAbs(double(b.data()[i]), tol));
    const auto& c = fused.template grad<"b">();
    const auto& d = unfused.template grad<"b">();
    for (std::size_t i = 0; i < c.size(); ++i)
        CHECK_THAT(double(c.data()[i]), Catch::Matchers::WithinAbs(double(d.data()[i]), tol));
}

}  // namespace

TEMPLATE_TEST_CASE("fused and unfused softmax regression agree, and the fused kernel is what runs",
                   "[fusion]", float, double) {
    using T = TestType;
    const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
    const std::size_t N = 37, D = 11, C = 7;  // odd sizes on purpose
    auto X = xt::xtensor<T, 2>::from_shape({N, D});
    auto W = xt::xtensor<T, 2>::from_shape({D, C});
    auto b = xt::xtensor<T, 1>::from_shape({C});
    auto y = xt::xtensor<std::int64_t, 1>::from_shape({N});
    auto Y = xt::xtensor<T, 2>::from_shape({N, C});
    fusegrad_test::fill_uniform(X, -2, 2, 1);
    fusegrad_test::fill_uniform(W, -1, 1, 2);
    fusegrad_test::fill_uniform(b, -1, 1, 3);
    fusegrad_test::fill_uniform(Y, 0, 1, 4);
    std::mt19937 rng(5);
    for (auto& v : y) v = static_cast<std::int64_t>(rng() % C);
    for (std::size_t i = 0; i < N; ++i) {
        T s = 0;
        for (std::size_t j = 0; j < C; ++j) s += Y(i, j);
        for (std::size_t j = 0; j < C; ++j) Y(i, j) /= s;
    }
    auto logits = fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b));

    SECTION("mean over class indices") {
        auto loss = fg::mean(fg::nll(fg::softmax(logits), fg::labels<"y">(y)));
        auto fused = fg::compile(loss);
        auto unfused = fg::compile(loss, fg::no_rewrite);
        {
            fg::kernels::trace_scope trace;
            fused.run();
            // One linear_xent, its logits in one tile: in run() its forward makes the loss and
            // the gradient tile in one pass (the fused softmax-xent kernel), the backward only
            // multiplies it out. One GEMM for the logits, one for dW (x is an input).
            CHECK(trace.count("linear_xent_forward") == 1);
            CHECK(trace.count("linear_xent_backward") == 1);
            CHECK(trace.count("gemm") == 2);
            CHECK(trace.count("softmax_xent_index_rows_fused") == 1);
            CHECK(trace.count("softmax_xent_index_rows_backward") == 0);
            CHECK(trace.count("softmax_rows") == 0);
            CHECK(trace.count("softmax_rows_backward") == 0);
            CHECK(trace.count("nll_index_rows") == 0);
        }
        {
            fg::kernels::trace_scope trace;
            unfused.run();
            CHECK(trace.count("softmax_rows") == 1);
            CHECK(trace.count("softmax_rows_backward") == 1);
            CHECK(trace.count("softmax_xent_index_rows") == 0);
            CHECK(trace.count("softmax_xent_index_rows_fused") == 0);
        }
        CHECK_THAT(double(fused.value()), Catch::Matchers::WithinRel(double(unfused.value()), tol));
        require_same_grads(fused, unfused, tol);
    }
    SECTION("sum over probability targets") {
        auto loss = fg::sum(fg::nll(fg::softmax(logits), fg::labels<"Y">(Y)));
        auto fused = fg::compile(loss);
        auto unfused = fg::compile(loss, fg::no_rewrite);
        STATIC_REQUIRE(fg::contains_op<typename decltype(fused)::expression_type,
                                       fg::op::softmax_xent<fg::reduction::sum>>);
        fused.run();
        unfused.run();
        CHECK_THAT(double(fused.value()), Catch::Matchers::WithinRel(double(unfused.value()), tol));
        require_same_grads(fused, unfused, tol);
    }
    SECTION("per-row losses through log(softmax) and nll_logp") {
        auto per_row = fg::nll_logp(fg::log(fg::softmax(logits)), fg::labels<"y">(y));
        auto loss = fg::sum(fg::scale(per_row, 0.5));  // a reduction the rules do not fold
        auto fused = fg::compile(loss);
        auto unfused = fg::compile(loss, fg::no_rewrite);
        STATIC_REQUIRE(fg::contains_op<typename decltype(fused)::expression_type,
                                       fg::op::linear_xent<fg::reduction::none, true>>);
        fused.run();
        unfused.run();
        CHECK_THAT(double(fused.value()), Catch::Matchers::WithinRel(double(unfused.value()), tol));
        require_same_grads(fused, unfused, tol);
    }
    SECTION("a two-layer network") {
        auto W2 = xt::xtensor<T, 2>::from_shape({C, C});
        fusegrad_test::fill_uniform(W2, -1, 1, 6);
        auto h = fg::relu(logits);
        auto loss =
            fg::mean(fg::nll(fg::softmax(fg::matmul(h, fg::param<"W2">(W2))), fg::labels<"y">(y)));
        auto fused = fg::compile(loss);
        auto unfused = fg::compile(loss, fg::no_rewrite);
        fused.run();
        unfused.run();
        CHECK_THAT(double(fused.value()), Catch::Matchers::WithinRel(double(unfused.value()), tol));
        require_same_grads(fused, unfused, tol);
        const auto& a = fused.template grad<"W2">();
        const auto& c = unfused.template grad<"W2">();
        for (std::size_t i = 0; i < a.size(); ++i)
            CHECK_THAT(double(a.data()[i]), Catch::Matchers::WithinAbs(double(c.data()[i]), tol));
    }
}

TEST_CASE("the fused graph stays finite at logits where the unfused one overflows to inf",
          "[fusion]") {
    // Row 0: the target's probability underflows to 0 in float, so -log p = inf unfused.
    xt::xtensor<float, 2> S = {{1e4f, -1e4f, 0.f}, {-3.f, 2.f, 5e3f}};
    xt::xtensor<std::int32_t, 1> y = {1, 0};
    auto loss = fg::mean(fg::nll(fg::softmax(fg::param<"s">(S)), fg::labels<"y">(y)));
    auto fused = fg::compile(loss);
    auto unfused = fg::compile(loss, fg::no_rewrite);
    fused.run();
    unfused.run();
    CHECK(std::isinf(unfused.value()));
    // Closed form per row: logsumexp(s) - s_y, with logsumexp = max + log Σ e^{s - max}.
    const long double l0 = 1e4L + std::log1p(std::exp(-2e4L) + std::exp(-1e4L)) - (-1e4L);
    const long double l1 = 5e3L + std::log1p(std::exp(-5003.L) + std::exp(-4998.L)) - (-3.L);
    CHECK_THAT(double(fused.value()), Catch::Matchers::WithinRel(double((l0 + l1) / 2), 1e-6));
    // Gradient: (softmax(s) - onehot(y)) / N, finite everywhere.
    const auto& dS = fused.grad<"s">();
    const float expected[6] = {0.5f, -0.5f, 0.f, -0.5f, 0.f, 0.5f};
    for (std::size_t i = 0; i < 6; ++i) {
        CHECK(std::isfinite(dS.data()[i]));
        CHECK_THAT(double(dS.data()[i]), Catch::Matchers::WithinAbs(double(expected[i]), 1e-6));
    }
}
