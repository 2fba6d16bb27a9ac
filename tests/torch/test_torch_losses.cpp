// The elementwise losses against libtorch, in float and double, for every reduction: values and
// the gradients of both operands (prediction and target). mse_loss; binary_cross_entropy on
// probabilities, 0 and 1 included (PyTorch clamps each log at −100); binary_cross_entropy_with_
// logits with and without pos_weight, logits out to ±1000; and the rewriter's fusion of
// binary_cross_entropy(sigmoid(s), y), which stays finite where the written graph saturates.

#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <fusegrad/fusegrad.hpp>

#include "../support/torch.hpp"

namespace fg = fusegrad;
using fusegrad_test::agree_elementwise;
using fusegrad_test::to_torch;

namespace {

template <class T>
xt::xtensor<T, 2> grid(std::size_t rows, std::size_t cols, double lo, double hi, unsigned seed,
                       std::vector<double> extra = {}) {
    auto a = fusegrad_test::filled<T, 2>({rows, cols}, lo, hi, seed);
    for (std::size_t i = 0; i < extra.size() && i < a.size(); ++i) a.data()[i] = T(extra[i]);
    return a;
}

/// loss(p, t) with reduction R against torch_loss(p, t, reduction), values and both gradients.
template <class T, fg::reduction R, class Build, class TorchLoss>
void agree(const std::string& what, const xt::xtensor<T, 2>& p, const xt::xtensor<T, 2>& t,
           Build build, TorchLoss torch_loss, bool target_grad = true) {
    INFO(what << (sizeof(T) == 4 ? " in float" : " in double") << ", reduction "
              << (R == fg::reduction::none  ? "none"
                  : R == fg::reduction::sum ? "sum"
                                            : "mean"));
    const double tol = sizeof(T) == 4 ? 3e-5 : 1e-10;
    auto g = fg::compile(build(fg::param<"p">(p), fg::param<"t">(t)));
    g.forward();
    const fg::shape out = g.value_shape();
    auto u = fusegrad_test::upstream<T>(out.size());
    g.backward(fg::cview<T>{u.data(), out});

    auto tp = to_torch(p, true), tt = to_torch(t, target_grad);
    const auto r = R == fg::reduction::none  ? at::Reduction::None
                   : R == fg::reduction::sum ? at::Reduction::Sum
                                             : at::Reduction::Mean;
    auto ty = torch_loss(tp, tt, r);
    REQUIRE(static_cast<std::size_t>(ty.numel()) == out.size());
    ty.backward(torch::from_blob(u.data(), ty.sizes(), ty.dtype()).clone());
    agree_elementwise(g.value_view().data, ty.detach(), tol, "value");
    agree_elementwise(g.template grad<"p">().data(), tp.grad(), tol, "gradient of the prediction");
    if (target_grad)
        agree_elementwise(g.template grad<"t">().data(), tt.grad(), tol, "gradient of the target");
}

template <class T, fg::reduction R>
void every_loss() {
    const auto pred = grid<T>(6, 37, -3, 3, 1), target = grid<T>(6, 37, -1, 1, 2);
    agree<T, R>(
        "mse", pred, target, [](auto p, auto t) { return fg::mse<R>(p, t); },
        [](const torch::Tensor& p, const torch::Tensor& t, auto r) {
            return torch::mse_loss(p, t, r);
        });
    // Probabilities, exact 0 and 1 among them; soft targets in [0, 1].
    const auto prob = grid<T>(6, 37, 0.001, 0.999, 3, {0.0, 1.0, 1.0, 0.0, 1e-30, 0.5});
    const auto soft = grid<T>(6, 37, 0, 1, 4, {0.0, 1.0, 0.0, 1.0, 0.3, 0.5});
    // The target gradient of BCE is −logit(p): ±inf at p = 0 or 1, where torch has inf · 0 =
    // NaN for some elements; checked on the interior grid below instead.
    agree<T, R>(
        "binary_cross_entropy", prob, soft,
        [](auto p, auto t) { return fg::binary_cross_entropy<R>(p, t); },
        [](const torch::Tensor& p, const torch::Tensor& t, auto r) {
            return torch::binary_cross_entropy(p, t, {}, r);
        },
        false);
    const auto interior = grid<T>(6, 37, 0.01, 0.99, 5);
    agree<T, R>(
        "binary_cross_entropy (interior)", interior, soft,
        [](auto p, auto t) { return fg::binary_cross_entropy<R>(p, t); },
        [](const torch::Tensor& p, const torch::Tensor& t, auto r) {
            return torch::binary_cross_entropy(p, t, {}, r);
        });
    const auto logits = grid<T>(6, 37, -8, 8, 6, {1000, -1000, 30, -30, 88, -88, 0.0});
    agree<T, R>(
        "binary_cross_entropy_with_logits", logits, soft,
        [](auto s, auto t) { return fg::binary_cross_entropy_with_logits<R>(s, t); },
        [](const torch::Tensor& s, const torch::Tensor& t, auto r) {
            return torch::binary_cross_entropy_with_logits(s, t, {}, {}, r);
        });
    // pos_weight: one weight per column.
    static xt::xtensor<T, 1> pw = [] {
        auto w = xt::xtensor<T, 1>::from_shape({37});
        for (std::size_t i = 0; i < w.size(); ++i) w[i] = T(0.5 + 0.1 * double(i % 13));
        return w;
    }();
    agree<T, R>(
        "binary_cross_entropy_with_logits, pos_weight", logits, soft,
        [](auto s, auto t) {
            return fg::binary_cross_entropy_with_logits<R>(s, t, fg::constant(pw));
        },
        [](const torch::Tensor& s, const torch::Tensor& t, auto r) {
            return torch::binary_cross_entropy_with_logits(s, t, {}, to_torch(pw), r);
        });
    // PyTorch's weight (its samples pass one shaped like the input): elementwise, and one per
    // column.
    static const auto we = grid<T>(6, 37, 0.1, 2, 7);
    agree<T, R>(
        "binary_cross_entropy, weight", interior, soft,
        [](auto p, auto t) { return fg::binary_cross_entropy<R>(p, t, fg::constant(we)); },
        [](const torch::Tensor& p, const torch::Tensor& t, auto r) {
            return torch::binary_cross_entropy(p, t, to_torch(we), r);
        });
    agree<T, R>(
        "binary_cross_entropy, weight per column", interior, soft,
        [](auto p, auto t) { return fg::binary_cross_entropy<R>(p, t, fg::constant(pw)); },
        [](const torch::Tensor& p, const torch::Tensor& t, auto r) {
            return torch::binary_cross_entropy(p, t, to_torch(pw), r);
        });
    agree<T, R>(
        "binary_cross_entropy_with_logits, pos_weight and weight", logits, soft,
        [](auto s, auto t) {
            return fg::binary_cross_entropy_with_logits<R>(s, t, fg::constant(pw),
                                                           fg::constant(we));
        },
        [](const torch::Tensor& s, const torch::Tensor& t, auto r) {
            return torch::binary_cross_entropy_with_logits(s, t, to_torch(we), to_torch(pw), r);
        });
}

}  // namespace

