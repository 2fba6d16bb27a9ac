// The compiled graph: planning, common subexpressions, rebinding, and the errors it reports.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include <fusegrad/fusegrad.hpp>

#include "../support/finite_differences.hpp"

namespace fg = fusegrad;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::WithinRel;

TEST_CASE("identical subexpressions are one value, evaluated once, gradients summed",
          "[grad][cse]") {
    xt::xtensor<double, 2> A = {{0.5, -1.0}, {2.0, 0.25}};
    auto a = fg::param<"A">(A);
    // exp(A) appears twice; A three times. Plan: A, exp(A), sum(exp(A)), sum+sum = 4 values.
    auto twice = fg::sum(fg::exp(a)) + fg::sum(fg::exp(a));
    auto g = fg::compile(twice);
    STATIC_REQUIRE(decltype(g)::num_values == 4);
    g.run();
    double expected = 0;
    for (double v : A) expected += 2 * std::exp(v);
    CHECK_THAT(g.value(), WithinRel(expected, 1e-15));
    const auto& dA = g.grad<"A">();
    for (std::size_t i = 0; i < A.size(); ++i)
        CHECK_THAT(dA.data()[i], WithinRel(2 * std::exp(A.data()[i]), 1e-15));
}

TEST_CASE("a leaf name used twice is one variable", "[grad][cse]") {
    xt::xtensor<double, 1> v = {1.0, 2.0, 3.0};
    // Two separately built leaves with the same name and array: one value, one gradient.
    auto g = fg::compile(fg::sum(fg::param<"v">(v)) + fg::mean(fg::param<"v">(v)));
    STATIC_REQUIRE(decltype(g)::num_values == 4);  // v, sum, mean, add
    g.run();
    CHECK_THAT(g.value(), WithinRel(6.0 + 2.0, 1e-15));
    for (double d : g.grad<"v">()) CHECK_THAT(d, WithinRel(1.0 + 1.0 / 3.0, 1e-15));
}

TEST_CASE("nodes with run-time state are never merged by type", "[grad][cse]") {
    xt::xtensor<double, 1> v = {1.0, 2.0};
    auto p = fg::param<"v">(v);
    auto g = fg::compile(fg::sum(2.0 * p) + fg::sum(3.0 * p));  // same types, different factors
    g.run();
    CHECK_THAT(g.value(), WithinRel(15.0, 1e-15));
    for (double d : g.grad<"v">()) CHECK_THAT(d, WithinRel(5.0, 1e-15));
}

TEST_CASE("constants take part in the graph, get no gradient, and are never merged",
          "[grad][cse]") {
    xt::xtensor<double, 1> v = {1.0, 2.0}, c1 = {10.0, 20.0}, c2 = {100.0, 200.0};
    auto p = fg::param<"v">(v);
    // Both constants have the type constant_leaf<double, 1>; they must stay two values.
    auto g = fg::compile(fg::sum(p + fg::constant(c1)) + fg::sum(p + fg::constant(c2)));
    g.run();
    CHECK(g.value() == (11.0 + 22.0) + (101.0 + 202.0));
    for (double d : g.grad<"v">()) CHECK(d == 2.0);
}

TEST_CASE("bind points a leaf at the next batch and re-plans for a new shape", "[grad][bind]") {
    xt::xtensor<float, 2> X1 = {{1.f, 0.f}}, X2 = {{0.f, 1.f}, {1.f, 1.f}, {2.f, 0.f}};
    xt::xtensor<float, 2> W = {{1.f, 2.f}, {3.f, 4.f}};
    auto g = fg::compile(fg::sum(fg::matmul(fg::input<"x">(X1), fg::param<"W">(W))));
    g.run();
    CHECK(g.value() == 3.f);  // [1 0]·W summed
    g.bind<"x">(X2);
    g.run();
    CHECK(g.value() == 7.f + 10.f + 6.f);  // rows of X2·W: [3 4], [4 6], [2 4]
    // dL/dW = X2ᵀ·1: column sums of X2 repeated over W's columns.
    const auto& dW = g.grad<"W">();
    CHECK(dW(0, 0) == 3.f);
    CHECK(dW(0, 1) == 3.f);
    CHECK(dW(1, 0) == 2.f);
    CHECK(dW(1, 1) == 2.f);
}

