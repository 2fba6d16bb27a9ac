// softmax_xent (fg::cross_entropy) and nll_logp: vjps against central finite differences,
// every option against the equivalent unfused graph (softmax, nll, sum, scale over a target
// matrix built here), extreme and masked logits against closed forms, and the error messages.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fusegrad/fusegrad.hpp>

#include "../support/finite_differences.hpp"

namespace fg = fusegrad;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using fg::reduction;
using fusegrad_test::check_vjp;
using fusegrad_test::fill_uniform;

namespace {

using M = xt::xtensor<double, 2>;
using V = xt::xtensor<double, 1>;
using Labels = xt::xtensor<std::int64_t, 1>;

constexpr std::size_t N = 9, C = 5;  // odd sizes

/// Labels in [0, C) with every class present, and rows 3 and 7 set to `ignored` if given.
Labels make_labels(std::optional<std::int64_t> ignored = {}) {
    Labels y = {0, 1, 2, 3, 4, 2, 1, 4, 3};
    if (ignored) y(3) = y(7) = *ignored;
    return y;
}

/// Rows of positive values summing to 1.
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

/// The target matrix an option set stands for, from PyTorch's definitions, built by hand:
/// weights × ((1 - ε) one-hot + ε / C) per row, a zero row where the label is ignored.
template <class T>
xt::xtensor<T, 2> equivalent_targets(const Labels& y, const xt::xtensor<T, 1>* w, double eps,
                                     std::optional<std::int64_t> ignore) {
    xt::xtensor<T, 2> Yeq = xt::zeros<T>({N, C});
    for (std::size_t i = 0; i < N; ++i) {
        if (ignore && y(i) == *ignore) continue;
        const auto k = static_cast<std::size_t>(y(i));
        for (std::size_t j = 0; j < C; ++j) {
            const double wj = w ? double((*w)(j)) : 1.0;
            Yeq(i, j) = static_cast<T>(wj * (eps / C + (j == k ? 1 - eps : 0.0)));
        }
    }
    return Yeq;
}
template <class T>
xt::xtensor<T, 2> equivalent_targets(const xt::xtensor<T, 2>& Y, const xt::xtensor<T, 1>* w,
                                     double eps) {
    xt::xtensor<T, 2> Yeq = Y;
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < C; ++j)
            Yeq(i, j) =
                static_cast<T>((w ? double((*w)(j)) : 1.0) * ((1 - eps) * Y(i, j) + eps / C));
    return Yeq;
}

/// A mean's divisor: the weight of the rows not ignored.
template <class T>
double weight_total(const Labels& y, const xt::xtensor<T, 1>* w,
                    std::optional<std::int64_t> ignore) {
    double d = 0;
    for (std::size_t i = 0; i < N; ++i)
        if (!(ignore && y(i) == *ignore)) d += w ? double((*w)(static_cast<std::size_t>(y(i)))) : 1;
    return d;
}

/// Runs both graphs (forward and backward with the same seed) and compares values and grad<"s">.
template <class G1, class G2>
void require_same(G1& fused, G2& unfused, double tol) {
    fused.forward();
    unfused.forward();
    const auto a = fused.value_view(), b = unfused.value_view();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        INFO("value " << i);
        CHECK_THAT(double(a.data[i]),
                   WithinAbs(double(b.data[i]), tol * (1 + std::abs(b.data[i]))));
    }
    using T = typename G1::value_type;
    const auto u = fusegrad_test::normal_vector(a.size(), 77);
    const std::vector<T> seed(u.begin(), u.end());
    fused.backward(fg::cview<T>{seed.data(), a.dims});
    unfused.backward(fg::cview<T>{seed.data(), b.dims});
    const auto& da = fused.template grad<"s">();
    const auto& db = unfused.template grad<"s">();
    REQUIRE(da.size() == db.size());
    for (std::size_t i = 0; i < da.size(); ++i) {
        INFO("grad element " << i);
        CHECK_THAT(double(da.data()[i]), WithinAbs(double(db.data()[i]), tol));
    }
}

template <class T>
double tol() {
    return std::is_same_v<T, float> ? 2e-6 : 1e-13;
}

}  // namespace

