// run()'s fused forward-and-vjp (docs/design.md, "Fused forward and vjp"): softmax_xent writes
// its logits' gradient during run()'s forward and finishes it in the backward. Every test runs
// one graph both ways, run() and forward() + backward() (which never fuses), proves with the
// kernel trace which path ran, and requires the same value and gradients within 16 ulps of the
// element type: the value relatively, the gradient norm-wise (relative to its largest entry, as
// T_i softmax_ij − t_ij cancels), the two paths rounding the same real numbers in a different
// order. The double graphs are also checked against central finite differences of the value,
// so the fused path is not only compared with the path it replaces.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <fusegrad/fusegrad.hpp>

#include "../support/finite_differences.hpp"

namespace fg = fusegrad;
using fg::reduction;
using fusegrad_test::fill_uniform;

namespace {

constexpr std::size_t N = 9, C = 5;  // odd sizes

// 16 ulps of 1: a few roundings of C = 5 terms and of SIMD exp/log on each path (the worst seen
// is 1.3 ulps in Release, 6.9 under ASan+UBSan, which compiles the kernels differently).
template <class T>
constexpr double tolerance = 16 * double(std::numeric_limits<T>::epsilon());

template <class I>
xt::xtensor<I, 1> make_labels(std::optional<I> ignored = {}) {
    xt::xtensor<I, 1> y = {0, 1, 2, 3, 4, 2, 1, 4, 3};
    if (ignored) y(3) = y(7) = *ignored;
    return y;
}

template <class T>
xt::xtensor<T, 2> make_prob_targets(unsigned seed) {
    auto Y = xt::xtensor<T, 2>::from_shape({N, C});
    fill_uniform(Y, 0.05, 1, seed);
    for (std::size_t i = 0; i < N; ++i) {
        T s = 0;
        for (std::size_t j = 0; j < C; ++j) s += Y(i, j);
        for (std::size_t j = 0; j < C; ++j) Y(i, j) /= s;
    }
    return Y;
}

struct kernel_counts {
    std::size_t fused = 0, forward = 0, backward = 0;
};

// Which softmax-xent kernels a call ran.
template <class F>
kernel_counts traced(F&& f) {
    fg::kernels::trace_scope trace;
    f();
    return {
        trace.count("softmax_xent_index_rows_fused") + trace.count("softmax_xent_prob_rows_fused"),
        trace.count("softmax_xent_index_rows") + trace.count("softmax_xent_prob_rows"),
        trace.count("softmax_xent_index_rows_backward") +
            trace.count("softmax_xent_prob_rows_backward")};
}

void require_close(double a, double b, double tol) {
    if (std::isnan(b)) {
        CHECK(std::isnan(a));
    } else {
        CHECK_THAT(a, Catch::Matchers::WithinAbs(b, tol * std::max(1.0, std::abs(b))));
    }
}

template <fg::fixed_string Name, class G>
std::vector<double> grad_of(const G& g) {
    const auto& d = g.template grad<Name>();
    return std::vector<double>(d.begin(), d.end());
}

/// run() fuses (one fused kernel, no backward kernel) iff `fuses`; forward() + backward() never
/// does; both give the same value and gradient of "s" within tolerance<T>.
template <class T, class G>
std::vector<double> require_run_matches_split(G& g, bool fuses) {
    const auto ran = traced([&] { g.run(); });
    CHECK(ran.fused == (fuses ? 1u : 0u));
    CHECK(ran.backward == (fuses ? 0u : ran.forward));
    const double value = g.value();
    const auto fused = grad_of<"s">(g);

    const auto split = traced([&] {
        g.forward();
        g.backward();
    });
    CHECK(split.fused == 0);
    CHECK(split.backward >= 1);
    require_close(value, g.value(), tolerance<T>);
    const auto plain = grad_of<"s">(g);
    REQUIRE(fused.size() == plain.size());
    // Norm-wise: an entry T_i softmax_ij − t_ij cancels, so its error scales with the row's
    // largest terms, not with itself.
    double scale = 1;
    for (double v : plain) scale = std::max(scale, std::abs(v));
    double worst = 0;
    for (std::size_t i = 0; i < fused.size(); ++i) {
        if (std::isnan(plain[i])) {
            CHECK(std::isnan(fused[i]));
        } else {
            worst = std::max(worst, std::abs(fused[i] - plain[i]) / scale);
        }
    }
    INFO("worst difference: " << worst / double(std::numeric_limits<T>::epsilon()) << " ulps");
    CHECK(worst <= tolerance<T>);
    return fused;
}

/// The gradient in s by central differences of the value (double graphs).
template <class G, class A>
void require_matches_finite_differences(G& g, A& S, const std::vector<double>& analytic) {
    const double h = 1e-6;
    for (std::size_t i = 0; i < S.size(); ++i) {
        const double fd = fusegrad_test::central_difference(g, S, i, h);
        CHECK_THAT(analytic[i], Catch::Matchers::WithinAbs(fd, 1e-7 * std::max(1.0, std::abs(fd))));
    }
}

// Every reduction of one softmax_xent over param "s", as a scalar graph: the mean and the sum
// as written and scaled by 3 (an upstream g != 1), the per-row losses through exp and sum (an
// upstream g_i that differs per row).
template <class T, class MakeXent, class Check>
void for_each_reduction(MakeXent make, Check check) {
    SECTION("mean") {
        check(make.template operator()<reduction::mean>());
    }
    SECTION("sum") {
        check(make.template operator()<reduction::sum>());
    }
    SECTION("mean, upstream 3") {
        check(fg::scale(make.template operator()<reduction::mean>(), 3));
    }
    SECTION("sum, upstream 3") {
        check(fg::scale(make.template operator()<reduction::sum>(), 3));
    }
    SECTION("none, upstream exp(loss_i)") {
        check(fg::sum(fg::exp(make.template operator()<reduction::none>())));
    }
}

}  // namespace

