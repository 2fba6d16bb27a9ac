// Every op's vector-Jacobian product against central finite differences in double.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <fusegrad/fusegrad.hpp>

#include "../support/finite_differences.hpp"

namespace fg = fusegrad;
using fusegrad_test::check_vjp;
using fusegrad_test::fill_uniform;
using M = xt::xtensor<double, 2>;
using V = xt::xtensor<double, 1>;

TEST_CASE("matmul vjp matches finite differences", "[ops][vjp]") {
    M A({3, 4}), B({4, 5});
    fill_uniform(A, -1, 1, 1);
    fill_uniform(B, -1, 1, 2);
    auto g = fg::compile(fg::matmul(fg::param<"A">(A), fg::param<"B">(B)));
    check_vjp<"A">(g, A, 10);
    check_vjp<"B">(g, B, 11);
}

TEST_CASE("matmul of a param with itself accumulates both uses", "[ops][vjp]") {
    M A({4, 4});
    fill_uniform(A, -1, 1, 3);
    auto a = fg::param<"A">(A);
    auto g = fg::compile(fg::matmul(a, a));
    check_vjp<"A">(g, A, 12);
}

TEST_CASE("add vjp: equal shapes, row broadcast, scalar broadcast, same operand twice",
          "[ops][vjp]") {
    M A({3, 4}), B({3, 4});
    auto b = V::from_shape({4});
    xt::xtensor<double, 0> s;
    fill_uniform(A, -1, 1, 4);
    fill_uniform(B, -1, 1, 5);
    fill_uniform(b, -1, 1, 6);
    s() = 0.3;
    auto a = fg::param<"A">(A);
    {
        auto g = fg::compile(a + fg::param<"B">(B));
        check_vjp<"A">(g, A, 13);
        check_vjp<"B">(g, B, 14);
    }
    {
        auto g = fg::compile(a + fg::param<"b">(b));
        check_vjp<"A">(g, A, 15);
        check_vjp<"b">(g, b, 16);
    }
    {
        auto g = fg::compile(fg::param<"s">(s) + a);  // the builder puts the matrix first
        check_vjp<"A">(g, A, 17);
        check_vjp<"s">(g, s, 18);
    }
    {
        auto g = fg::compile(a + a);
        check_vjp<"A">(g, A, 19);
    }
}

TEST_CASE("linear vjp matches finite differences", "[ops][vjp]") {
    M X({5, 3}), W({3, 4});
    auto b = V::from_shape({4});
    fill_uniform(X, -1, 1, 7);
    fill_uniform(W, -1, 1, 8);
    fill_uniform(b, -1, 1, 9);
    auto g = fg::compile(fg::linear(fg::param<"X">(X), fg::param<"W">(W), fg::param<"b">(b)));
    check_vjp<"X">(g, X, 20);
    check_vjp<"W">(g, W, 21);
    check_vjp<"b">(g, b, 22);
}

TEST_CASE("softmax and log_softmax vjps match finite differences", "[ops][vjp]") {
    M A({4, 6});
    auto v = V::from_shape({7});
    fill_uniform(A, -3, 3, 23);
    fill_uniform(v, -3, 3, 24);
    {
        auto g = fg::compile(fg::softmax(fg::param<"A">(A)));
        check_vjp<"A">(g, A, 25);
    }
    {
        auto g = fg::compile(fg::softmax(fg::param<"v">(v)));
        check_vjp<"v">(g, v, 26);
    }
    {
        auto g = fg::compile(fg::log_softmax(fg::param<"A">(A)));
        check_vjp<"A">(g, A, 27);
    }
    {
        auto g = fg::compile(fg::log_softmax(fg::param<"v">(v)));
        check_vjp<"v">(g, v, 28);
    }
}

TEST_CASE("elementwise vjps: exp, log, relu, neg, scale", "[ops][vjp]") {
    M A({3, 5}), P({3, 5}), R({3, 5});
    fill_uniform(A, -2, 2, 29);
    fill_uniform(P, 0.2, 3, 30);  // log needs positive inputs
    fill_uniform(R, 0.1, 1, 31);  // relu: keep clear of the kink at 0 ...
    for (std::size_t i = 0; i < R.size(); i += 2) R.data()[i] = -R.data()[i];  // ... on both sides
    {
        auto g = fg::compile(fg::exp(fg::param<"A">(A)));
        check_vjp<"A">(g, A, 32);
    }
    {
        auto g = fg::compile(fg::log(fg::param<"P">(P)));
        check_vjp<"P">(g, P, 33);
    }
    {
        auto g = fg::compile(fg::relu(fg::param<"R">(R)));
        check_vjp<"R">(g, R, 34);
    }
    {
        auto g = fg::compile(-fg::param<"A">(A));
        check_vjp<"A">(g, A, 35);
    }
    {
        auto g = fg::compile(2.5 * fg::param<"A">(A));
        check_vjp<"A">(g, A, 36);
    }
    {
        auto a = fg::param<"A">(A);
        auto g = fg::compile(a - fg::exp(a));
        check_vjp<"A">(g, A, 37);
    }
}