TEMPLATE_TEST_CASE("losses agree with libtorch for every reduction", "[torch][loss]", float,
                   double) {
    every_loss<TestType, fg::reduction::none>();
    every_loss<TestType, fg::reduction::sum>();
    every_loss<TestType, fg::reduction::mean>();
}

TEMPLATE_TEST_CASE(
    "binary_cross_entropy(sigmoid(s), y) becomes sigmoid_bce: finite where the "
    "written graph saturates",
    "[torch][loss][rewrite]", float, double) {
    using T = TestType;
    auto s = grid<T>(4, 9, -8, 8, 7, {1000, -1000, 3000, -3000, 40, -40, 100, -100});
    auto y = grid<T>(4, 9, 0, 1, 8, {0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.5, 0.5});
    const auto loss = fg::binary_cross_entropy(fg::sigmoid(fg::param<"s">(s)), fg::input<"y">(y));
    STATIC_REQUIRE(fg::contains_op<decltype(fg::rewrite(loss)), fg::op::sigmoid_bce>);
    STATIC_REQUIRE_FALSE(fg::contains_op<decltype(fg::rewrite(loss)), fg::op::sigmoid>);
    auto g = fg::compile(loss);
    g.run();
    auto ts = to_torch(s, true);
    auto ty = torch::binary_cross_entropy_with_logits(ts, to_torch(y));
    ty.backward();
    const double tol = sizeof(T) == 4 ? 3e-5 : 1e-10;
    const T v = g.value();
    agree_elementwise(&v, ty.detach(), tol, "value");
    agree_elementwise(g.template grad<"s">().data(), ts.grad(), tol, "gradient");
    // Without the rule, the clamped logs give a different loss and no gradient at |s| = 1000.
    auto plain = fg::compile(loss, fg::no_rewrite);
    plain.run();
    CHECK_FALSE(std::abs(double(plain.value()) - double(v)) < 1.0);
}