TEMPLATE_TEST_CASE(
    "run() fuses softmax_xent's vjp into its forward, with class indices, for "
    "every reduction and option",
    "[grad][fused_vjp]", float, double) {
    using T = TestType;
    auto S = xt::xtensor<T, 2>::from_shape({N, C});
    fill_uniform(S, -3, 3, 11);
    auto w = xt::xtensor<T, 1>::from_shape({C});
    fill_uniform(w, 0.2, 2, 12);
    const auto y32 = make_labels<std::int32_t>(std::int32_t(-100));
    auto y64 = make_labels<std::int64_t>();

    auto check = [&](auto expr) {
        auto g = fg::compile(expr);
        const auto fused = require_run_matches_split<T>(g, true);
        if constexpr (std::is_same_v<T, double>) require_matches_finite_differences(g, S, fused);
    };
    SECTION("plain, int64 labels") {
        for_each_reduction<T>(
            [&]<reduction R>() {
                return fg::cross_entropy<R>(fg::param<"s">(S), fg::labels<"y">(y64));
            },
            check);
    }
    SECTION("ignore_index, label smoothing, int32 labels") {
        const fg::xent_options o{.ignore_index = -100, .label_smoothing = 0.2};
        for_each_reduction<T>(
            [&]<reduction R>() {
                return fg::cross_entropy<R>(fg::param<"s">(S), fg::labels<"y">(y32), o);
            },
            check);
    }
    SECTION("class weights, ignore_index, label smoothing") {
        const fg::xent_options o{.ignore_index = -100, .label_smoothing = 0.1};
        for_each_reduction<T>(
            [&]<reduction R>() {
                return fg::cross_entropy<R>(fg::param<"s">(S), fg::labels<"y">(y32),
                                            fg::input<"w">(w), o);
            },
            check);
    }
    SECTION("mean over all rows") {
        const fg::xent_options o{.ignore_index = -100, .mean_over_all_rows = true};
        check(fg::cross_entropy(fg::param<"s">(S), fg::labels<"y">(y32), o));
    }
}

