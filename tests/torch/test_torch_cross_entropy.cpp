// fg::cross_entropy against torch::nn::functional::cross_entropy (libtorch 1.13), the ground
// truth for its semantics: reduction none / sum / mean, weight, ignore_index, label_smoothing
// (with and without weights), probability targets (gradients in the logits and in the
// targets); fg::nll_logp against torch::nll_loss with reduction none, and fg::nll_loss against
// torch::nll_loss with every reduction, weight and ignore_index, written and fused.

#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include <fusegrad/fusegrad.hpp>

#include "../support/finite_differences.hpp"
#include "../support/torch.hpp"

namespace fg = fusegrad;
namespace F = torch::nn::functional;
using fg::reduction;

namespace {

using fusegrad_test::check_close;
using fusegrad_test::to_torch;

template <class T>
struct problem {
    static constexpr std::size_t N = 23, C = 7;
    xt::xtensor<T, 2> S{xt::xtensor<T, 2>::from_shape({N, C})};
    xt::xtensor<T, 2> Y{xt::xtensor<T, 2>::from_shape({N, C})};
    xt::xtensor<T, 1> w{xt::xtensor<T, 1>::from_shape({C})};
    xt::xtensor<std::int64_t, 1> y{xt::xtensor<std::int64_t, 1>::from_shape({N})};
    std::vector<T> seed;  // the upstream gradient of a per-row loss

    problem() {
        fusegrad_test::fill_uniform(S, -4, 4, 11);
        fusegrad_test::fill_uniform(Y, 0.01, 1, 12);
        fusegrad_test::fill_uniform(w, 0.1, 3, 13);
        for (std::size_t i = 0; i < N; ++i) {
            T s = 0;
            for (std::size_t j = 0; j < C; ++j) s += Y(i, j);
            for (std::size_t j = 0; j < C; ++j) Y(i, j) /= s;
        }
        std::mt19937 rng(14);
        for (auto& v : y) v = static_cast<std::int64_t>(rng() % C);
        const auto u = fusegrad_test::normal_vector(N, 15);
        seed.assign(u.begin(), u.end());
    }
};

torch::nn::functional::CrossEntropyFuncOptions::reduction_t torch_reduction(reduction r) {
    if (r == reduction::none) return torch::kNone;
    if (r == reduction::sum) return torch::kSum;
    return torch::kMean;
}

/// Runs our graph forward and backward (with p.seed for a per-row loss), the torch loss
/// backward with the same seed, and compares the loss and the gradient of "s".
template <class T, class Graph>
void compare(Graph& g, const problem<T>& p, torch::Tensor L, const torch::Tensor& S_t, double tol) {
    g.forward();
    const auto v = g.value_view();
    check_close(v.data, v.size(), L.detach(), tol);
    if constexpr (Graph::rank == 1) {
        g.backward(fg::cview<T>{p.seed.data(), v.dims});
        const auto dtype = std::is_same_v<T, float> ? torch::kFloat32 : torch::kFloat64;
        const auto n = static_cast<std::int64_t>(p.seed.size());
        auto u = torch::from_blob(const_cast<T*>(p.seed.data()), {n}, dtype).clone();
        (L * u).sum().backward();
    } else {
        g.backward();
        L.backward();
    }
    const auto& dS = g.template grad<"s">();
    check_close(dS.data(), dS.size(), S_t.grad(), tol);
}
/// After compare(): the gradient of the targets "Y".
template <class Graph>
void compare_target_grad(const Graph& g, const torch::Tensor& Y_t, double tol) {
    const auto& dY = g.template grad<"Y">();
    check_close(dY.data(), dY.size(), Y_t.grad(), tol);
}

struct index_case {
    const char* what;
    bool weighted;
    std::optional<std::int64_t> ignore;
    double eps;
};

const index_case index_cases[] = {
    {"plain", false, {}, 0.0},
    {"weight", true, {}, 0.0},
    {"ignore_index = 3 (a class)", false, 3, 0.0},
    {"ignore_index = -100, some rows", false, -100, 0.0},
    {"weight + ignore_index", true, 3, 0.0},
    {"label_smoothing", false, {}, 0.1},
    {"label_smoothing + weight", true, {}, 0.2},
    {"label_smoothing + ignore_index", false, 3, 0.2},
    {"label_smoothing + weight + ignore_index", true, -100, 0.35},
    {"label_smoothing = 1", true, {}, 1.0},
};

template <reduction R, class T>
void check_index_targets(double tol) {
    problem<T> p;
    for (const auto& c : index_cases) {
        INFO(c.what);
        auto y = p.y;
        if (c.ignore && *c.ignore < 0)
            y(2) = y(9) = y(20) = *c.ignore;  // rows with the ignore label
        auto s = fg::param<"s">(p.S);
        auto t = fg::labels<"y">(y);
        const fg::xent_options opts{.ignore_index = c.ignore, .label_smoothing = c.eps};

        auto S_t = to_torch(p.S, true);
        auto topts = F::CrossEntropyFuncOptions()
                         .reduction(torch_reduction(R))
                         .label_smoothing(c.eps)
                         .ignore_index(c.ignore.value_or(-100));
        if (c.weighted) topts = topts.weight(to_torch(p.w));
        auto L = F::cross_entropy(S_t, to_torch(y), topts);

        if (c.weighted) {
            auto g = fg::compile(fg::cross_entropy<R>(s, t, fg::constant(p.w), opts));
            compare(g, p, L, S_t, tol);
        } else {
            auto g = fg::compile(fg::cross_entropy<R>(s, t, opts));
            compare(g, p, L, S_t, tol);
        }
    }
}

template <reduction R, class T>
void check_prob_targets(double tol) {
    problem<T> p;
    for (const bool weighted : {false, true}) {
        for (const double eps : {0.0, 0.15}) {
            INFO("weight " << weighted << ", label_smoothing " << eps);
            auto s = fg::param<"s">(p.S);
            auto y = fg::param<"Y">(p.Y);
            const fg::xent_options opts{.label_smoothing = eps};
            auto S_t = to_torch(p.S, true);
            auto Y_t = to_torch(p.Y, true);
            auto topts =
                F::CrossEntropyFuncOptions().reduction(torch_reduction(R)).label_smoothing(eps);
            if (weighted) topts = topts.weight(to_torch(p.w));
            auto L = F::cross_entropy(S_t, Y_t, topts);
            if (weighted) {
                auto g = fg::compile(fg::cross_entropy<R>(s, y, fg::input<"w">(p.w), opts));
                compare(g, p, L, S_t, tol);
                compare_target_grad(g, Y_t, tol);
            } else {
                auto g = fg::compile(fg::cross_entropy<R>(s, y, opts));
                compare(g, p, L, S_t, tol);
                compare_target_grad(g, Y_t, tol);
            }
        }
    }
}

}  // namespace