TEST_CASE("params updated in place are seen by the next run without rebinding", "[grad][bind]") {
    xt::xtensor<double, 1> w = {1.0, 1.0};
    auto g = fg::compile(fg::sum(fg::exp(fg::param<"w">(w))));
    g.run();
    w(0) = 0.0;
    g.run();
    CHECK_THAT(g.value(), WithinRel(1.0 + std::exp(1.0), 1e-15));
}

TEST_CASE("a leaf follows its container when array code moves its buffer or reshapes it",
          "[grad][bind]") {
    xt::xtensor<double, 2> W = {{1.0, 2.0}, {3.0, 4.0}};
    xt::xtensor<double, 2> X = {{1.0, 1.0}};
    auto g = fg::compile(fg::sum(fg::matmul(fg::input<"x">(X), fg::param<"W">(W))));
    g.run();
    CHECK(g.value() == 10.0);
    const double* before = W.data();
    W -= 0.5 * g.grad<"W">();  // xtensor evaluates into a temporary and swaps buffers
    INFO("buffer moved: " << (W.data() != before));
    g.run();
    CHECK(g.value() == 10.0 - 0.5 * 4.0);  // every dL/dW entry was 1 (X is all ones)
    X = xt::xtensor<double, 2>{{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}};  // a new shape, no bind
    g.run();
    CHECK(g.value() == (0.5 + 1.5) + (2.5 + 3.5) + (0.5 + 1.5 + 2.5 + 3.5));
}

TEST_CASE("bind_rows reads a window of a leaf's rows in place, and bind_rows() all of them",
          "[grad][bind]") {
    xt::xtensor<double, 2> X = {{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}, {2.0, 0.0}};
    xt::xtensor<std::int32_t, 1> y = {0, 1, 1, 0};
    xt::xtensor<double, 2> W = {{1.0, 2.0}, {3.0, 4.0}};
    auto g = fg::compile(fg::cross_entropy<fg::reduction::sum>(
        fg::matmul(fg::input<"x">(X), fg::param<"W">(W)), fg::labels<"y">(y)));
    // Each row's loss by hand: logits X·W, loss log(e^a + e^b) − (the label's logit).
    auto row_loss = [](double a, double b, int label) {
        return std::log(std::exp(a) + std::exp(b)) - (label == 0 ? a : b);
    };
    const double l0 = row_loss(1, 2, 0), l1 = row_loss(3, 4, 1), l2 = row_loss(4, 6, 1),
                 l3 = row_loss(2, 4, 0);
    g.run();
    CHECK_THAT(g.value(), WithinRel(l0 + l1 + l2 + l3, 1e-14));
    g.bind_rows<"x">(1, 2);
    g.bind_rows<"y">(1, 2);
    g.run();
    CHECK(g.shape_of(0) == fg::shape::matrix(2, 2));
    CHECK_THAT(g.value(), WithinRel(l1 + l2, 1e-14));
    CHECK(g.array_rows<"x">() == 4);  // the array's rows, not the window's
    CHECK(g.array_rows<"y">() == 4);
    // The window follows the array: a new batch in X is read through it.
    X(1, 0) = 1.0;  // row 1 is now [1 1]: logits [4 6]
    g.run();
    CHECK_THAT(g.value(), WithinRel(row_loss(4, 6, 1) + l2, 1e-14));
    // A window that does not fit names the leaf, the rows and the array.
    g.bind_rows<"x">(3, 2);
    CHECK_THROWS_MATCHES(
        g.run(), fg::shape_error,
        Catch::Matchers::Message("leaf \"x\": bind_rows asks for rows [3, 5) of an array (4, 2) "
                                 "of 4 rows"));
    g.bind_rows<"y">(2, 3);
    g.bind_rows<"x">(2, 2);
    CHECK_THROWS_WITH(g.run(), Contains("leaf \"y\": bind_rows asks for elements [2, 5)"));
    // Without a count: from the first row to the end.
    g.bind_rows<"x">(2);
    g.bind_rows<"y">(2);
    g.run();
    CHECK(g.shape_of(0) == fg::shape::matrix(2, 2));
    CHECK_THAT(g.value(), WithinRel(l2 + l3, 1e-14));
    g.bind_rows<"y">(5);
    CHECK_THROWS_WITH(g.run(), Contains("leaf \"y\": bind_rows asks for elements [5, the end)"));
    // Back to the whole arrays: re-planned for four rows.
    g.bind_rows<"x">();
    g.bind_rows<"y">();
    g.run();
    CHECK(g.shape_of(0) == fg::shape::matrix(4, 2));
    CHECK_THAT(g.value(), WithinRel(l0 + row_loss(4, 6, 1) + l2 + l3, 1e-14));
}