TEST_CASE("the binary cross-entropies want the target in the input's shape, as libtorch",
          "[torch][loss]") {
    const auto p = grid<double>(3, 4, 0.1, 0.9, 1, {});
    const auto t = grid<double>(1, 4, 0, 1, 2, {});  // a row: broadcasts in fg::mul, not here
    // (The functional API checks; the raw ATen op broadcasts.)
    CHECK_THROWS(torch::nn::functional::binary_cross_entropy(to_torch(p), to_torch(t)));
    CHECK_THROWS(torch::binary_cross_entropy_with_logits(to_torch(p), to_torch(t)));
    const auto bce = [&] {
        auto g = fg::compile(fg::binary_cross_entropy(fg::param<"p">(p), fg::input<"t">(t)));
        g.forward();
    };
    CHECK_THROWS_WITH(bce(), Catch::Contains("binary_cross_entropy: the target (1, 4)") &&
                                 Catch::Contains("input's shape (3, 4)"));
    const auto logits = [&] {
        auto g =
            fg::compile(fg::binary_cross_entropy_with_logits(fg::param<"s">(p), fg::input<"t">(t)));
        g.forward();
    };
    CHECK_THROWS_WITH(logits(), Catch::Contains("binary_cross_entropy_with_logits"));
}

TEST_CASE("a binary cross-entropy's weight broadcasts to the input's shape, never beyond it",
          "[torch][loss]") {
    // PyTorch multiplies the loss by weight (and adds the pos_weight term) in place: a weight
    // that would enlarge the result is an error there, and a shape_error naming both shapes
    // here (fg::mul would broadcast both ways).
    const auto row = grid<double>(1, 4, 0.1, 0.9, 1, {});
    const auto soft = grid<double>(1, 4, 0, 1, 2, {});
    const auto big = grid<double>(3, 4, 0.5, 2, 3, {});
    xt::xtensor<double, 1> w4 = {0.5, 1.0, 1.5, 2.0};
    CHECK_THROWS(torch::nn::functional::binary_cross_entropy(
        to_torch(row), to_torch(soft),
        torch::nn::functional::BinaryCrossEntropyFuncOptions().weight(to_torch(big))));
    CHECK_THROWS(torch::binary_cross_entropy_with_logits(to_torch(row), to_torch(soft),
                                                         to_torch(big), {}, at::Reduction::Mean));
    CHECK_THROWS(torch::binary_cross_entropy_with_logits(to_torch(row), to_torch(soft), {},
                                                         to_torch(big), at::Reduction::Mean));
    // (Catch2's && keeps references to its operands: they must outlive each check.)
    const auto names_weight = Catch::Contains("loss_weight: the weight (3, 4)");
    const auto names_loss = Catch::Contains("must broadcast to the shape of its loss (1, 4)");
    const auto first = [](auto g) { g.forward(); };
    CHECK_THROWS_WITH(first(fg::compile(fg::binary_cross_entropy(
                          fg::param<"p">(row), fg::input<"t">(soft), fg::constant(big)))),
                      names_weight && names_loss);
    CHECK_THROWS_WITH(
        first(fg::compile(fg::binary_cross_entropy_with_logits(
            fg::param<"s">(row), fg::input<"t">(soft), fg::constant(w4), fg::constant(big)))),
        names_weight && names_loss);
    CHECK_THROWS_WITH(first(fg::compile(fg::binary_cross_entropy_with_logits(
                          fg::param<"s">(row), fg::input<"t">(soft), fg::constant(big)))),
                      names_weight && names_loss);
    // What broadcasts within the input's shape still works: one weight per column of a row.
    auto g = fg::compile(
        fg::binary_cross_entropy(fg::param<"p">(row), fg::input<"t">(soft), fg::constant(w4)));
    g.forward();
    const auto t = torch::nn::functional::binary_cross_entropy(
        to_torch(row), to_torch(soft),
        torch::nn::functional::BinaryCrossEntropyFuncOptions().weight(to_torch(w4)));
    CHECK(g.value() == Approx(t.item<double>()).epsilon(1e-14));
}

