// fg::check::gradcheck: passes on correct gradients, fails (and says where) on wrong ones, in
// full and fast mode, for float and double models; options and errors.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <utility>

#include <fusegrad/check/gradcheck.hpp>
#include <fusegrad/fusegrad.hpp>

#include "../compile_cost/models.hpp"

namespace fg = fusegrad;

namespace check_test_ops {  // named: clang warns on unused members of ops in an unnamed namespace

// A deliberately wrong op: forward is 2x, vjp claims 3g. gradcheck must catch it.
struct wrong_double {
    static constexpr std::string_view name = "wrong_double";
    template <std::size_t R>
    static constexpr std::size_t result_rank = R;
    fg::shape infer(const fg::shape& x) const { return x; }
    template <class T>
    void forward(fg::mview<T> out, fg::cview<T> x) const {
        for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = 2 * x.data[i];
    }
    template <class T>
    void vjp(fg::grad_sink<T> dx, fg::cview<T> g, fg::cview<T>, fg::cview<T>) const {
        if (!dx) return;
        for (std::size_t i = 0; i < g.size(); ++i)
            dx.data[i] = 3 * g.data[i] + (dx.accumulate ? dx.data[i] : T(0));
    }
};

// An op whose vjp always accumulates, even when told to overwrite: not reentrant.
struct always_accumulates {
    static constexpr std::string_view name = "always_accumulates";
    template <std::size_t R>
    static constexpr std::size_t result_rank = R;
    fg::shape infer(const fg::shape& x) const { return x; }
    template <class T>
    void forward(fg::mview<T> out, fg::cview<T> x) const {
        for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = x.data[i];
    }
    template <class T>
    void vjp(fg::grad_sink<T> dx, fg::cview<T> g, fg::cview<T>, fg::cview<T>) const {
        if (!dx) return;
        for (std::size_t i = 0; i < g.size(); ++i) dx.data[i] += g.data[i];
    }
};

}  // namespace check_test_ops

namespace {

using namespace check_test_ops;

template <class Op, class X>
auto apply(X x) {
    return fg::node<Op, X>{{}, {x}};
}

template <class A>
void fill(A& a, double lo, double hi, std::uint64_t seed) {
    fg::check::random_stream rng(seed);
    for (auto& x : a) x = static_cast<typename A::value_type>(rng.uniform(lo, hi));
}

}  // namespace

TEST_CASE("gradcheck passes the softmax-regression loss, float model checked in double",
          "[check][gradcheck]") {
    xt::xtensor<float, 2> X({6, 5}), W({5, 4});
    auto b = xt::xtensor<float, 1>::from_shape({4});
    xt::xtensor<std::int32_t, 1> y = {0, 3, 1, 2, 3, 0};
    fill(X, -1, 1, 1);
    fill(W, -1, 1, 2);
    fill(b, -1, 1, 3);
    const xt::xtensor<float, 2> W_before = W;
    auto loss = fg::mean(
        fg::nll(fg::softmax(fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b))),
                fg::labels<"y">(y)));
    const auto report = fg::check::gradcheck(loss);
    INFO(report);
    REQUIRE(report.passed());
    REQUIRE(report.leaves.size() == 2);
    CHECK(report.leaf("W").result.count == 20);
    CHECK(report.leaf("b").result.count == 4);
    CHECK(report.leaf("W").dims == fg::shape::matrix(5, 4));
    CHECK(report.leaf("W").result.max_abs_error < 1e-8);  // in double, far inside the tolerance
    CHECK(report.reentrancy_checked);
    CHECK(report.reentrant);
    CHECK_FALSE(report.rules_fired.empty());  // the checked graph is the fused one
    CHECK(report.value == Approx(fg::value_and_grad(loss).value).epsilon(1e-5));
    CHECK(bool(W == W_before));  // the caller's arrays are untouched
}