TEST_CASE("replica is a second graph on the same arrays, windows and settings", "[grad][bind]") {
    xt::xtensor<double, 2> X = {{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}};
    xt::xtensor<double, 2> X2 = {{2.0, 2.0}};
    xt::xtensor<double, 2> W = {{1.0, 2.0}, {3.0, 4.0}};
    auto g = fg::compile(fg::sum(fg::matmul(fg::input<"x">(X), fg::param<"W">(W))));
    g.bind<"x">(X2);  // the replica reads what g reads now, not what the expression was built on
    g.check_finite(true);
    g.eval();
    g.set_step(7);
    g.set_batch_offset(5);
    auto r = g.replica();
    CHECK(r.check_finite());
    CHECK(!r.training());
    CHECK(r.step() == 7);
    CHECK(r.batch_offset() == 5);
    r.run();
    CHECK(r.value() == 2.0 * (1 + 2 + 3 + 4));
    g.bind<"x">(X);
    g.bind_rows<"x">(1, 2);
    auto r2 = g.replica();
    r2.run();
    CHECK(r2.value() == (3 + 4) + (4 + 6));  // rows 1 and 2 of X·W
    // Own buffers: running one leaves the other's value alone.
    g.run();
    CHECK(r.value() == 20.0);
    CHECK(g.value() == 17.0);
}

TEST_CASE("dropout with a batch offset draws the rows of the whole batch's mask",
          "[grad][dropout]") {
    xt::xtensor<double, 2> X = xt::ones<double>({6, 50});
    auto out = fg::dropout(fg::input<"x">(X), 0.5, 11);
    auto whole = fg::compile(out);
    whole.forward();
    const double* full = whole.value_view().data;
    auto part = fg::compile(out);
    part.bind_rows<"x">(2, 3);
    part.set_batch_offset(2);
    part.forward();
    const double* p = part.value_view().data;
    bool same_as_rows_2_to_4 = true, same_as_rows_0_to_2 = true;
    for (std::size_t i = 0; i < 150; ++i)
        same_as_rows_2_to_4 = same_as_rows_2_to_4 && p[i] == full[100 + i];
    part.set_batch_offset(0);  // without the offset: the mask of rows 0 to 2, another one
    part.forward();
    p = part.value_view().data;
    for (std::size_t i = 0; i < 150; ++i)
        same_as_rows_0_to_2 = same_as_rows_0_to_2 && p[i] == full[i];
    CHECK(same_as_rows_2_to_4);
    CHECK(same_as_rows_0_to_2);
    bool differ = false;
    for (std::size_t i = 0; i < 150; ++i) differ = differ || full[i] != full[100 + i];
    CHECK(differ);  // (so the two checks above are not the same check)
}

TEST_CASE("float and double graphs both run", "[grad]") {
    xt::xtensor<float, 1> f = {0.f, 1.f};
    xt::xtensor<double, 1> d = {0.0, 1.0};
    auto gf = fg::compile(fg::sum(fg::softmax(fg::param<"p">(f))));
    auto gd = fg::compile(fg::sum(fg::softmax(fg::param<"p">(d))));
    STATIC_REQUIRE(std::is_same_v<decltype(gf)::value_type, float>);
    STATIC_REQUIRE(std::is_same_v<decltype(gd)::value_type, double>);
    gf.run();
    gd.run();
    CHECK_THAT(gf.value(), WithinRel(1.0, 1e-6));
    CHECK_THAT(gd.value(), WithinRel(1.0, 1e-15));
}