TEMPLATE_TEST_CASE(
    "cross_entropy with class indices agrees with libtorch: every reduction, "
    "weight, ignore_index, label_smoothing",
    "[torch][cross_entropy]", float, double) {
    const double tol = std::is_same_v<TestType, float> ? 2e-5 : 1e-12;
    SECTION("none") {
        check_index_targets<reduction::none, TestType>(tol);
    }
    SECTION("sum") {
        check_index_targets<reduction::sum, TestType>(tol);
    }
    SECTION("mean") {
        check_index_targets<reduction::mean, TestType>(tol);
    }
}

TEMPLATE_TEST_CASE(
    "cross_entropy with probability targets agrees with libtorch, gradients in the "
    "logits and in the targets",
    "[torch][cross_entropy]", float, double) {
    const double tol = std::is_same_v<TestType, float> ? 2e-5 : 1e-12;
    SECTION("none") {
        check_prob_targets<reduction::none, TestType>(tol);
    }
    SECTION("sum") {
        check_prob_targets<reduction::sum, TestType>(tol);
    }
    SECTION("mean") {
        check_prob_targets<reduction::mean, TestType>(tol);
    }
}

TEST_CASE("int32 labels give what libtorch gives for the same labels as int64",
          "[torch][cross_entropy]") {
    problem<double> p;
    xt::xtensor<std::int32_t, 1> y32 = xt::cast<std::int32_t>(p.y);
    auto g = fg::compile(fg::cross_entropy(fg::param<"s">(p.S), fg::labels<"y">(y32),
                                           fg::constant(p.w), {.label_smoothing = 0.1}));
    auto S_t = to_torch(p.S, true);
    auto L =
        F::cross_entropy(S_t, to_torch(p.y),
                         F::CrossEntropyFuncOptions().weight(to_torch(p.w)).label_smoothing(0.1));
    compare(g, p, L, S_t, 1e-12);
}