TEST_CASE("gradcheck finds a wrong vjp and reports the worst entry", "[check][gradcheck]") {
    xt::xtensor<double, 1> v = {0.5, -1.0, 2.0};
    auto loss = fg::sum(apply<wrong_double>(fg::param<"v">(v)));
    const auto report = fg::check::gradcheck(loss);
    REQUIRE_FALSE(report.passed());
    const auto& l = report.leaf("v");
    CHECK(l.result.failures == 3);
    CHECK(l.result.worst_analytic == Approx(3.0));               // the vjp's claim
    CHECK(l.result.worst_numeric == Approx(2.0).epsilon(1e-8));  // the truth
    CHECK(l.result.max_abs_error == Approx(1.0).epsilon(1e-8));
    CHECK(l.result.max_rel_error == Approx(0.5).epsilon(1e-8));
    std::ostringstream os;
    os << report;
    CHECK_THAT(os.str(), Catch::Contains("FAIL (3 of 3)"));
    CHECK_THAT(os.str(), Catch::Contains("wrong_double(v (3))"));

    fg::check::gradcheck_options fast;
    fast.fast = true;
    CHECK_FALSE(fg::check::gradcheck(loss, fast).passed());

    fg::check::gradcheck_options throwing;
    throwing.throw_on_failure = true;
    CHECK_THROWS_AS(fg::check::gradcheck(loss, throwing), fg::check::gradcheck_error);
    try {
        (void)fg::check::gradcheck(loss, throwing);
    } catch (const fg::check::gradcheck_error& e) {
        CHECK_FALSE(e.report().passed());
        CHECK_THAT(std::string(e.what()), Catch::Contains("FAILED"));
    }
}

TEST_CASE("gradcheck's reentrancy check catches an op that accumulates where it must overwrite",
          "[check][gradcheck]") {
    xt::xtensor<double, 1> v = {0.5, -1.0};
    auto loss = fg::sum(apply<always_accumulates>(fg::param<"v">(v)));
    // The first backward writes into a fresh (zeroed) gradient and is right; the second adds.
    const auto report = fg::check::gradcheck(loss);
    CHECK(report.reentrancy_checked);
    CHECK_FALSE(report.reentrant);
    CHECK_FALSE(report.passed());
    fg::check::gradcheck_options no_reentrancy;
    no_reentrancy.check_reentrancy = false;
    CHECK_FALSE(fg::check::gradcheck(loss, no_reentrancy).reentrancy_checked);
}

TEST_CASE("gradcheck fast mode compares projections and agrees with full mode",
          "[check][gradcheck]") {
    xt::xtensor<double, 2> X({8, 30}), W({30, 10});
    auto b = xt::xtensor<double, 1>::from_shape({10});
    xt::xtensor<std::int64_t, 1> y = {0, 1, 2, 3, 4, 5, 6, 7};
    fill(X, -1, 1, 4);
    fill(W, -0.3, 0.3, 5);
    fill(b, -1, 1, 6);
    auto loss = fg::cross_entropy(
        fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b)), fg::labels<"y">(y));
    fg::check::gradcheck_options opts;
    opts.fast = true;
    opts.projections = 3;
    const auto fast = fg::check::gradcheck(loss, opts);
    INFO(fast);
    REQUIRE(fast.passed());
    CHECK(fast.leaf("W").fast);
    CHECK(fast.leaf("W").result.count == 3);
    CHECK(fast.leaf("W").worst_position().rfind("u·Jv #", 0) == 0);

    opts.leaves = {"b"};  // choose leaves
    const auto only_b = fg::check::gradcheck(loss, opts);
    REQUIRE(only_b.leaves.size() == 1);
    CHECK(only_b.leaves[0].name == "b");

    opts.leaves = {"x"};  // an input, not a param
    CHECK_THROWS_WITH(fg::check::gradcheck(loss, opts),
                      Catch::Contains("\"x\" is not a param leaf") && Catch::Contains("W, b"));
}

TEST_CASE("gradcheck checks a rewrite against the graph it replaced", "[check][gradcheck]") {
    // A rule that is wrong: log(softmax(s)) -> softmax(s). The analytic gradient comes from the
    // rewritten graph, the numeric one from the graph as written, so the check fails.
    using namespace fg::placeholders;
    const auto bad_rule =
        fg::make_rule<fg::pattern<fg::op::log, fg::pattern<fg::op::softmax, _1_t>>>(
            "log(softmax(s)) -> softmax(s) (wrong)", [](const auto& s) { return fg::softmax(s); });
    xt::xtensor<double, 2> S({3, 4});
    fill(S, -2, 2, 7);
    auto loss = fg::sum(fg::log(fg::softmax(fg::param<"s">(S))));
    CHECK_FALSE(fg::check::gradcheck(loss, bad_rule).passed());
    CHECK(fg::check::gradcheck(loss, fg::no_rewrite).passed());
    CHECK(fg::check::gradcheck(loss, fg::default_rules()).passed());
}