// ---- vjps against finite differences (double) --------------------------------------------------

TEST_CASE("softmax_xent vjp in s with class indices, every reduction and option",
          "[ops][vjp][softmax_xent]") {
    M S({N, C});
    fill_uniform(S, -3, 3, 101);
    V w = {0.5, 2.0, 1.0, 3.0, 0.25};
    const auto plain = make_labels();
    const auto ignoring = make_labels(-100);
    auto s = fg::param<"s">(S);
    auto t = fg::labels<"y">(plain);
    auto ti = fg::labels<"yi">(ignoring);
    auto cw = fg::constant(w);
    const fg::xent_options smooth{.label_smoothing = 0.2};
    const fg::xent_options ign{.ignore_index = -100};
    const fg::xent_options all{.ignore_index = -100, .label_smoothing = 0.3};
    const fg::xent_options ign_in_range{.ignore_index = 2, .label_smoothing = 0.1};
    unsigned seed = 200;
    auto check = [&](auto expr) {
        auto g = fg::compile(expr);
        check_vjp<"s">(g, S, ++seed);
    };
    SECTION("none") {
        check(fg::cross_entropy<reduction::none>(s, t));
        check(fg::cross_entropy<reduction::none>(s, t, cw));
        check(fg::cross_entropy<reduction::none>(s, ti, ign));
        check(fg::cross_entropy<reduction::none>(s, t, smooth));
        check(fg::cross_entropy<reduction::none>(s, ti, cw, all));
        check(fg::cross_entropy<reduction::none>(s, t, cw, ign_in_range));
    }
    SECTION("sum") {
        check(fg::cross_entropy<reduction::sum>(s, t));
        check(fg::cross_entropy<reduction::sum>(s, t, cw));
        check(fg::cross_entropy<reduction::sum>(s, ti, ign));
        check(fg::cross_entropy<reduction::sum>(s, t, smooth));
        check(fg::cross_entropy<reduction::sum>(s, ti, cw, all));
    }
    SECTION("mean") {
        check(fg::cross_entropy(s, t));
        check(fg::cross_entropy(s, t, cw));
        check(fg::cross_entropy(s, ti, ign));
        check(fg::cross_entropy(s, t, smooth));
        check(fg::cross_entropy(s, ti, cw, all));
        check(fg::cross_entropy(s, t, cw, ign_in_range));
    }
    SECTION("int32 labels") {
        xt::xtensor<std::int32_t, 1> y32 = xt::cast<std::int32_t>(plain);
        check(fg::cross_entropy(s, fg::labels<"y">(y32), cw, smooth));
    }
    SECTION("s used twice accumulates both gradients") {
        check(fg::cross_entropy<reduction::sum>(s, t) + fg::cross_entropy(s, ti, cw, all));
    }
}

TEST_CASE("softmax_xent vjp in s and in probability targets, every reduction and option",
          "[ops][vjp][softmax_xent]") {
    M S({N, C});
    fill_uniform(S, -3, 3, 102);
    M Y = make_prob_targets<double>(103);
    V w = {0.5, 2.0, 1.0, 3.0, 0.25};
    auto s = fg::param<"s">(S);
    auto y = fg::param<"Y">(Y);
    auto cw = fg::input<"w">(w);
    const fg::xent_options smooth{.label_smoothing = 0.2};
    unsigned seed = 300;
    auto check = [&](auto expr) {
        auto g = fg::compile(expr);
        check_vjp<"s">(g, S, ++seed);
        check_vjp<"Y">(g, Y, ++seed);
    };
    SECTION("none") {
        check(fg::cross_entropy<reduction::none>(s, y));
        check(fg::cross_entropy<reduction::none>(s, y, cw));
        check(fg::cross_entropy<reduction::none>(s, y, cw, smooth));
    }
    SECTION("sum") {
        check(fg::cross_entropy<reduction::sum>(s, y));
        check(fg::cross_entropy<reduction::sum>(s, y, smooth));
        check(fg::cross_entropy<reduction::sum>(s, y, cw, smooth));
    }
    SECTION("mean") {
        check(fg::cross_entropy(s, y));
        check(fg::cross_entropy(s, y, cw));
        check(fg::cross_entropy(s, y, cw, smooth));
    }
    SECTION("targets computed by a subgraph (softmax of a param)") {
        M Z({N, C});
        fill_uniform(Z, -1, 1, 104);
        auto g = fg::compile(fg::cross_entropy(s, fg::softmax(fg::param<"Z">(Z)), cw, smooth));
        check_vjp<"s">(g, S, 305);
        check_vjp<"Z">(g, Z, 306);
    }
}

