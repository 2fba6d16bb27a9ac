// The same graphs built in libtorch give the same loss and gradients (built only when Torch
// is found; CI installs libtorch-dev so these run there).

#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <random>

#include <fusegrad/fusegrad.hpp>

#include "../support/finite_differences.hpp"
#include "../support/torch.hpp"

namespace fg = fusegrad;

namespace {

using fusegrad_test::check_close;
using fusegrad_test::to_torch;

struct problem {
    static constexpr std::size_t N = 48, D = 12, H = 9, C = 6;
    xt::xtensor<float, 2> X{xt::xtensor<float, 2>::from_shape({N, D})};
    xt::xtensor<float, 2> W1{xt::xtensor<float, 2>::from_shape({D, H})};
    xt::xtensor<float, 2> W2{xt::xtensor<float, 2>::from_shape({H, C})};
    xt::xtensor<float, 2> Wc{xt::xtensor<float, 2>::from_shape({D, C})};
    xt::xtensor<float, 1> b1{xt::xtensor<float, 1>::from_shape({H})};
    xt::xtensor<float, 1> b2{xt::xtensor<float, 1>::from_shape({C})};
    xt::xtensor<float, 2> Y{xt::xtensor<float, 2>::from_shape({N, C})};
    xt::xtensor<std::int64_t, 1> y{xt::xtensor<std::int64_t, 1>::from_shape({N})};

    problem() {
        fusegrad_test::fill_uniform(X, -1, 1, 1);
        fusegrad_test::fill_uniform(W1, -0.5, 0.5, 2);
        fusegrad_test::fill_uniform(W2, -0.5, 0.5, 3);
        fusegrad_test::fill_uniform(Wc, -0.5, 0.5, 4);
        fusegrad_test::fill_uniform(b1, -0.5, 0.5, 5);
        fusegrad_test::fill_uniform(b2, -0.5, 0.5, 6);
        fusegrad_test::fill_uniform(Y, 0, 1, 7);
        for (std::size_t i = 0; i < N; ++i) {
            float s = 0;
            for (std::size_t j = 0; j < C; ++j) s += Y(i, j);
            for (std::size_t j = 0; j < C; ++j) Y(i, j) /= s;
        }
        std::mt19937 rng(8);
        for (auto& v : y) v = static_cast<std::int64_t>(rng() % C);
    }
};

constexpr double tol = 2e-5;

}  // namespace

TEST_CASE("softmax regression with class indices agrees with libtorch", "[torch]") {
    problem p;
    auto loss = fg::mean(fg::nll(
        fg::softmax(fg::linear(fg::input<"x">(p.X), fg::param<"W">(p.Wc), fg::param<"b">(p.b2))),
        fg::labels<"y">(p.y)));
    auto g = fg::compile(loss);
    g.run();

    auto W = to_torch(p.Wc, true), b = to_torch(p.b2, true);
    auto probs = torch::softmax(torch::addmm(b, to_torch(p.X), W), 1);
    auto L = torch::nll_loss(torch::log(probs), to_torch(p.y));  // nll_loss takes log-probabilities
    L.backward();
    CHECK_THAT(double(g.value()), Catch::Matchers::WithinRel(L.item<double>(), tol));
    check_close(g.grad<"W">(), W.grad(), tol);
    check_close(g.grad<"b">(), b.grad(), tol);
}

TEST_CASE("softmax regression with probability targets agrees with libtorch", "[torch]") {
    problem p;
    auto loss = fg::sum(fg::nll(
        fg::softmax(fg::linear(fg::input<"x">(p.X), fg::param<"W">(p.Wc), fg::param<"b">(p.b2))),
        fg::labels<"y">(p.Y)));
    auto g = fg::compile(loss);
    g.run();

    auto W = to_torch(p.Wc, true), b = to_torch(p.b2, true);
    auto probs = torch::softmax(torch::addmm(b, to_torch(p.X), W), 1);
    auto L = -(to_torch(p.Y) * torch::log(probs)).sum();
    L.backward();
    CHECK_THAT(double(g.value()), Catch::Matchers::WithinRel(L.item<double>(), tol));
    check_close(g.grad<"W">(), W.grad(), tol);
    check_close(g.grad<"b">(), b.grad(), tol);
}