TEST_CASE("gradcheck_vjp checks a vector-valued graph through a random projection",
          "[check][gradcheck]") {
    xt::xtensor<double, 2> A({3, 4}), B({4, 2});
    fill(A, -1, 1, 8);
    fill(B, -1, 1, 9);
    auto e = fg::relu(fg::matmul(fg::param<"A">(A), fg::param<"B">(B)));
    const auto r = fg::check::gradcheck_vjp(e);
    INFO(r);
    CHECK(r.passed());
    CHECK(r.leaves.size() == 2);
}

TEST_CASE("gradcheck_model_precision checks the float kernels at float tolerances",
          "[check][gradcheck]") {
    xt::xtensor<float, 2> X({4, 6}), W({6, 3});
    auto b = xt::xtensor<float, 1>::from_shape({3});
    xt::xtensor<std::int32_t, 1> y = {2, 0, 1, 1};
    fill(X, -1, 1, 10);
    fill(W, -1, 1, 11);
    fill(b, -1, 1, 12);
    auto loss = fg::cross_entropy(
        fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b)), fg::labels<"y">(y));
    fg::check::gradcheck_options opts;
    opts.atol = 1e-4;
    opts.rtol = 1e-3;
    const auto r = fg::check::gradcheck_model_precision(loss, opts);
    INFO(r);
    CHECK(r.passed());
    // Float's rounding shows: the errors are far above double's, far below the tolerance.
    CHECK(r.leaf("W").result.max_abs_error > 1e-12);
    CHECK(r.leaf("W").result.max_abs_error < 1e-5);
}

TEST_CASE("gradcheck: one name bound to two arrays is a binding_error", "[check][gradcheck]") {
    xt::xtensor<double, 1> a = {1.0}, b = {2.0};
    auto loss = fg::sum(fg::param<"v">(a)) + fg::sum(fg::param<"v">(b));
    CHECK_THROWS_AS(fg::check::gradcheck(loss), fg::binding_error);
}

TEST_CASE("gradcheck refuses a check that would compare nothing", "[check][gradcheck][errors]") {
    xt::xtensor<double, 1> w = {0.5, -1.0, 2.0};
    auto loss = fg::sum(fg::exp(fg::param<"w">(w)));

    // Fast mode without projections: zero comparisons would make report.passed() true.
    fg::check::gradcheck_options opts;
    opts.fast = true;
    opts.projections = 0;
    CHECK_THROWS_AS(fg::check::gradcheck(loss, opts), std::invalid_argument);
    CHECK_THROWS_WITH(fg::check::gradcheck(loss, opts),
                      Catch::Contains("projections = 0") && Catch::Contains("options.fast"));
    opts.projections = 1;  // one projection is a real check
    CHECK(fg::check::gradcheck(loss, opts).leaf("w").result.count == 1);

    // A graph without param leaves: nothing has a gradient.
    auto no_params = fg::sum(fg::exp(fg::input<"x">(w)));
    CHECK_THROWS_WITH(fg::check::gradcheck(no_params),
                      Catch::Contains("no param leaf") && Catch::Contains("gradcheck"));
    CHECK_THROWS_AS(fg::check::gradcheck_vjp(fg::exp(fg::input<"x">(w))), std::invalid_argument);

    // The only selected leaf is empty: zero entries compared.
    xt::xtensor<double, 1> empty = xt::xtensor<double, 1>::from_shape({0});
    auto with_empty = fg::sum(fg::exp(fg::param<"w">(w))) + fg::sum(fg::param<"e">(empty));
    fg::check::gradcheck_options only_e;
    only_e.leaves = {"e"};
    CHECK_THROWS_WITH(fg::check::gradcheck(with_empty, only_e),
                      Catch::Contains("nothing was compared") && Catch::Contains("e (0)"));
    only_e.leaves = {"e", "w"};  // with a non-empty leaf beside it, the check is real
    CHECK(fg::check::gradcheck(with_empty, only_e).passed());
}