TEST_CASE("nll_logp values and vjps", "[ops][vjp][nll_logp]") {
    M LP({N, C});
    fill_uniform(LP, -4, -0.1, 105);
    M Y = make_prob_targets<double>(106);
    const auto y = make_labels();
    SECTION("class indices: -logp[i, y_i]") {
        auto g = fg::compile(fg::nll_logp(fg::param<"lp">(LP), fg::labels<"y">(y)));
        g.forward();
        const auto v = g.value_view();
        REQUIRE(v.size() == N);
        for (std::size_t i = 0; i < N; ++i)
            CHECK(v.data[i] == -LP(i, static_cast<std::size_t>(y(i))));
        check_vjp<"lp">(g, LP, 401);
    }
    SECTION("probability targets: -Σ_j y_ij logp_ij") {
        auto g = fg::compile(fg::nll_logp(fg::param<"lp">(LP), fg::param<"Y">(Y)));
        g.forward();
        const auto v = g.value_view();
        for (std::size_t i = 0; i < N; ++i) {
            double want = 0;
            for (std::size_t j = 0; j < C; ++j) want -= Y(i, j) * LP(i, j);
            CHECK_THAT(v.data[i], WithinRel(want, 1e-14));
        }
        check_vjp<"lp">(g, LP, 402);
        check_vjp<"Y">(g, Y, 403);
    }
    SECTION("label and shape errors") {
        Labels bad = make_labels();
        bad(4) = 5;
        auto g = fg::compile(fg::nll_logp(fg::input<"lp">(LP), fg::labels<"y">(bad)));
        CHECK_THROWS_MATCHES(
            g.forward(), fg::label_error,
            Catch::Matchers::Message(
                "nll_logp: label y[4] = 5 is outside [0, 5) and is not ignore_index (-100)"));
        auto g1 =
            fg::compile(fg::nll_logp(fg::input<"lp">(LP), fg::labels<"y">(bad), std::nullopt));
        CHECK_THROWS_MATCHES(
            g1.forward(), fg::label_error,
            Catch::Matchers::Message("nll_logp: label y[4] = 5 is outside [0, 5)"));
        Labels short_y = {0, 1};
        auto g2 = fg::compile(fg::nll_logp(fg::input<"lp">(LP), fg::labels<"y">(short_y)));
        CHECK_THROWS_MATCHES(
            g2.forward(), fg::shape_error,
            Catch::Matchers::Message(
                "nll_logp: logp has 9 rows but y has 2 labels (logp is (9, 5), y is (2))"));
    }
}

// ---- every option equals the unfused graph over the equivalent target matrix ------------------