TEMPLATE_TEST_CASE("run() fuses softmax_xent's vjp with probability targets that need no gradient",
                   "[grad][fused_vjp]", float, double) {
    using T = TestType;
    auto S = xt::xtensor<T, 2>::from_shape({N, C});
    fill_uniform(S, -3, 3, 21);
    auto w = xt::xtensor<T, 1>::from_shape({C});
    fill_uniform(w, 0.2, 2, 22);
    auto Y = make_prob_targets<T>(23);

    auto check = [&](auto expr) {
        auto g = fg::compile(expr);
        const auto fused = require_run_matches_split<T>(g, true);
        if constexpr (std::is_same_v<T, double>) require_matches_finite_differences(g, S, fused);
    };
    SECTION("plain") {
        for_each_reduction<T>(
            [&]<reduction R>() {
                return fg::cross_entropy<R>(fg::param<"s">(S), fg::input<"Y">(Y));
            },
            check);
    }
    SECTION("class weights and label smoothing") {
        const fg::xent_options o{.label_smoothing = 0.3};
        for_each_reduction<T>(
            [&]<reduction R>() {
                return fg::cross_entropy<R>(fg::param<"s">(S), fg::input<"Y">(Y), fg::input<"w">(w),
                                            o);
            },
            check);
    }
}

TEST_CASE("run() does not fuse when the targets need a gradient, and both are still right",
          "[grad][fused_vjp]") {
    auto S = xt::xtensor<double, 2>::from_shape({N, C});
    fill_uniform(S, -3, 3, 31);
    auto Y = make_prob_targets<double>(32);
    auto g = fg::compile(fg::cross_entropy(fg::param<"s">(S), fg::param<"Y">(Y)));
    require_run_matches_split<double>(g, false);
    require_matches_finite_differences(g, S, grad_of<"s">(g));
    // dY = (logsumexp(s_i) − s_ij) / N: the unfused vjp of the targets still runs in run().
    g.run();
    const auto dY = grad_of<"Y">(g);
    for (std::size_t i = 0; i < N; ++i) {
        double mx = -INFINITY, sum = 0;
        for (std::size_t j = 0; j < C; ++j) mx = std::max(mx, S(i, j));
        for (std::size_t j = 0; j < C; ++j) sum += std::exp(S(i, j) - mx);
        for (std::size_t j = 0; j < C; ++j)
            CHECK_THAT(dY[i * C + j],
                       Catch::Matchers::WithinAbs((mx + std::log(sum) - S(i, j)) / N, 1e-14));
    }
}

TEST_CASE("an operand with two consumers: the first writer fuses, the other accumulates",
          "[grad][fused_vjp]") {
    auto S = xt::xtensor<double, 2>::from_shape({N, C});
    fill_uniform(S, -3, 3, 41);
    const auto y = make_labels<std::int64_t>();
    auto s = fg::param<"s">(S);
    auto labels = fg::labels<"y">(y);

    SECTION("softmax_xent writes s's gradient first (the backward meets it first): fused") {
        auto g = fg::compile(fg::sum(fg::scale(s, 0.25)) + fg::cross_entropy(s, labels));
        const auto fused = require_run_matches_split<double>(g, true);
        require_matches_finite_differences(g, S, fused);
    }
    SECTION("another use writes it first, so softmax_xent accumulates: not fused") {
        auto g = fg::compile(fg::cross_entropy(s, labels) + fg::sum(fg::scale(s, 0.25)));
        const auto plain = require_run_matches_split<double>(g, false);
        require_matches_finite_differences(g, S, plain);
    }
    SECTION("two cross-entropies of one s: the first writer fuses, the second accumulates") {
        auto g = fg::compile(fg::cross_entropy(s, labels) +
                             fg::cross_entropy<reduction::sum>(s, labels));
        const auto ran = traced([&] { g.run(); });
        CHECK(ran.fused == 1);
        CHECK(ran.forward == 1);
        CHECK(ran.backward == 1);
        require_matches_finite_differences(g, S, grad_of<"s">(g));
    }
    SECTION("through linear: the fused gradient reaches W and b") {
        auto X = xt::xtensor<double, 2>::from_shape({N, 4});
        auto W = xt::xtensor<double, 2>::from_shape({4, C});
        auto b = xt::xtensor<double, 1>::from_shape({C});
        fill_uniform(X, -1, 1, 42);
        fill_uniform(W, -1, 1, 43);
        fill_uniform(b, -1, 1, 44);
        // As written (the default rules would make it one linear_xent, with no softmax_xent).
        auto g = fg::compile(
            fg::cross_entropy(fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b)),
                              labels),
            fg::no_rewrite);
        const auto ran = traced([&] { g.run(); });
        CHECK(ran.fused == 1);
        CHECK(ran.backward == 0);
        const auto dW = grad_of<"W">(g), db = grad_of<"b">(g);
        g.forward();
        g.backward();
        const auto dW2 = grad_of<"W">(g), db2 = grad_of<"b">(g);
        for (std::size_t i = 0; i < dW.size(); ++i) require_close(dW[i], dW2[i], 1e-15);
        for (std::size_t i = 0; i < db.size(); ++i) require_close(db[i], db2[i], 1e-15);
    }
}