TEST_CASE("degenerate means are NaN in both", "[torch][cross_entropy]") {
    problem<double> p;
    xt::xtensor<std::int64_t, 1> all_ignored = xt::full_like(p.y, 5);
    auto S_t = to_torch(p.S);
    auto L =
        F::cross_entropy(S_t, to_torch(all_ignored), F::CrossEntropyFuncOptions().ignore_index(5));
    auto g = fg::compile(
        fg::cross_entropy(fg::input<"s">(p.S), fg::labels<"y">(all_ignored), {.ignore_index = 5}));
    g.forward();
    CHECK(std::isnan(L.item<double>()));
    CHECK(std::isnan(g.value()));

    xt::xtensor<double, 1> zero = xt::zeros<double>({problem<double>::C});
    auto L0 =
        F::cross_entropy(S_t, to_torch(p.y), F::CrossEntropyFuncOptions().weight(to_torch(zero)));
    auto g0 = fg::compile(
        fg::cross_entropy(fg::input<"s">(p.S), fg::labels<"y">(p.y), fg::constant(zero)));
    g0.forward();
    CHECK(std::isnan(L0.item<double>()));
    CHECK(std::isnan(g0.value()));
}

TEST_CASE("options libtorch rejects are rejected too", "[torch][cross_entropy]") {
    problem<double> p;
    auto S_t = to_torch(p.S);
    // An explicit ignore_index with probability targets.
    CHECK_THROWS(
        F::cross_entropy(S_t, to_torch(p.Y), F::CrossEntropyFuncOptions().ignore_index(1)));
    CHECK_THROWS_AS(
        fg::cross_entropy(fg::input<"s">(p.S), fg::labels<"Y">(p.Y), {.ignore_index = 1}),
        std::invalid_argument);
    // ...but PyTorch's default, -100, is accepted there, and ignores nothing.
    {
        const auto want =
            F::cross_entropy(S_t, to_torch(p.Y), F::CrossEntropyFuncOptions().ignore_index(-100));
        auto g = fg::compile(
            fg::cross_entropy(fg::input<"s">(p.S), fg::labels<"Y">(p.Y), {.ignore_index = -100}));
        g.forward();
        CHECK_FALSE(std::abs(g.value() - want.item<double>()) > 1e-12);
    }
    // label_smoothing above 1.
    CHECK_THROWS(
        F::cross_entropy(S_t, to_torch(p.y), F::CrossEntropyFuncOptions().label_smoothing(1.5)));
    CHECK_THROWS_AS(
        fg::cross_entropy(fg::input<"s">(p.S), fg::labels<"y">(p.y), {.label_smoothing = 1.5}),
        std::invalid_argument);
}

TEMPLATE_TEST_CASE("nll_logp agrees with torch::nll_loss, reduction none", "[torch][nll_logp]",
                   float, double) {
    using T = TestType;
    const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
    problem<T> p;
    // Log-probabilities from log_softmax, as nll_loss expects (any values would do).
    auto LS = torch::log_softmax(to_torch(p.S), 1).contiguous();
    xt::xtensor<T, 2> LP = xt::xtensor<T, 2>::from_shape({problem<T>::N, problem<T>::C});
    std::copy(LS.template data_ptr<T>(), LS.template data_ptr<T>() + LP.size(), LP.data());

    auto g = fg::compile(fg::nll_logp(fg::param<"s">(LP), fg::labels<"y">(p.y)));
    auto LP_t = to_torch(LP, true);
    auto L = torch::nll_loss(LP_t, to_torch(p.y), {}, at::Reduction::None, -100);
    compare(g, p, L, LP_t, tol);

    // Probability targets: nll_loss has no such form; the definition -Σ_j y_ij logp_ij in torch.
    auto g2 = fg::compile(fg::nll_logp(fg::param<"s">(LP), fg::param<"Y">(p.Y)));
    auto LP2 = to_torch(LP, true);
    auto Y_t = to_torch(p.Y, true);
    auto L2 = -(Y_t * LP2).sum(1);
    compare(g2, p, L2, LP2, tol);
    compare_target_grad(g2, Y_t, tol);
}