TEMPLATE_TEST_CASE("class-index options equal sum(nll(softmax(s), Yeq)) / D", "[softmax_xent]",
                   float, double) {
    using T = TestType;
    auto S = xt::xtensor<T, 2>::from_shape({N, C});
    fill_uniform(S, -3, 3, 501);
    xt::xtensor<T, 1> w = {0.5, 2.0, 1.0, 3.0, 0.25};
    auto s = fg::param<"s">(S);
    struct variant {
        const char* what;
        bool weighted;
        std::optional<std::int64_t> ignore;
        double eps;
    };
    const variant variants[] = {
        {"plain", false, {}, 0.0},
        {"weights", true, {}, 0.0},
        {"ignore_index out of range", false, -100, 0.0},
        {"ignore_index in range", false, 2, 0.0},
        {"label smoothing", false, {}, 0.15},
        {"weights + smoothing", true, {}, 0.15},
        {"weights + smoothing + ignore_index", true, -100, 0.3},
        {"full smoothing", true, 4, 1.0},
    };
    for (const auto& v : variants) {
        INFO(v.what);
        const Labels y = make_labels(v.ignore && *v.ignore < 0 ? v.ignore : std::nullopt);
        const fg::xent_options opts{.ignore_index = v.ignore, .label_smoothing = v.eps};
        const auto* wp = v.weighted ? &w : nullptr;
        const xt::xtensor<T, 2> Yeq = equivalent_targets<T>(y, wp, v.eps, v.ignore);
        const double D = weight_total<T>(y, wp, v.ignore);
        auto t = fg::labels<"y">(y);
        auto per_row = fg::nll(fg::softmax(s), fg::constant(Yeq));
        auto compare = [&](auto fused_expr, auto unfused_expr) {
            auto fused = fg::compile(fused_expr);
            auto unfused = fg::compile(unfused_expr, fg::no_rewrite);
            require_same(fused, unfused, tol<T>());
        };
        if (v.weighted) {
            auto cw = fg::constant(w);
            compare(fg::cross_entropy<reduction::none>(s, t, cw, opts), per_row);
            compare(fg::cross_entropy<reduction::sum>(s, t, cw, opts), fg::sum(per_row));
            compare(fg::cross_entropy(s, t, cw, opts), fg::scale(fg::sum(per_row), 1 / D));
        } else {
            compare(fg::cross_entropy<reduction::none>(s, t, opts), per_row);
            compare(fg::cross_entropy<reduction::sum>(s, t, opts), fg::sum(per_row));
            compare(fg::cross_entropy(s, t, opts), fg::scale(fg::sum(per_row), 1 / D));
        }
    }
}

TEMPLATE_TEST_CASE("probability-target options equal sum(nll(softmax(s), Yeq)) / N",
                   "[softmax_xent]", float, double) {
    using T = TestType;
    auto S = xt::xtensor<T, 2>::from_shape({N, C});
    fill_uniform(S, -3, 3, 502);
    const auto Y = make_prob_targets<T>(503);
    xt::xtensor<T, 1> w = {0.5, 2.0, 1.0, 3.0, 0.25};
    auto s = fg::param<"s">(S);
    auto y = fg::labels<"Y">(Y);
    for (const bool weighted : {false, true}) {
        for (const double eps : {0.0, 0.25}) {
            INFO("weights " << weighted << ", smoothing " << eps);
            const fg::xent_options opts{.label_smoothing = eps};
            const xt::xtensor<T, 2> Yeq = equivalent_targets<T>(Y, weighted ? &w : nullptr, eps);
            auto per_row = fg::nll(fg::softmax(s), fg::constant(Yeq));
            auto compare = [&](auto fused_expr, auto unfused_expr) {
                auto fused = fg::compile(fused_expr);
                auto unfused = fg::compile(unfused_expr, fg::no_rewrite);
                require_same(fused, unfused, tol<T>());
            };
            if (weighted) {
                auto cw = fg::constant(w);
                compare(fg::cross_entropy<reduction::none>(s, y, cw, opts), per_row);
                compare(fg::cross_entropy<reduction::sum>(s, y, cw, opts), fg::sum(per_row));
                compare(fg::cross_entropy(s, y, cw, opts), fg::mean(per_row));
            } else {
                compare(fg::cross_entropy<reduction::none>(s, y, opts), per_row);
                compare(fg::cross_entropy<reduction::sum>(s, y, opts), fg::sum(per_row));
                compare(fg::cross_entropy(s, y, opts), fg::mean(per_row));
            }
        }
    }
}

TEMPLATE_TEST_CASE("a default-constructed op (what the rewrite builds) is plain cross-entropy",
                   "[softmax_xent]", float, double) {
    using T = TestType;
    auto S = xt::xtensor<T, 2>::from_shape({N, C});
    fill_uniform(S, -3, 3, 504);
    const Labels y = make_labels();
    auto s = fg::param<"s">(S);
    auto t = fg::labels<"y">(y);
    using Node = fg::node<fg::op::softmax_xent<reduction::mean>, decltype(s), decltype(t)>;
    auto fused = fg::compile(Node{{}, {s, t}}, fg::no_rewrite);
    auto unfused = fg::compile(fg::mean(fg::nll(fg::softmax(s), t)), fg::no_rewrite);
    require_same(fused, unfused, tol<T>());
    CHECK(fused.expression().op.describe() == "reduction=mean");
}

