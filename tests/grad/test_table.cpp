// The flat table (grad/plan.hpp): shared values computed once, deep models and residual chains
// planned one entry per distinct value, and their values and gradients against the graph as
// written and against central differences.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include <fusegrad/fusegrad.hpp>

#include "../compile_cost/models.hpp"
#include "../support/finite_differences.hpp"

namespace fg = fusegrad;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

// Sanitized builds (ASan + UBSan at -O2 -g) spend minutes and gigabytes of compiler memory on
// these deep types; there the models are shallower. The Release build runs the full depths.
#if defined(__SANITIZE_ADDRESS__)
constexpr int mlp_depth = 4, residual_depth = 4;
#else
constexpr int mlp_depth = 16, residual_depth = 12;
#endif

}  // namespace

TEST_CASE("a value shared by two consumers is computed once, after fusion too", "[grad][table]") {
    xt::xtensor<double, 2> S = {{0.5, -1.0, 2.0}, {1.5, 0.25, -0.5}, {0.0, 0.3, -0.2}};
    xt::xtensor<std::int32_t, 1> y = {2, 0, 1};
    auto s = fg::param<"s">(S);
    auto l = fg::nll(fg::softmax(s), fg::labels<"y">(y));
    auto loss = fg::sum(l) + fg::sum(fg::exp(l));  // l is read twice

    // A fused op carries run-time state (its options), and a value with state is keyed by its
    // position: fused at both uses, l would be computed twice. So no rule fires at the shared
    // l, nor the sum fold on either use; softmax and nll run once each.
    using F = decltype(fg::rewrite(loss));
    STATIC_REQUIRE(!fg::contains_op<F, fg::op::softmax_xent<fg::reduction::none>>);
    STATIC_REQUIRE(!fg::contains_op<F, fg::op::softmax_xent<fg::reduction::sum>>);
    auto g = fg::compile(loss);
    STATIC_REQUIRE(decltype(g)::num_values == 8);  // s, softmax, y, nll, sum, exp, sum, add
    CHECK(g.rules_fired().empty());

    {
        fg::kernels::trace_scope trace;
        g.forward();
        CHECK(trace.count("softmax_rows") == 1);
        CHECK(trace.count("nll_index_rows") == 1);
        CHECK(trace.count("softmax_xent_index_rows") +
                  trace.count("softmax_xent_index_rows_fused") ==
              0);
        g.backward();
    }

    // Without sharing, the same loss fuses as before.
    auto unshared = fg::sum(fg::nll(fg::softmax(s), fg::labels<"y">(y)));
    STATIC_REQUIRE(
        fg::contains_op<decltype(fg::rewrite(unshared)), fg::op::softmax_xent<fg::reduction::sum>>);

    auto written = fg::compile(loss, fg::no_rewrite);
    written.run();
    CHECK_THAT(g.value(), WithinRel(written.value(), 1e-14));
    for (std::size_t i = 0; i < S.size(); ++i) {
        CHECK_THAT(g.grad<"s">().data()[i], WithinAbs(written.grad<"s">().data()[i], 1e-13));
        CHECK_THAT(g.grad<"s">().data()[i],
                   WithinAbs(fusegrad_test::central_difference(g, S, i), 1e-7));
    }
}

TEST_CASE("a deep MLP: one entry per value, values and gradients as written", "[grad][table]") {
    constexpr int depth = mlp_depth;
    static fusegrad_cost::weights<depth> w;
    auto x = fg::input<"x">(w.X);
    auto loss = fusegrad_cost::textbook_loss(w, fusegrad_cost::mlp_hidden<0, depth>(w, x));
    auto g = fg::compile(loss);
    auto written = fg::compile(loss, fg::no_rewrite);
    // x, y, 2 params and 2 ops per level, the head's 2 params; as written also linear, softmax,
    // nll, mean; fused: one linear_xent<mean>.
    STATIC_REQUIRE(decltype(written)::num_values == 2 + 4 * depth + 2 + 4);
    STATIC_REQUIRE(decltype(g)::num_values == 2 + 4 * depth + 2 + 1);
    g.run();
    written.run();
    CHECK_THAT(g.value(), WithinRel(written.value(), 1e-13));
    const auto& dW0 = g.grad<"W0">();
    for (std::size_t i = 0; i < dW0.size(); ++i) {
        CHECK_THAT(dW0.data()[i], WithinAbs(written.grad<"W0">().data()[i], 1e-13));
        CHECK_THAT(dW0.data()[i], WithinAbs(fusegrad_test::central_difference(g, w.W[0], i), 1e-7));
    }
}