TEST_CASE("shape mismatches throw shape_error naming the op and both shapes", "[grad][errors]") {
    xt::xtensor<float, 2> X({32, 785}), W({784, 10}), W9({784, 9}), P({32, 10}), Y({32, 9});
    auto b = xt::xtensor<float, 1>::from_shape({10});
    auto y31 = xt::xtensor<std::int32_t, 1>::from_shape({31});
    X.fill(0.f);
    W.fill(0.f);
    b.fill(0.f);

    auto lin = fg::compile(fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b)));
    CHECK_THROWS_MATCHES(
        lin.forward(), fg::shape_error,
        Catch::Matchers::Message(
            "linear: x has 785 columns but W has 784 rows (x is (32, 785), W is (784, 10))"));

    xt::xtensor<float, 2> X784({32, 784});
    auto lin_b =
        fg::compile(fg::linear(fg::input<"x">(X784), fg::param<"W">(W9), fg::param<"b">(b)));
    CHECK_THROWS_MATCHES(
        lin_b.forward(), fg::shape_error,
        Catch::Matchers::Message(
            "linear: b has 10 entries but W has 9 columns (b is (10), W is (784, 9))"));

    auto mm = fg::compile(fg::matmul(fg::input<"x">(X), fg::param<"W">(W)));
    CHECK_THROWS_MATCHES(
        mm.forward(), fg::shape_error,
        Catch::Matchers::Message(
            "matmul: a has 785 columns but b has 784 rows (a is (32, 785), b is (784, 10))"));

    auto nl = fg::compile(fg::nll(fg::param<"p">(P), fg::labels<"y">(y31)));
    CHECK_THROWS_MATCHES(nl.forward(), fg::shape_error,
                         Catch::Matchers::Message(
                             "nll: p has 32 rows but y has 31 labels (p is (32, 10), y is (31))"));

    auto np = fg::compile(fg::nll(fg::param<"p">(P), fg::labels<"y">(Y)));
    CHECK_THROWS_MATCHES(
        np.forward(), fg::shape_error,
        Catch::Matchers::Message("nll: targets y (32, 9) must have the shape of p (32, 10)"));

    auto b5 = xt::xtensor<float, 1>::from_shape({5});
    auto ad = fg::compile(fg::param<"p">(P) + fg::param<"b">(b5));
    CHECK_THROWS_AS(ad.forward(), fg::shape_error);
    CHECK_THROWS_WITH(ad.forward(), Contains("add: cannot broadcast a (32, 10) with b (5)"));
}

TEST_CASE("a label outside [0, C) throws label_error naming the row and the value",
          "[grad][errors]") {
    xt::xtensor<double, 2> P = {{0.5, 0.5}, {0.5, 0.5}, {0.5, 0.5}};
    xt::xtensor<std::int32_t, 1> y = {0, 1, 2};
    auto g = fg::compile(fg::mean(fg::nll(fg::param<"p">(P), fg::labels<"y">(y))));
    CHECK_THROWS_MATCHES(g.run(), fg::label_error,
                         Catch::Matchers::Message("nll: label y[2] = 2 is outside [0, 2)"));
    y(2) = -1;
    CHECK_THROWS_MATCHES(g.run(), fg::label_error,
                         Catch::Matchers::Message("nll: label y[2] = -1 is outside [0, 2)"));
    // Nothing is lost: with the label fixed the same graph runs.
    y(2) = 1;
    g.run();
    CHECK_THAT(g.value(), WithinRel(std::log(2.0), 1e-15));
}