TEST_CASE("mean_over_all_rows divides by N, as mean() of the per-row losses does",
          "[softmax_xent]") {
    M S({N, C});
    fill_uniform(S, -3, 3, 505);
    const Labels y = make_labels(-100);
    auto s = fg::param<"s">(S);
    auto t = fg::labels<"y">(y);
    const fg::xent_options opts{.ignore_index = -100, .mean_over_all_rows = true};
    auto fused = fg::compile(fg::cross_entropy(s, t, opts));
    auto unfused = fg::compile(
        fg::mean(fg::cross_entropy<reduction::none>(s, t, fg::xent_options{.ignore_index = -100})),
        fg::no_rewrite);
    require_same(fused, unfused, 1e-14);
    CHECK(fused.expression().op.describe() == "reduction=mean, mean_over_all_rows");
}

// ---- numerics ---------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("logits of ±1e4: the fused loss is finite and equals the closed form",
                   "[softmax_xent]", float, double) {
    using T = TestType;
    xt::xtensor<T, 2> S = {{T(1e4), T(-1e4), T(0), T(9997)},
                           {T(-1e4), T(-1e4), T(-1e4), T(-9999)},
                           {T(5e3), T(-3), T(1e4), T(1e4)}};
    xt::xtensor<std::int32_t, 1> y = {1, 3, 0};
    auto g = fg::compile(fg::cross_entropy<reduction::none>(fg::param<"s">(S), fg::labels<"y">(y)));
    g.forward();
    const std::vector<T> seed = {T(1), T(1), T(1)};
    g.backward(fg::cview<T>{seed.data(), fg::shape::vector(3)});
    const auto v = g.value_view();
    const auto& dS = g.template grad<"s">();
    for (std::size_t i = 0; i < 3; ++i) {
        INFO("row " << i);
        long double mx = S(i, 0), sum = 0;
        for (std::size_t j = 0; j < 4; ++j) mx = std::max<long double>(mx, S(i, j));
        for (std::size_t j = 0; j < 4; ++j) sum += std::exp(static_cast<long double>(S(i, j)) - mx);
        const long double lse = mx + std::log(sum);
        REQUIRE(std::isfinite(v.data[i]));
        const double want = double((mx - S(i, std::size_t(y(i)))) + std::log(sum));
        CHECK_THAT(double(v.data[i]), WithinAbs(want, 1e-7 * (1 + want)));
        for (std::size_t j = 0; j < 4; ++j) {
            REQUIRE(std::isfinite(dS(i, j)));
            const long double p = std::exp(static_cast<long double>(S(i, j)) - lse);
            CHECK_THAT(double(dS(i, j)),
                       WithinAbs(double(p - (j == std::size_t(y(i)) ? 1 : 0)), 1e-6));
        }
    }
    // Row 0's target sits 2e4 below the max: softmax would underflow, the loss does not.
    CHECK_THAT(double(v.data[0]), WithinRel(2e4 + std::log1p(std::exp(-3.0)), 1e-7));
}