TEST_CASE("backward() again after run() recomputes the same gradient, not a second scaling",
          "[grad][fused_vjp]") {
    auto S = xt::xtensor<double, 2>::from_shape({N, C});
    fill_uniform(S, -3, 3, 51);
    const auto y = make_labels<std::int64_t>();
    auto g = fg::compile(fg::scale(fg::cross_entropy(fg::param<"s">(S), fg::labels<"y">(y)), 3));
    g.run();
    const auto first = grad_of<"s">(g);
    const auto again = traced([&] { g.backward(); });
    CHECK(again.fused == 0);
    CHECK(again.backward == 1);
    const auto second = grad_of<"s">(g);
    for (std::size_t i = 0; i < first.size(); ++i) require_close(second[i], first[i], 1e-15);
}

TEST_CASE("fused, ignored rows keep a gradient of exactly 0 even for an infinite upstream",
          "[grad][fused_vjp]") {
    auto S = xt::xtensor<double, 2>::from_shape({N, C});
    fill_uniform(S, -3, 3, 61);
    const auto y = make_labels<std::int64_t>(std::int64_t(-1));
    const fg::xent_options o{.ignore_index = -1};
    const double inf = std::numeric_limits<double>::infinity();
    auto check_rows = [&](const std::vector<double>& d) {
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t j = 0; j < C; ++j) {
                if (i == 3 || i == 7)
                    CHECK(d[i * C + j] == 0.0);
                else
                    CHECK(std::isinf(d[i * C + j]));  // no t_ij is 1 and no softmax is 0 here
            }
    };
    SECTION("mean") {
        auto g = fg::compile(
            fg::scale(fg::cross_entropy(fg::param<"s">(S), fg::labels<"y">(y), o), inf));
        g.run();
        check_rows(grad_of<"s">(g));
        g.forward();
        g.backward();
        check_rows(grad_of<"s">(g));
    }
    SECTION("none") {
        auto g = fg::compile(fg::sum(fg::scale(
            fg::cross_entropy<reduction::none>(fg::param<"s">(S), fg::labels<"y">(y), o), inf)));
        g.run();
        check_rows(grad_of<"s">(g));
        g.forward();
        g.backward();
        check_rows(grad_of<"s">(g));
    }
}

TEST_CASE("fused, a mean over only ignored rows is NaN with a gradient of 0, as unfused",
          "[grad][fused_vjp]") {
    auto S = xt::xtensor<float, 2>::from_shape({N, C});
    fill_uniform(S, -3, 3, 71);
    xt::xtensor<std::int32_t, 1> y = xt::zeros<std::int32_t>({N});
    y.fill(-100);
    auto g = fg::compile(
        fg::cross_entropy(fg::param<"s">(S), fg::labels<"y">(y), {.ignore_index = -100}));
    const auto fused = require_run_matches_split<float>(g, true);
    CHECK(std::isnan(g.value()));
    for (double d : fused) CHECK(d == 0.0);
}

TEST_CASE("run() still rejects a bad label with its row and value, and recovers",
          "[grad][fused_vjp][errors]") {
    auto S = xt::xtensor<float, 2>::from_shape({N, C});
    fill_uniform(S, -3, 3, 81);
    auto y = make_labels<std::int32_t>();
    y(4) = 7;
    auto g = fg::compile(fg::cross_entropy(fg::param<"s">(S), fg::labels<"y">(y)));
    CHECK_THROWS_MATCHES(
        g.run(), fg::label_error,
        Catch::Matchers::Message("softmax_xent: label y[4] = 7 is outside [0, 5)"));
    CHECK_THROWS_AS(g.backward(), std::logic_error);
    y(4) = 4;
    require_run_matches_split<float>(g, true);
}