// The leaves are the caller's arrays, read again by the backward: labels or indices changed
// after forward() are checked again there, not used to index out of bounds.
TEST_CASE("labels and indices changed between forward() and backward() throw label_error",
          "[grad][errors]") {
    xt::xtensor<double, 2> S = {{0.5, -1.0, 2.0}, {0.0, 0.25, -0.5}};
    xt::xtensor<double, 1> cw = {1.0, 2.0, 0.5};
    xt::xtensor<std::int32_t, 1> y = {0, 2};
    auto s = fg::param<"s">(S);
    auto yl = fg::labels<"y">(y);
    const auto expect = [&](auto&& g, const std::string& message) {
        y(0) = 0;
        y(1) = 2;
        g.forward();
        y(1) = 3;
        CHECK_THROWS_MATCHES(g.backward(), fg::label_error, Catch::Matchers::Message(message));
        y(1) = -7;
        CHECK_THROWS_AS(g.backward(), fg::label_error);
        y(1) = 2;  // nothing is lost: with the label fixed the same graph runs
        g.run();
        CHECK(std::isfinite(g.value()));
    };
    expect(fg::compile(fg::sum(fg::nll(fg::softmax(s), yl)), fg::no_rewrite),
           "nll: label y[1] = 3 is outside [0, 3)");
    expect(fg::compile(fg::sum(fg::nll_logp(fg::log_softmax(s), yl)), fg::no_rewrite),
           "nll_logp: label y[1] = 3 is outside [0, 3) and is not ignore_index (-100)");
    expect(fg::compile(fg::nll_loss(fg::log_softmax(s), yl), fg::no_rewrite),
           "nll_loss: label y[1] = 3 is outside [0, 3) and is not ignore_index (-100)");
    expect(fg::compile(fg::cross_entropy(s, yl)), "softmax_xent: label y[1] = 3 is outside [0, 3)");
    expect(fg::compile(fg::cross_entropy(s, yl, fg::constant(cw))),
           "softmax_xent: label y[1] = 3 is outside [0, 3)");
    xt::xtensor<double, 2> X = {{1.0, -2.0}, {0.5, 0.5}};
    xt::xtensor<double, 2> W = {{0.1, 0.2, 0.3}, {-0.3, 0.2, 0.1}};
    xt::xtensor<double, 1> b = {0.0, 0.1, -0.1};
    expect(fg::compile(fg::linear_cross_entropy(fg::param<"x">(X), fg::param<"W">(W),
                                                fg::param<"b">(b), yl)),
           "linear_xent: label y[1] = 3 is outside [0, 3)");
    // embedding's indices (a table of 3 rows), through a graph whose only gradient is the table's
    xt::xtensor<double, 2> table = {{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}};
    expect(fg::compile(fg::sum(fg::embedding(fg::param<"T">(table), yl))),
           "embedding: index idx[1] = 3 is outside [0, 3)");
}

TEST_CASE("misuses of a graph throw with a message saying what to do", "[grad][errors]") {
    xt::xtensor<double, 1> a = {1.0}, b = {2.0};
    CHECK_THROWS_MATCHES(
        fg::compile(fg::param<"v">(a) + fg::param<"v">(b)), fg::binding_error,
        Catch::Matchers::Message(
            "leaf \"v\" is used with two different arrays; one name is one variable"));
    auto g = fg::compile(fg::sum(fg::param<"v">(a)));
    CHECK_THROWS_WITH(g.backward(), Contains("call forward() (or run()) first"));
    CHECK_THROWS_WITH(g.value(), Contains("call forward() (or run()) first"));
    g.forward();
    xt::xtensor<double, 1> wrong_seed = {1.0, 2.0};
    CHECK_THROWS_AS(g.backward(fg::cview<double>{wrong_seed.data(), fg::shape::vector(2)}),
                    fg::shape_error);
}

TEST_CASE("a graph that shape-errors recovers once the bindings fit", "[grad][errors]") {
    xt::xtensor<double, 2> bad({2, 3}), good({2, 2}), W = {{1.0, 0.0}, {0.0, 1.0}};
    bad.fill(1.0);
    good.fill(1.0);
    auto g = fg::compile(fg::sum(fg::matmul(fg::input<"x">(bad), fg::param<"W">(W))));
    CHECK_THROWS_AS(g.run(), fg::shape_error);
    g.bind<"x">(good);
    g.run();
    CHECK(g.value() == 4.0);
}