TEMPLATE_TEST_CASE(
    "masked classes (-inf logits) have softmax 0: the gradient there is exactly the "
    "-target part",
    "[softmax_xent]", float, double) {
    using T = TestType;
    const T ninf = -std::numeric_limits<T>::infinity();
    xt::xtensor<T, 2> S = {{T(0.5), ninf, T(2), T(-1)}, {ninf, T(1), ninf, T(0)}};
    xt::xtensor<std::int64_t, 1> y = {2, 3};
    auto s = fg::param<"s">(S);
    auto t = fg::labels<"y">(y);
    SECTION("plain: finite loss, zero gradient at masked classes") {
        auto g = fg::compile(fg::cross_entropy<reduction::sum>(s, t));
        g.run();
        REQUIRE(std::isfinite(g.value()));
        // Row 0: lse over {0.5, 2, -1}; row 1: lse over {1, 0}.
        const double l0 = std::log(std::exp(0.5) + std::exp(2.0) + std::exp(-1.0)) - 2.0;
        const double l1 = std::log(std::exp(1.0) + 1.0) - 0.0;
        CHECK_THAT(double(g.value()), WithinRel(l0 + l1, 1e-6));
        const auto& dS = g.template grad<"s">();
        CHECK(dS(0, 1) == T(0));
        CHECK(dS(1, 0) == T(0));
        CHECK(dS(1, 2) == T(0));
        CHECK_THAT(double(dS(1, 3)), WithinAbs(1.0 / (std::exp(1.0) + 1.0) - 1.0, 1e-6));
    }
    SECTION("smoothing: infinite loss, gradient exactly -scale · ε/C at masked classes") {
        auto g = fg::compile(fg::cross_entropy(s, t, fg::xent_options{.label_smoothing = 0.2}));
        g.run();
        CHECK(g.value() == std::numeric_limits<T>::infinity());
        const auto& dS = g.template grad<"s">();
        const T want = -(T(1) / T(2)) * (T(0.2) / T(4));
        CHECK(dS(0, 1) == want);
        CHECK(dS(1, 0) == want);
        CHECK(dS(1, 2) == want);
    }
}

TEST_CASE("a degenerate mean is NaN, as in PyTorch", "[softmax_xent]") {
    M S({N, C});
    fill_uniform(S, -3, 3, 506);
    auto s = fg::param<"s">(S);
    SECTION("every row ignored") {
        Labels y = xt::ones<std::int64_t>({N});
        auto g = fg::compile(fg::cross_entropy(s, fg::labels<"y">(y), {.ignore_index = 1}));
        g.run();
        CHECK(std::isnan(g.value()));
        for (const double d : g.grad<"s">()) CHECK(d == 0.0);  // no row has a gradient
    }
    SECTION("total weight 0") {
        V w = xt::zeros<double>({C});
        const Labels y = make_labels();
        auto g = fg::compile(fg::cross_entropy(s, fg::labels<"y">(y), fg::constant(w)));
        g.run();
        CHECK(std::isnan(g.value()));
        CHECK(std::isnan(g.grad<"s">()(0, 0)));
    }
}

// ---- errors -------------------------------------------------------------------------------------

TEST_CASE("softmax_xent label errors name the row and the range; the graph stays usable",
          "[softmax_xent][errors]") {
    M S({N, C});
    fill_uniform(S, -1, 1, 507);
    Labels y = make_labels();
    y(6) = 5;
    auto g = fg::compile(fg::cross_entropy(fg::param<"s">(S), fg::labels<"y">(y)));
    CHECK_THROWS_MATCHES(
        g.forward(), fg::label_error,
        Catch::Matchers::Message("softmax_xent: label y[6] = 5 is outside [0, 5)"));
    y(6) = 1;
    g.run();
    CHECK(std::isfinite(g.value()));

    // With an ignore index, that label passes and any other out-of-range one still fails.
    Labels z = make_labels(-100);
    z(2) = -1;
    auto h = fg::compile(fg::cross_entropy(fg::param<"s">(S), fg::labels<"y">(z),
                                           fg::xent_options{.ignore_index = -100}));
    CHECK_THROWS_MATCHES(
        h.forward(), fg::label_error,
        Catch::Matchers::Message("softmax_xent: label y[2] = -1 is outside [0, 5)"));
    z(2) = 2;
    CHECK_NOTHROW(h.forward());
}