TEST_CASE("sum and mean vjps match finite differences", "[ops][vjp]") {
    M A({3, 5});
    fill_uniform(A, -2, 2, 38);
    {
        auto g = fg::compile(fg::sum(fg::param<"A">(A)));
        check_vjp<"A">(g, A, 39);
    }
    {
        auto g = fg::compile(fg::mean(fg::param<"A">(A)));
        check_vjp<"A">(g, A, 40);
    }
}

TEST_CASE("nll vjp with class indices and with probability targets", "[ops][vjp]") {
    M P({4, 3}), Y({4, 3});
    fill_uniform(P, 0.1, 1, 41);  // any positive p is in the domain of -log
    fill_uniform(Y, 0, 1, 42);
    Y(1, 2) = 0.0;  // a zero target: contributes nothing, whatever p is
    xt::xtensor<std::int32_t, 1> y = {2, 0, 1, 1};
    {
        auto g = fg::compile(fg::nll(fg::param<"P">(P), fg::labels<"y">(y)));
        check_vjp<"P">(g, P, 43);
    }
    {
        auto g = fg::compile(fg::nll(fg::param<"P">(P), fg::param<"Y">(Y)));
        check_vjp<"P">(g, P, 44);
        check_vjp<"Y">(g, Y, 45);
    }
    {
        xt::xtensor<std::int64_t, 1> y64 = {2, 0, 1, 1};
        auto g = fg::compile(fg::mean(fg::nll(fg::param<"P">(P), fg::labels<"y">(y64))));
        check_vjp<"P">(g, P, 46);
    }
}

TEST_CASE("a two-layer network's gradients match finite differences", "[ops][vjp]") {
    M X({6, 4}), W1({4, 5}), W2({5, 3});
    auto b1 = V::from_shape({5});
    auto b2 = V::from_shape({3});
    fill_uniform(X, -1, 1, 47);
    fill_uniform(W1, -1, 1, 48);
    fill_uniform(W2, -1, 1, 49);
    fill_uniform(b1, -1, 1, 50);
    fill_uniform(b2, -1, 1, 51);
    xt::xtensor<std::int32_t, 1> y = {0, 1, 2, 2, 1, 0};
    auto h = fg::relu(fg::linear(fg::input<"X">(X), fg::param<"W1">(W1), fg::param<"b1">(b1)));
    auto loss = fg::mean(fg::nll(
        fg::softmax(fg::linear(h, fg::param<"W2">(W2), fg::param<"b2">(b2))), fg::labels<"y">(y)));
    auto g = fg::compile(loss);
    check_vjp<"W1">(g, W1, 52);
    check_vjp<"b1">(g, b1, 53);
    check_vjp<"W2">(g, W2, 54);
    check_vjp<"b2">(g, b2, 55);
}

TEST_CASE("layer_norm takes a negative eps as PyTorch does, and refuses a non-finite one",
          "[ops][vjp][layer_norm]") {
    // PyTorch's own layer_norm samples use eps = -0.5. Row [1, 2, 3]: mean 2, biased variance
    // 2/3, so var + eps = 1/6 and y = (x - 2) * sqrt(6).
    M X = {{1.0, 2.0, 3.0}, {-4.0, 0.0, 5.0}};
    V gamma = {1.0, 1.0, 1.0}, beta = {0.0, 0.0, 0.0};
    auto g = fg::compile(
        fg::layer_norm(fg::param<"X">(X), fg::param<"g">(gamma), fg::param<"b">(beta), -0.5));
    g.forward();
    const auto y = g.value_view();
    CHECK(y.data[0] == Approx(-std::sqrt(6.0)).epsilon(1e-12));
    CHECK(y.data[1] == Approx(0.0).margin(1e-12));
    CHECK(y.data[2] == Approx(std::sqrt(6.0)).epsilon(1e-12));
    fill_uniform(gamma, 0.5, 1.5, 40);
    fill_uniform(beta, -1, 1, 41);
    check_vjp<"X">(g, X, 42);
    check_vjp<"g">(g, gamma, 43);
    check_vjp<"b">(g, beta, 44);
    for (const double bad :
         {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()})
        CHECK_THROWS_WITH(
            fg::layer_norm(fg::param<"X">(X), fg::param<"g">(gamma), fg::param<"b">(beta), bad),
            Catch::Matchers::Contains("fg::layer_norm: eps must be finite"));
}