TEST_CASE("params of every rank and ops with and without state each keep their own", "[grad]") {
    // The graph keeps params' gradients in one array per rank and an op object only for ops
    // with state (the two slopes, the factor); the stateless ops share one object per type.
    // Values by hand: leaky_relu(M, 0.2) sums to 1 − 0.4 − 0.6 + 4 = 4, 3v to 9,
    // leaky_relu(N, 0.5) to −0.5 + 2 = 1.5, s·w to 2 − 6 = −4.
    xt::xtensor<double, 2> M = {{1.0, -2.0}, {-3.0, 4.0}}, N = {{-1.0, 2.0}};
    xt::xtensor<double, 1> v = {1.0, 2.0}, w = {1.0, -3.0};
    xt::xtensor<double, 0> s = 2.0;
    auto loss = fg::sum(fg::leaky_relu(fg::param<"M">(M), 0.2)) + fg::sum(3.0 * fg::param<"v">(v)) +
                fg::sum(fg::leaky_relu(fg::param<"N">(N), 0.5)) +
                fg::sum(fg::param<"s">(s) * fg::param<"w">(w));
    auto g = fg::compile(loss);
    g.run();
    CHECK_THAT(g.value(), WithinRel(10.5, 1e-15));
    CHECK(g.grad<"M">() == xt::xtensor<double, 2>{{1.0, 0.2}, {0.2, 1.0}});
    CHECK(g.grad<"N">() == xt::xtensor<double, 2>{{0.5, 1.0}});
    CHECK(g.grad<"v">() == xt::xtensor<double, 1>{3.0, 3.0});
    CHECK(g.grad<"w">() == xt::xtensor<double, 1>{2.0, 2.0});
    CHECK(g.grad<"s">()() == -2.0);
    // The same buffers by name, and a second run with new values reuses them.
    CHECK(g.param_grad("s").data == g.grad<"s">().data());
    CHECK(g.param_grad("N").data == g.grad<"N">().data());
    const double* dM = g.grad<"M">().data();
    M(0, 0) = -1.0;
    s() = -1.0;
    g.run();
    CHECK_THAT(g.value(), WithinRel(10.5 - 1.2 + 6.0, 1e-15));  // −0.2 for 1; s·w sums to 2
    CHECK(g.grad<"M">().data() == dM);
    CHECK(g.grad<"M">()(0, 0) == 0.2);
    CHECK(g.grad<"w">() == xt::xtensor<double, 1>{-1.0, -1.0});
}

TEST_CASE("param_grad(name) is grad<Name>() chosen at run time", "[grad]") {
    xt::xtensor<double, 2> X = {{1.0, -2.0}, {0.5, 3.0}};
    xt::xtensor<double, 2> W = {{0.1, 0.2}, {-0.3, 0.4}};
    xt::xtensor<double, 1> b = {0.05, -0.05};
    auto loss =
        fg::sum(fg::relu(fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b))));
    auto g = fg::compile(loss);
    STATIC_REQUIRE(decltype(g)::num_params == 2);
    STATIC_REQUIRE(decltype(g)::param_names[0] == "W");
    STATIC_REQUIRE(decltype(g)::param_names[1] == "b");
    CHECK_THROWS_WITH(g.param_grad("W"), Contains("no gradients yet"));
    g.run();
    const auto dW = g.param_grad("W");
    REQUIRE(dW.dims == fg::shape::matrix(2, 2));
    for (std::size_t i = 0; i < 4; ++i) CHECK(dW.data[i] == g.grad<"W">().data()[i]);
    CHECK(g.param_grad("b").data == g.grad<"b">().data());
    CHECK_THROWS_AS(g.param_grad("x"), std::invalid_argument);  // an input, not a param
    CHECK_THROWS_WITH(g.param_grad("w"), Contains("no param named \"w\""));
}

TEST_CASE("grad<Name>() before a backward throws as value() does", "[grad][errors]") {
    xt::xtensor<double, 1> a = {1.0, 2.0};
    auto g = fg::compile(fg::sum(fg::param<"a">(a)));
    CHECK_THROWS_WITH(g.grad<"a">(), Contains("grad(): no gradients yet"));
    g.forward();
    CHECK_THROWS_AS(g.grad<"a">(), std::logic_error);  // a forward alone computes none
    g.backward();
    CHECK(g.grad<"a">()(1) == 1.0);
    g.forward();  // a forward keeps the last backward's gradients readable
    CHECK(g.param_grad("a").data[0] == 1.0);
    xt::xtensor<double, 1> longer = {1.0, 2.0, 3.0};
    g.bind<"a">(longer);
    g.forward();  // a new shape re-sizes the gradients: none is valid until a backward
    CHECK_THROWS_AS(g.param_grad("a"), std::logic_error);
    g.run();
    CHECK(g.param_grad("a").data[0] == 1.0);
}