namespace {

// A ReLU MLP of Depth hidden layers (width 32) on a batch of 16 random inputs, He-initialised
// from `seed`, under the textbook loss: what a user checks with the tutorial's fast recipe.
template <int Depth>
struct relu_mlp {
    static constexpr std::size_t batch = 16, in = 20, width = 32, classes = 10;
    xt::xtensor<double, 2> X = xt::xtensor<double, 2>::from_shape({batch, in});
    xt::xtensor<std::int32_t, 1> y = xt::xtensor<std::int32_t, 1>::from_shape({batch});
    xt::xtensor<double, 2> W[Depth + 1];
    xt::xtensor<double, 1> b[Depth + 1];
    explicit relu_mlp(std::uint64_t seed) {
        fg::check::random_stream rng(seed);
        for (auto& x : X) x = rng.normal();
        for (auto& c : y) c = static_cast<std::int32_t>(rng.uniform(0, 1) * classes) % 10;
        for (int l = 0; l <= Depth; ++l) {
            const std::size_t fan_in = l == 0 ? in : width, out = l == Depth ? classes : width;
            W[l] = xt::xtensor<double, 2>::from_shape({fan_in, out});
            b[l] = xt::xtensor<double, 1>::from_shape({out});
            for (auto& w : W[l]) w = rng.normal() * std::sqrt(2.0 / double(fan_in));
            for (auto& v : b[l]) v = 0.1 * rng.normal();
        }
    }
    template <int L, class H>
    auto hidden(const H& h) {
        if constexpr (L == Depth) {
            return h;
        } else {
            return hidden<L + 1>(
                fg::relu(fg::linear(h, fg::param<fusegrad_cost::layer_name<'W', L>()>(W[L]),
                                    fg::param<fusegrad_cost::layer_name<'b', L>()>(b[L]))));
        }
    }
    auto loss() {
        return fg::mean(fg::nll(
            fg::softmax(fg::linear(hidden<0>(fg::input<"x">(X)),
                                   fg::param<fusegrad_cost::layer_name<'W', Depth>()>(W[Depth]),
                                   fg::param<fusegrad_cost::layer_name<'b', Depth>()>(b[Depth]))),
            fg::labels<"y">(y)));
    }
};

// Over 20 seeds: how many fast-mode checks fail, and how many projections were retried.
template <int Depth>
std::pair<int, std::size_t> fast_checks_of_relu_mlp(bool kink_retries) {
    int failed = 0;
    std::size_t retried = 0;
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
        relu_mlp<Depth> m(seed);
        fg::check::gradcheck_options opts;
        opts.fast = true;  // the tutorial's recipe: fast mode, default eps and tolerances
        opts.kink_retries = kink_retries;
        opts.seed = seed;
        const auto r = fg::check::gradcheck(m.loss(), opts);
        failed += !r.passed();
        for (const auto& l : r.leaves) retried += l.kink_retries;
        if (kink_retries && !r.passed())
            UNSCOPED_INFO("depth " << Depth << " seed " << seed << '\n' << r);
    }
    return {failed, retried};
}

}  // namespace

TEST_CASE("gradcheck fast mode passes correct ReLU MLPs of 1 to 16 layers over 20 seeds",
          "[check][gradcheck][kinks]") {
    const std::pair<int, std::size_t> runs[] = {
        fast_checks_of_relu_mlp<1>(true), fast_checks_of_relu_mlp<2>(true),
        fast_checks_of_relu_mlp<4>(true), fast_checks_of_relu_mlp<8>(true),
        fast_checks_of_relu_mlp<16>(true)};
    std::size_t retried = 0;
    for (const auto& [failed, r] : runs) {
        CHECK(failed == 0);
        retried += r;
    }
    // Without the retries the same checks cry wolf: the kinks are really crossed.
    const auto [failed_without, none] = fast_checks_of_relu_mlp<16>(false);
    std::printf(
        "gradcheck kinks: %zu projections retried over 100 ReLU MLP checks; without "
        "retries %d of 20 16-layer checks fail\n",
        retried, failed_without);
    CHECK(none == 0);
    CHECK(retried > 0);
    CHECK(failed_without > 0);
}

TEST_CASE("gradcheck fast mode with kink retries still catches a wrong vjp inside an MLP",
          "[check][gradcheck][kinks]") {
    relu_mlp<2> m(7);
    auto loss = fg::sum(apply<wrong_double>(
        fg::relu(fg::linear(fg::input<"x">(m.X), fg::param<"W">(m.W[0]), fg::param<"b">(m.b[0])))));
    fg::check::gradcheck_options opts;
    opts.fast = true;
    const auto r = fg::check::gradcheck(loss, opts);
    CHECK_FALSE(r.passed());
    CHECK(r.leaf("W").result.failures == opts.projections);
}