TEMPLATE_TEST_CASE("nll_logp ignores PyTorch's ignore_index, written and fused",
                   "[torch][nll_logp]", float, double) {
    using T = TestType;
    const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
    problem<T> p;
    // The default, -100, on three rows (a label nll_loss ignores by default), then a class.
    for (const std::optional<std::int64_t> ignore :
         {std::optional<std::int64_t>(-100), std::optional<std::int64_t>(3)}) {
        INFO("ignore_index " << *ignore);
        auto y = p.y;
        if (*ignore < 0) y(2) = y(9) = y(20) = *ignore;
        const auto y_t = to_torch(y);
        // As written: nll_logp of fixed log-probabilities.
        auto LS = torch::log_softmax(to_torch(p.S), 1).contiguous();
        xt::xtensor<T, 2> LP = xt::xtensor<T, 2>::from_shape({problem<T>::N, problem<T>::C});
        std::copy(LS.template data_ptr<T>(), LS.template data_ptr<T>() + LP.size(), LP.data());
        auto g = fg::compile(fg::nll_logp(fg::param<"s">(LP), fg::labels<"y">(y), ignore));
        auto LP_t = to_torch(LP, true);
        compare(g, p, torch::nll_loss(LP_t, y_t, {}, at::Reduction::None, *ignore), LP_t, tol);
        // nll_logp(log_softmax(s), y), rewritten to softmax_xent with the same ignore_index,
        // and not rewritten.
        auto expr = fg::nll_logp(fg::log_softmax(fg::param<"s">(p.S)), fg::labels<"y">(y), ignore);
        auto fused = fg::compile(expr);
        CHECK(fused.rules_fired().size() == 1);
        auto S_t = to_torch(p.S, true);
        compare(fused, p,
                torch::nll_loss(torch::log_softmax(S_t, 1), y_t, {}, at::Reduction::None, *ignore),
                S_t, tol);
        auto written = fg::compile(expr, fg::no_rewrite);
        auto S2 = to_torch(p.S, true);
        compare(written, p,
                torch::nll_loss(torch::log_softmax(S2, 1), y_t, {}, at::Reduction::None, *ignore),
                S2, tol);
    }
    // With no ignore_index, -100 is a label outside [0, C): an error naming it.
    auto y = p.y;
    y(4) = -100;
    auto g = fg::compile(fg::nll_logp(fg::param<"s">(p.S), fg::labels<"y">(y), std::nullopt));
    CHECK_THROWS_WITH(g.forward(), Catch::Contains("y[4] = -100 is outside [0, 7)"));
    // A label outside [0, C) that is not the ignored one is still an error.
    y(4) = 7;
    auto h = fg::compile(fg::nll_logp(fg::param<"s">(p.S), fg::labels<"y">(y)));
    CHECK_THROWS_WITH(h.forward(),
                      Catch::Contains("y[4] = 7 is outside [0, 7) and is not ignore_index (-100)"));
    // ignore_index has no meaning for a target matrix.
    CHECK_THROWS_AS(fg::nll_logp(fg::param<"s">(p.S), fg::param<"Y">(p.Y), 2),
                    std::invalid_argument);
}

TEMPLATE_TEST_CASE("nll_loss agrees with torch::nll_loss: reductions, weight, ignore_index",
                   "[torch][nll_loss]", float, double) {
    using T = TestType;
    const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-14;
    problem<T> p;
    auto LS = torch::log_softmax(to_torch(p.S), 1).contiguous();
    xt::xtensor<T, 2> LP = xt::xtensor<T, 2>::from_shape({problem<T>::N, problem<T>::C});
    std::copy(LS.template data_ptr<T>(), LS.template data_ptr<T>() + LP.size(), LP.data());
    auto y = p.y;
    y(2) = y(9) = y(20) = -100;  // PyTorch's default ignore_index
    const auto w_t = to_torch(p.w);
    const auto each = [&](auto R, const auto& labels, std::optional<std::int64_t> ignore) {
        constexpr reduction r = decltype(R)::value;
        const auto red = r == reduction::none  ? at::Reduction::None
                         : r == reduction::sum ? at::Reduction::Sum
                                               : at::Reduction::Mean;
        const auto y_t = to_torch(labels);
        const std::int64_t t_ignore = ignore ? *ignore : -12345;  // torch: ignores that label
        INFO("reduction " << int(r) << ", ignore_index " << t_ignore);
        auto Y = fg::labels<"y">(labels);
        {  // as written, on fixed log-probabilities, unweighted and weighted
            auto g = fg::compile(fg::nll_loss<r>(fg::param<"s">(LP), Y, ignore));
            auto LP_t = to_torch(LP, true);
            compare(g, p, torch::nll_loss(LP_t, y_t, {}, red, t_ignore), LP_t, tol);
            auto gw =
                fg::compile(fg::nll_loss<r>(fg::param<"s">(LP), Y, fg::constant(p.w), ignore));
            auto LP_w = to_torch(LP, true);
            compare(gw, p, torch::nll_loss(LP_w, y_t, w_t, red, t_ignore), LP_w, tol);
        }
        {  // nll_loss(log_softmax(s), y, w): rewritten to softmax_xent, and as written
            auto expr =
                fg::nll_loss<r>(fg::log_softmax(fg::param<"s">(p.S)), Y, fg::constant(p.w), ignore);
            using F = decltype(fg::rewrite(expr));
            STATIC_REQUIRE(fg::contains_op<F, fg::op::softmax_xent<r>>);
            STATIC_REQUIRE(!fg::contains_op<F, fg::op::nll_loss<r>>);
            auto fused = fg::compile(expr);
            auto S_t = to_torch(p.S, true);
            compare(fused, p, torch::nll_loss(torch::log_softmax(S_t, 1), y_t, w_t, red, t_ignore),
                    S_t, tol);
            auto written = fg::compile(expr, fg::no_rewrite);
            auto S2 = to_torch(p.S, true);
            compare(written, p, torch::nll_loss(torch::log_softmax(S2, 1), y_t, w_t, red, t_ignore),
                    S2, tol);
        }
    };
    using none_t = std::integral_constant<reduction, reduction::none>;
    using sum_t = std::integral_constant<reduction, reduction::sum>;
    using mean_t = std::integral_constant<reduction, reduction::mean>;
    for (const auto ignore : {std::optional<std::int64_t>(-100), std::optional<std::int64_t>(3)}) {
        each(none_t{}, ignore == -100 ? y : p.y, ignore);
        each(sum_t{}, ignore == -100 ? y : p.y, ignore);
        each(mean_t{}, ignore == -100 ? y : p.y, ignore);
    }
    each(mean_t{}, p.y, std::nullopt);
}