TEST_CASE("an empty batch is an error naming the averaging op that reads it", "[grad][errors]") {
    xt::xtensor<float, 2> X = xt::zeros<float>({0, 3}), W = xt::ones<float>({3, 2});
    xt::xtensor<float, 1> b = xt::zeros<float>({2});
    xt::xtensor<std::int32_t, 1> y = xt::zeros<std::int32_t>({0});
    auto g = fg::compile(fg::mean(
        fg::nll(fg::softmax(fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b))),
                fg::labels<"y">(y))));
    CHECK_THROWS_AS(g.run(), fg::shape_error);
    CHECK_THROWS_WITH(g.run(), Contains("linear_xent: operand 0, leaf \"x\", is empty (0, 3)"));
    xt::xtensor<double, 1> none = xt::zeros<double>({0});
    CHECK_THROWS_WITH(fg::compile(fg::mean(fg::param<"e">(none))).run(),
                      Contains("mean: operand 0, leaf \"e\", is empty (0): an average over "
                               "nothing"));
    auto total = fg::compile(fg::sum(fg::param<"e">(none)));  // a sum of nothing is 0
    total.run();
    CHECK(total.value() == 0.0);
    // The graph recovers with a real batch.
    xt::xtensor<float, 2> X1 = xt::ones<float>({1, 3});
    xt::xtensor<std::int32_t, 1> y1 = {1};
    g.bind<"x">(X1);
    g.bind<"y">(y1);
    g.run();
    CHECK(std::isfinite(g.value()));
}

TEST_CASE("check_finite stops at the first op that makes a NaN or inf, and names it",
          "[grad][errors][check_finite]") {
    // Forward: log of a negative number. Off by default: the NaN goes through silently.
    xt::xtensor<double, 1> v = {1.0, -1.0, 2.0};
    auto g = fg::compile(fg::sum(fg::exp(fg::log(fg::param<"v">(v)))), fg::no_rewrite);
    CHECK(!g.check_finite());
    g.run();
    CHECK(std::isnan(g.value()));
    g.check_finite(true);
    CHECK_THROWS_AS(g.run(), fusegrad::value_error);
    CHECK_THROWS_WITH(g.run(), Contains("check_finite: log (value 1) produced nan at element 1") &&
                                   Contains("from finite operands (leaf \"v\""));
    CHECK_THROWS_AS(g.value(), std::logic_error);  // the failed forward left no value
    v(1) = 0.5;                                    // fixed: the graph is usable again
    g.run();
    CHECK(std::isfinite(g.value()));

    // A non-finite input is named as such, not blamed on the op that reads it.
    v(2) = std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH(g.forward(), Contains("leaf \"v\" holds inf at element 2"));
    v(2) = 2.0;

    // Backward: sqrt is finite at 0, its derivative is not.
    xt::xtensor<double, 1> w = {4.0, 0.0};
    auto h = fg::compile(fg::sum(fg::sqrt(fg::param<"w">(w))));
    h.check_finite(true);
    h.forward();
    CHECK(h.value() == 2.0);
    CHECK_THROWS_WITH(h.backward(), Contains("the backward of sqrt (value 1) wrote a gradient of "
                                             "inf at element 1") &&
                                        Contains("leaf \"w\""));
}

TEST_CASE("check_finite: nll given logits instead of probabilities says so",
          "[grad][errors][check_finite]") {
    xt::xtensor<double, 2> s = {{2.0, -1.0}, {0.5, 0.3}};
    xt::xtensor<std::int32_t, 1> y = {0, 1};
    auto logits = fg::compile(fg::mean(fg::nll(fg::param<"s">(s), fg::labels<"y">(y))));
    logits.run();  // off by default: a meaningless value, silently
    logits.check_finite(true);
    CHECK_THROWS_AS(logits.run(), fusegrad::value_error);
    CHECK_THROWS_WITH(logits.run(), Contains("check_finite: nll (value") &&
                                        Contains("p[0, 0] = 2.0") &&
                                        Contains("fg::cross_entropy(logits, y)"));
    xt::xtensor<double, 2> half = {{0.5, 0.4}, {0.5, 0.5}};  // in [0, 1], a row sums to 0.9
    auto rows = fg::compile(fg::mean(fg::nll(fg::param<"p">(half), fg::labels<"y">(y))));
    rows.check_finite(true);
    CHECK_THROWS_WITH(rows.run(), Contains("row 0 of p sums to 0.9"));
    // softmax's output passes.
    auto good = fg::compile(fg::mean(fg::nll(fg::softmax(fg::param<"s">(s)), fg::labels<"y">(y))),
                            fg::no_rewrite);
    good.check_finite(true);
    good.run();
    CHECK(std::isfinite(good.value()));
}
