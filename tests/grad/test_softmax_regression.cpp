// Softmax regression: the engine's gradients against the closed forms
//   ∂L/∂W = Xᵀ(A − Y)/N,  ∂L/∂b = column-mean(A − Y),  A = softmax(XW + b),
// computed here with plain loops in long double, independently of the engine.

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <fusegrad/fusegrad.hpp>

#include "../support/finite_differences.hpp"

namespace fg = fusegrad;

namespace {

struct closed_form {
    long double loss = 0;
    std::vector<long double> dW, db;
};

// Y is the N×C target matrix (one-hot for class indices).
template <class T>
closed_form softmax_regression(const xt::xtensor<T, 2>& X, const xt::xtensor<T, 2>& W,
                               const xt::xtensor<T, 1>& b, const std::vector<long double>& Y) {
    const std::size_t N = X.shape()[0], D = X.shape()[1], C = W.shape()[1];
    closed_form r;
    r.dW.assign(D * C, 0);
    r.db.assign(C, 0);
    for (std::size_t i = 0; i < N; ++i) {
        std::vector<long double> z(C);
        long double mx = -INFINITY;
        for (std::size_t j = 0; j < C; ++j) {
            z[j] = b(j);
            for (std::size_t k = 0; k < D; ++k) z[j] += (long double)X(i, k) * W(k, j);
            mx = std::max(mx, z[j]);
        }
        long double den = 0;
        for (auto v : z) den += std::exp(v - mx);
        for (std::size_t j = 0; j < C; ++j) {
            const long double a = std::exp(z[j] - mx) / den, y = Y[i * C + j];
            if (y != 0) r.loss -= y * std::log(a) / N;
            for (std::size_t k = 0; k < D; ++k) r.dW[k * C + j] += X(i, k) * (a - y) / N;
            r.db[j] += (a - y) / N;
        }
    }
    return r;
}

}  // namespace

TEMPLATE_TEST_CASE("softmax regression gradients equal X^T(A - Y)/N and colmean(A - Y)",
                   "[grad][softmax_regression]", float, double) {
    using T = TestType;
    const std::size_t N = 32, D = 7, C = 5;
    xt::xtensor<T, 2> X({N, D}), W({D, C});
    auto b = xt::xtensor<T, 1>::from_shape({C});
    fusegrad_test::fill_uniform(X, -1, 1, 100);
    fusegrad_test::fill_uniform(W, -0.5, 0.5, 101);
    fusegrad_test::fill_uniform(b, -0.5, 0.5, 102);
    const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;

    SECTION("class indices") {
        auto y = xt::xtensor<std::int32_t, 1>::from_shape({N});
        std::mt19937 rng(103);
        std::vector<long double> Y(N * C, 0);
        for (std::size_t i = 0; i < N; ++i) {
            y(i) = static_cast<std::int32_t>(rng() % C);
            Y[i * C + y(i)] = 1;
        }
        auto loss = fg::mean(fg::nll(
            fg::softmax(fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b))),
            fg::labels<"y">(y)));
        auto graph = fg::compile(loss);
        graph.run();
        const auto expected = softmax_regression(X, W, b, Y);
        CHECK_THAT(double(graph.value()), Catch::Matchers::WithinRel(double(expected.loss), tol));
        const auto& dW = graph.template grad<"W">();
        const auto& db = graph.template grad<"b">();
        REQUIRE(dW.shape() == W.shape());
        REQUIRE(db.shape() == b.shape());
        for (std::size_t i = 0; i < D * C; ++i)
            CHECK_THAT(double(dW.data()[i]),
                       Catch::Matchers::WithinAbs(double(expected.dW[i]), tol));
        for (std::size_t j = 0; j < C; ++j)
            CHECK_THAT(double(db(j)), Catch::Matchers::WithinAbs(double(expected.db[j]), tol));
    }

    SECTION("probability targets") {
        xt::xtensor<T, 2> Yt({N, C});
        fusegrad_test::fill_uniform(Yt, 0, 1, 104);
        for (std::size_t i = 0; i < N; ++i) {  // normalise each row to a distribution
            T s = 0;
            for (std::size_t j = 0; j < C; ++j) s += Yt(i, j);
            for (std::size_t j = 0; j < C; ++j) Yt(i, j) /= s;
        }
        std::vector<long double> Y(Yt.begin(), Yt.end());
        auto loss = fg::mean(fg::nll(
            fg::softmax(fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b))),
            fg::labels<"y">(Yt)));
        auto [value, graph] = fg::value_and_grad(loss);
        const auto expected = softmax_regression(X, W, b, Y);
        CHECK_THAT(double(value), Catch::Matchers::WithinRel(double(expected.loss), tol));
        const auto& dW = graph.template grad<"W">();
        for (std::size_t i = 0; i < D * C; ++i)
            CHECK_THAT(double(dW.data()[i]),
                       Catch::Matchers::WithinAbs(double(expected.dW[i]), tol));
        const auto& db = graph.template grad<"b">();
        for (std::size_t j = 0; j < C; ++j)
            CHECK_THAT(double(db(j)), Catch::Matchers::WithinAbs(double(expected.db[j]), tol));
    }
}