TEST_CASE("nll_loss: the degenerate mean is NaN as PyTorch's; errors name the op and label",
          "[torch][nll_loss]") {
    problem<double> p;
    auto y = p.y;
    y.fill(-100);  // every row ignored: 0 / 0
    auto g = fg::compile(fg::nll_loss(fg::param<"s">(p.S), fg::labels<"y">(y)));
    g.run();
    const auto t = torch::nll_loss(to_torch(p.S), to_torch(y), {}, at::Reduction::Mean, -100);
    CHECK(std::isnan(t.item<double>()));
    CHECK(std::isnan(g.value()));
    // Every row ignored: the gradient is 0 everywhere, in torch, as written and fused (the
    // rewritten softmax_xent<mean> divides by the same D = 0).
    auto S_t = to_torch(p.S, true);
    auto L =
        torch::nll_loss(torch::log_softmax(S_t, 1), to_torch(y), {}, at::Reduction::Mean, -100);
    L.backward();
    REQUIRE(std::isnan(L.item<double>()));
    auto expr = fg::nll_loss(fg::log_softmax(fg::param<"s">(p.S)), fg::labels<"y">(y));
    const auto same_as_torch = [&](auto h) {
        h.run();
        CHECK(std::isnan(h.value()));
        check_close(h.template grad<"s">().data(), h.template grad<"s">().size(), S_t.grad(), 0.0);
    };
    same_as_torch(fg::compile(expr));
    same_as_torch(fg::compile(expr, fg::no_rewrite));
    // A label outside [0, C) that is not ignored, and one with no ignore_index.
    y = p.y;
    y(4) = 7;
    auto h = fg::compile(fg::nll_loss<reduction::sum>(fg::param<"s">(p.S), fg::labels<"y">(y)));
    CHECK_THROWS_WITH(h.forward(), Catch::Contains("nll_loss: label y[4] = 7 is outside [0, 7) "
                                                   "and is not ignore_index (-100)"));
    y(4) = -100;
    auto k = fg::compile(
        fg::nll_loss<reduction::sum>(fg::param<"s">(p.S), fg::labels<"y">(y), std::nullopt));
    CHECK_THROWS_WITH(k.forward(), Catch::Contains("y[4] = -100 is outside [0, 7)"));
    // Weights of the wrong length: a shape error naming them.
    xt::xtensor<double, 1> w5 = {1, 2, 3, 4, 5};
    auto bad_w =
        fg::compile(fg::nll_loss(fg::param<"s">(p.S), fg::labels<"y">(p.y), fg::constant(w5)));
    CHECK_THROWS_WITH(bad_w.forward(),
                      Catch::Contains("nll_loss: the class weights must be a vector of 7 entries"));
    // The mean over an empty batch is refused (PyTorch: NaN), as for cross_entropy.
    xt::xtensor<double, 2> none = xt::xtensor<double, 2>::from_shape({0, 7});
    xt::xtensor<std::int64_t, 1> no_labels = xt::xtensor<std::int64_t, 1>::from_shape({0});
    auto e = fg::compile(fg::nll_loss(fg::param<"s">(none), fg::labels<"y">(no_labels)));
    CHECK_THROWS_AS(e.forward(), fg::shape_error);
}