TEST_CASE("a two-layer relu network agrees with libtorch", "[torch]") {
    problem p;
    auto hidden =
        fg::relu(fg::linear(fg::input<"x">(p.X), fg::param<"W1">(p.W1), fg::param<"b1">(p.b1)));
    auto loss = fg::mean(
        fg::nll(fg::softmax(fg::linear(hidden, fg::param<"W2">(p.W2), fg::param<"b2">(p.b2))),
                fg::labels<"y">(p.y)));
    auto g = fg::compile(loss);
    g.run();

    auto W1 = to_torch(p.W1, true), b1 = to_torch(p.b1, true), W2 = to_torch(p.W2, true),
         b2 = to_torch(p.b2, true);
    auto h = torch::relu(torch::addmm(b1, to_torch(p.X), W1));
    auto L = torch::nll_loss(torch::log(torch::softmax(torch::addmm(b2, h, W2), 1)), to_torch(p.y));
    L.backward();
    CHECK_THAT(double(g.value()), Catch::Matchers::WithinRel(L.item<double>(), tol));
    check_close(g.grad<"W1">(), W1.grad(), tol);
    check_close(g.grad<"b1">(), b1.grad(), tol);
    check_close(g.grad<"W2">(), W2.grad(), tol);
    check_close(g.grad<"b2">(), b2.grad(), tol);
}

TEST_CASE("matmul, row-broadcast add, log_softmax, exp, log, neg, scale, sum agree with libtorch",
          "[torch]") {
    problem p;
    auto x = fg::input<"x">(p.X);
    auto w = fg::param<"W">(p.Wc);
    auto b = fg::param<"b">(p.b2);
    auto z = fg::matmul(x, w) + b;
    // Exercises every remaining op: 0.5·Σ log_softmax(z) − mean(log(exp(z)))
    auto loss = fg::sum(0.5 * fg::log_softmax(z)) + -fg::mean(fg::log(fg::exp(z)));
    auto g = fg::compile(loss);
    g.run();

    auto W = to_torch(p.Wc, true), bt = to_torch(p.b2, true);
    auto zt = torch::mm(to_torch(p.X), W) + bt;
    auto L = (0.5 * torch::log_softmax(zt, 1)).sum() + -torch::log(torch::exp(zt)).mean();
    L.backward();
    CHECK_THAT(double(g.value()), Catch::Matchers::WithinRel(L.item<double>(), tol));
    check_close(g.grad<"W">(), W.grad(), tol);
    check_close(g.grad<"b">(), bt.grad(), tol);
}

TEST_CASE("double-precision graphs agree with libtorch to double precision", "[torch]") {
    problem p;
    xt::xtensor<double, 2> X = xt::cast<double>(p.X), W = xt::cast<double>(p.Wc);
    xt::xtensor<double, 1> b = xt::cast<double>(p.b2);
    auto loss = fg::mean(
        fg::nll(fg::softmax(fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b))),
                fg::labels<"y">(p.y)));
    auto g = fg::compile(loss);
    g.run();

    auto Wt = to_torch(W, true), bt = to_torch(b, true);
    auto L = torch::nll_loss(torch::log(torch::softmax(torch::addmm(bt, to_torch(X), Wt), 1)),
                             to_torch(p.y));
    L.backward();
    CHECK_THAT(g.value(), Catch::Matchers::WithinRel(L.item<double>(), 1e-12));
    check_close(g.grad<"W">(), Wt.grad(), 1e-12);
    check_close(g.grad<"b">(), bt.grad(), 1e-12);
}