TEST_CASE("cross_entropy ignores PyTorch's default -100 unasked; nll(softmax) ignores no label",
          "[softmax_xent][errors]") {
    // PyTorch's test_cross_entropy_label_smoothing_weight_ignore_indices: row 0 is labelled -100
    // and ignored by default. Row 1 alone, by hand: logsumexp(1, 2) - (0.025 * 1 + 0.975 * 2).
    M S = {{0.3, 0.4}, {1.0, 2.0}};
    Labels y = {-100, 1};
    auto s = fg::param<"s">(S);
    auto t = fg::labels<"y">(y);
    auto g = fg::compile(fg::cross_entropy(s, t, fg::xent_options{.label_smoothing = 0.05}));
    g.run();
    CHECK_THAT(g.value(), WithinRel(std::log(std::exp(1.0) + std::exp(2.0)) - 1.975, 1e-14));
    CHECK(g.grad<"s">()(0, 0) == 0.0);
    CHECK(g.grad<"s">()(0, 1) == 0.0);
    CHECK(g.expression().op.describe() == "reduction=mean, label_smoothing=0.05");
    // No ignore index: -100 is a label out of range, as for nll, whose rewrite keeps that.
    auto strict =
        fg::compile(fg::cross_entropy(s, t, fg::xent_options{.ignore_index = std::nullopt}));
    CHECK_THROWS_MATCHES(
        strict.forward(), fg::label_error,
        Catch::Matchers::Message("softmax_xent: label y[0] = -100 is outside [0, 2)"));
    auto fused = fg::compile(fg::mean(fg::nll(fg::softmax(s), t)));
    REQUIRE(
        fg::contains_op<decltype(fused)::expression_type, fg::op::softmax_xent<reduction::mean>>);
    CHECK_THROWS_AS(fused.forward(), fg::label_error);
    CHECK_THROWS_AS(fg::compile(fg::mean(fg::nll(fg::softmax(s), t)), fg::no_rewrite).forward(),
                    fg::label_error);
}

TEST_CASE("softmax_xent shape errors name the op and the shapes", "[softmax_xent][errors]") {
    M S({N, C}), Y4({N, 4});
    fill_uniform(S, -1, 1, 508);
    Labels y8 = {0, 1, 2, 3, 4, 0, 1, 2};
    V w4 = {1, 2, 3, 4};
    const Labels y = make_labels();
    using Catch::Matchers::Message;
    {
        auto g = fg::compile(fg::cross_entropy(fg::input<"s">(S), fg::labels<"y">(y8)));
        CHECK_THROWS_MATCHES(
            g.forward(), fg::shape_error,
            Message("softmax_xent: s has 9 rows but y has 8 labels (s is (9, 5), y is (8))"));
    }
    {
        auto g = fg::compile(fg::cross_entropy(fg::input<"s">(S), fg::labels<"Y">(Y4)));
        CHECK_THROWS_MATCHES(
            g.forward(), fg::shape_error,
            Message("softmax_xent: targets y (9, 4) must have the shape of s (9, 5)"));
    }
    {
        auto g =
            fg::compile(fg::cross_entropy(fg::input<"s">(S), fg::labels<"y">(y), fg::constant(w4)));
        CHECK_THROWS_MATCHES(
            g.forward(), fg::shape_error,
            Message(
                "softmax_xent: w has 4 class weights but s has 5 columns (w is (4), s is (9, 5))"));
    }
}

TEST_CASE("fg::cross_entropy rejects the options PyTorch rejects", "[softmax_xent][errors]") {
    M S({N, C});
    const M Y = make_prob_targets<double>(509);
    const Labels y = make_labels();
    auto s = fg::input<"s">(S);
    using Catch::Matchers::Message;
    CHECK_THROWS_MATCHES(fg::cross_entropy(s, fg::labels<"y">(y), {.label_smoothing = 1.5}),
                         std::invalid_argument,
                         Message("fg::cross_entropy: label_smoothing must be in [0, 1], got 1.5"));
    CHECK_THROWS_AS(fg::cross_entropy(s, fg::labels<"y">(y), {.label_smoothing = -0.1}),
                    std::invalid_argument);
    CHECK_THROWS_MATCHES(
        fg::cross_entropy(s, fg::labels<"Y">(Y), {.ignore_index = 3}), std::invalid_argument,
        Message("fg::cross_entropy: ignore_index applies to class-index targets only, not to a "
                "target matrix (PyTorch rejects it too, except its default -100, which ignores "
                "nothing)"));
    CHECK_NOTHROW(fg::cross_entropy(s, fg::labels<"Y">(Y), {.ignore_index = -100}));
    CHECK_NOTHROW(fg::cross_entropy(s, fg::labels<"y">(y), {.label_smoothing = 1.0}));
}