TEST_CASE("a residual chain: the shared trunk is one value per level", "[grad][table]") {
    constexpr int depth = residual_depth;
    static fusegrad_cost::weights<depth> w;
    auto x = fg::input<"x">(w.X);
    auto loss = fusegrad_cost::textbook_loss(w, fusegrad_cost::residual_hidden<0, depth>(w, x));
    // The tree spells h twice per level (2^depth copies of x); the value holds each of its
    // distinct leaves once (core/node.hpp), so it stays small: one binding per leaf.
    // (A binding: the container, its reader, buffer and shape, and a row window.)
    constexpr std::size_t per_leaf = sizeof(fg::detail::named_binding);
    STATIC_REQUIRE(per_leaf <= 96);
    STATIC_REQUIRE(sizeof(loss) <= per_leaf * (2 * (depth + 1) + 2) + 64);
    auto g = fg::compile(loss);
    // Each level h + relu(linear(h)) adds linear, relu, add and its two params; the head is one
    // linear_xent.
    STATIC_REQUIRE(decltype(g)::num_values == 2 + 5 * depth + 2 + 1);
    g.run();
    auto written = fg::compile(loss, fg::no_rewrite);
    written.run();
    CHECK_THAT(g.value(), WithinRel(written.value(), 1e-13));
    for (int l : {0, depth / 2, depth}) {
        auto& W = w.W[l];
        for (std::size_t i = 0; i < W.size(); i += 3) {
            const double fd = fusegrad_test::central_difference(g, W, i);
            g.run();
            const double analytic =
                l == 0           ? g.grad<"W0">().data()[i]
                : l == depth / 2 ? g.grad<fusegrad_cost::layer_name<'W', depth / 2>()>().data()[i]
                                 : g.grad<fusegrad_cost::layer_name<'W', depth>()>().data()[i];
            CHECK_THAT(analytic, WithinAbs(fd, 1e-7));
        }
    }
}

TEST_CASE("a node is an aggregate: no constructor per node, both spellings build it",
          "[grad][table]") {
    // Compile cost (core/node.hpp): every function instantiated per node costs a mangled name
    // that spells the node's subexpression. A node built by aggregate initialization
    // instantiates no constructor named after it, pure (leaves held flat) or not.
    xt::xtensor<double, 1> A = {1.0, -2.0, 3.0}, B = {0.5, 0.25, -1.0}, C = {2.0, 4.0, -8.0};
    auto a = fg::param<"a">(A);
    auto b = fg::param<"b">(B);
    auto c = fg::param<"c">(C);
    auto pure = fg::relu(a + b);
    auto with_state = fg::relu(2.0 * a);
    STATIC_REQUIRE(fg::is_pure_v<decltype(pure)>);
    STATIC_REQUIRE(!fg::is_pure_v<decltype(with_state)>);
    STATIC_REQUIRE(std::is_aggregate_v<decltype(pure)>);
    STATIC_REQUIRE(std::is_aggregate_v<decltype(with_state)>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<decltype(pure)>);

    // The documented spelling `fg::node<Op, A, B>{op, {a, b}}` builds the same node.
    auto spelled = fg::node<fg::op::add, decltype(a), decltype(b)>{{}, {a, b}};
    STATIC_REQUIRE(std::is_same_v<decltype(spelled), decltype(a + b)>);
    auto g = fg::compile(fg::sum(fg::relu(spelled)));
    g.run();
    CHECK(g.value() == 3.5);  // relu(1.5, -1.75, 2)

    // A pure node's leaves are merged by first appearance: ((a + b) + (c + a)) + (b + c) holds
    // a, b, c; its operands, rebuilt from that store, find theirs at other positions.
    auto n = ((a + b) + (c + a)) + (b + c);
    const auto& last = fg::operand<1>(n);  // b + c: leaves at positions 1 and 2 of n's
    auto first = fg::operand<0>(n);
    const auto& inner = fg::operand<1>(first);  // c + a: leaves at positions 2 and 0
    auto gl = fg::compile(fg::sum(last));
    auto gi = fg::compile(fg::sum(inner));
    auto gn = fg::compile(fg::sum(n));
    gl.run();
    gi.run();
    gn.run();
    CHECK(gl.value() == (0.5 + 0.25 - 1.0) + (2.0 + 4.0 - 8.0));
    CHECK(gi.value() == (2.0 + 4.0 - 8.0) + (1.0 - 2.0 + 3.0));
    CHECK(gn.value() == 2.0 * (2.0 - 0.25 - 2.0));  // 2 (a + b + c)
    CHECK(gn.grad<"a">()(1) == 2.0);

    // A conflict found below (one name, two arrays) stays reported through the nodes above.
    auto conflicting = fg::relu(fg::param<"v">(A) + fg::param<"v">(B)) + c;
    CHECK_THROWS_MATCHES(
        fg::compile(fg::sum(conflicting)), fg::binding_error,
        Catch::Matchers::Message(
            "leaf \"v\" is used with two different arrays; one name is one variable"));
}