TEST_CASE("binary_cross_entropy_with_logits keeps its digits for s < 0 and y = 0",
          "[torch][loss]") {
    // softplus(s) for y = 0: at s = −17, 4.1399376e-8, which (1 − y) s − log σ(s) as written
    // cancelled to 7 digits in double. libtorch 1.13's log(e^{−m} + e^{−s−m}) keeps fewer digits
    // there (1.7e-9 relative at −17, 1e-3 at −30): it is checked only loosely.
    xt::xtensor<double, 2> s = {{-17.0, -30.0, -5.0, 3.0}}, y = {{0.0, 0.0, 0.0, 1.0}};
    auto g = fg::compile(fg::binary_cross_entropy_with_logits<fg::reduction::none>(
        fg::param<"s">(s), fg::input<"y">(y)));
    g.forward();
    const auto want = torch::binary_cross_entropy_with_logits(to_torch(s), to_torch(y), {}, {},
                                                              torch::Reduction::None);
    const double* w = want.contiguous().data_ptr<double>();
    for (std::size_t i = 0; i < 4; ++i) {
        const double exact = i < 3 ? std::log1p(std::exp(s(0, i))) : std::log1p(std::exp(-3.0));
        INFO("s = " << s(0, i) << ": ours " << g.value_view().data[i] << ", libtorch " << w[i]);
        CHECK_FALSE(std::abs(g.value_view().data[i] - exact) > 1e-15 * exact);
        CHECK_FALSE(std::abs(w[i] - exact) > 2e-3 * exact);
    }
    // ...and an infinite logit gives inf for a target below 1, as libtorch (not inf − inf).
    xt::xtensor<double, 2> si = {{INFINITY, INFINITY}}, yi = {{0.0, 0.25}};
    auto gi = fg::compile(fg::binary_cross_entropy_with_logits<fg::reduction::none>(
        fg::param<"s">(si), fg::input<"y">(yi)));
    gi.forward();
    const auto wi = torch::binary_cross_entropy_with_logits(to_torch(si), to_torch(yi), {}, {},
                                                            torch::Reduction::None);
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(gi.value_view().data[i] == INFINITY);
        CHECK(wi.contiguous().data_ptr<double>()[i] == INFINITY);
    }
}

TEMPLATE_TEST_CASE("log_sigmoid agrees with libtorch, and log(sigmoid(x)) becomes it",
                   "[torch][unary][rewrite]", float, double) {
    using T = TestType;
    auto x = grid<T>(3, 21, -10, 10, 9, {1000, -1000, 100, -100, 0.0});
    auto g = fg::compile(fg::sum(fg::log(fg::sigmoid(fg::param<"x">(x)))));
    STATIC_REQUIRE(fg::contains_op<decltype(fg::rewrite(fg::log(fg::sigmoid(fg::param<"x">(x))))),
                                   fg::op::log_sigmoid>);
    g.run();
    auto tx = to_torch(x, true);
    auto ty = torch::log_sigmoid(tx).sum();
    ty.backward();
    const double tol = sizeof(T) == 4 ? 3e-5 : 1e-10;
    const T v = g.value();
    agree_elementwise(&v, ty.detach(), tol, "value");
    agree_elementwise(g.template grad<"x">().data(), tx.grad(), tol, "gradient");
}
