// fg::linear_cross_entropy (op::linear_xent) against libtorch 1.13: F::cross_entropy over
// torch::addmm(b, x, W) (or torch::mm(x, W)), plus the z-loss λ·logsumexp² and the soft-cap
// c·tanh(s/c) written out in torch, for every reduction, class weights, ignore_index, label
// smoothing, with and without bias, on one tile and on a grid of small tiles, in float and
// double; extreme logits (|s| ~ 1e3) and masked classes (a −inf bias); and the graph the
// rewriter makes from fg::cross_entropy(fg::linear(...)) and fg::cross_entropy(fg::matmul(...)).

#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
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
struct lx_problem {
    static constexpr std::size_t N = 37, D = 6, C = 23;  // odd sizes
    xt::xtensor<T, 2> X{xt::xtensor<T, 2>::from_shape({N, D})};
    xt::xtensor<T, 2> W{xt::xtensor<T, 2>::from_shape({D, C})};
    xt::xtensor<T, 1> b{xt::xtensor<T, 1>::from_shape({C})};
    xt::xtensor<T, 1> cw{xt::xtensor<T, 1>::from_shape({C})};
    xt::xtensor<std::int64_t, 1> y{xt::xtensor<std::int64_t, 1>::from_shape({N})};
    std::vector<T> seed;  // the upstream gradient of a per-row loss

    explicit lx_problem(double x_scale = 1.0) {
        fusegrad_test::fill_uniform(X, -1, 1, 21);
        fusegrad_test::fill_uniform(W, -1.5, 1.5, 22);
        fusegrad_test::fill_uniform(b, -1, 1, 23);
        fusegrad_test::fill_uniform(cw, 0.2, 2, 24);
        X *= T(x_scale);
        for (std::size_t i = 0; i < N; ++i) y(i) = std::int64_t((i * 5 + 2) % C);
        auto s = xt::xtensor<T, 1>::from_shape({N});
        fusegrad_test::fill_uniform(s, -2, 2, 25);
        seed.assign(s.begin(), s.end());
    }
};

struct variant {
    std::string name;
    fg::linear_xent_options options;
    bool weights = false;
};

std::vector<variant> variants() {
    std::vector<variant> v;
    fg::linear_xent_options o;
    v.push_back({"plain", o, false});
    v.push_back({"class weights", o, true});
    fg::linear_xent_options ig = o;
    ig.ignore_index = -100;  // PyTorch's default value, on rows 3, 4 and 20
    v.push_back({"ignore_index", ig, false});
    fg::linear_xent_options sm = o;
    sm.label_smoothing = 0.15;
    v.push_back({"label smoothing", sm, false});
    fg::linear_xent_options all = ig;
    all.label_smoothing = 0.1;
    v.push_back({"weights, ignore_index, smoothing", all, true});
    fg::linear_xent_options z = o;
    z.z_loss = 0.02;
    v.push_back({"z-loss", z, false});
    fg::linear_xent_options cap = o;
    cap.softcap = 3.0;
    v.push_back({"soft-cap", cap, false});
    fg::linear_xent_options every = all;
    every.z_loss = 0.05;
    every.softcap = 4.0;
    v.push_back({"everything", every, true});
    return v;
}

/// The torch loss of a variant: cross_entropy of the (capped) logits, plus the z-loss.
template <reduction R>
torch::Tensor torch_loss(const torch::Tensor& x, const torch::Tensor& w,
                         const std::optional<torch::Tensor>& b, const torch::Tensor& y,
                         const torch::Tensor& cw, const variant& v) {
    const auto& o = v.options;
    torch::Tensor s = b ? torch::addmm(*b, x, w) : torch::mm(x, w);
    if (o.softcap > 0) s = o.softcap * torch::tanh(s / o.softcap);
    auto opts = F::CrossEntropyFuncOptions().label_smoothing(o.label_smoothing);
    if (o.ignore_index) opts.ignore_index(*o.ignore_index);
    if (v.weights) opts.weight(cw);
    if constexpr (R == reduction::none) opts.reduction(torch::kNone);
    if constexpr (R == reduction::sum) opts.reduction(torch::kSum);
    if constexpr (R == reduction::mean) opts.reduction(torch::kMean);
    torch::Tensor loss = F::cross_entropy(s, y, opts);
    if (o.z_loss != 0) {
        const auto valid = o.ignore_index ? (y != *o.ignore_index).to(s.dtype())
                                          : torch::ones_like(y).to(s.dtype());
        const auto lse = torch::logsumexp(s, 1);
        const auto z = o.z_loss * lse * lse * valid;
        if constexpr (R == reduction::none) loss = loss + z;
        if constexpr (R == reduction::sum) loss = loss + z.sum();
        if constexpr (R == reduction::mean) loss = loss + z.sum() / valid.sum();
    }
    return loss;
}

/// Our graph's value and gradients against torch's, for one variant, reduction, bias choice
/// and tiling.
template <class T, reduction R, bool Bias>
void compare(lx_problem<T>& p, const variant& v, double tol) {
    if (v.options.ignore_index) p.y(3) = p.y(4) = p.y(20) = *v.options.ignore_index;
    auto x = fg::param<"x">(p.X);
    auto w = fg::param<"W">(p.W);
    auto bb = fg::param<"b">(p.b);
    auto y = fg::labels<"y">(p.y);
    auto cw = fg::constant(p.cw);
    auto run = [&](auto& g) {
        if constexpr (R == reduction::none) {
            g.forward();
            g.backward(fg::cview<T>{p.seed.data(), fg::shape::vector(p.N)});
        } else {
            g.run();
        }
        auto tx = to_torch(p.X, true), tw = to_torch(p.W, true), tb = to_torch(p.b, true);
        auto ty = to_torch(p.y), tcw = to_torch(p.cw);
        auto loss = torch_loss<R>(tx, tw, Bias ? std::optional<torch::Tensor>(tb) : std::nullopt,
                                  ty, tcw, v);
        if constexpr (R == reduction::none) {
            auto seed = torch::from_blob(p.seed.data(), {long(p.N)},
                                         sizeof(T) == 4 ? torch::kFloat32 : torch::kFloat64)
                            .clone();
            loss.backward(seed);
            check_close(g.value_view().data, p.N, loss.detach(), tol);
        } else {
            loss.backward();
            check_close(&g.value_view().data[0], 1, loss.detach(), tol);
        }
        check_close(g.template grad<"x">(), tx.grad(), tol);
        check_close(g.template grad<"W">(), tw.grad(), tol);
        if constexpr (Bias) check_close(g.template grad<"b">(), tb.grad(), tol);
    };
    if constexpr (Bias) {
        if (v.weights) {
            auto g = fg::compile(fg::linear_cross_entropy<R>(x, w, bb, y, cw, v.options));
            run(g);
        } else {
            auto g = fg::compile(fg::linear_cross_entropy<R>(x, w, bb, y, v.options));
            run(g);
        }
    } else {
        if (v.weights) {
            auto g = fg::compile(fg::linear_cross_entropy<R>(x, w, y, cw, v.options));
            run(g);
        } else {
            auto g = fg::compile(fg::linear_cross_entropy<R>(x, w, y, v.options));
            run(g);
        }
    }
}

template <class T, reduction R>
void all_variants(double tol) {
    for (const auto& base : variants()) {
        for (int tiling = 0; tiling < 2; ++tiling) {
            variant v = base;
            if (tiling == 1) {  // a 10 × 4 grid of tiles, ragged at both ends
                v.options.tile_rows = 4;
                v.options.tile_classes = 6;
            }
            INFO(v.name << (tiling ? ", tiles of 4 × 6" : ", one tile"));
            {
                INFO("with bias");
                lx_problem<T> p;
                compare<T, R, true>(p, v, tol);
            }
            {
                INFO("without bias");
                lx_problem<T> p;
                compare<T, R, false>(p, v, tol);
            }
        }
    }
}

}  // namespace

TEMPLATE_TEST_CASE("linear_xent matches torch cross_entropy(addmm) for every option",
                   "[torch][linear_xent]", float, double) {
    const double tol = sizeof(TestType) == 4 ? 2e-5 : 1e-11;
    SECTION("reduction none") {
        all_variants<TestType, reduction::none>(tol);
    }
    SECTION("reduction sum") {
        all_variants<TestType, reduction::sum>(tol);
    }
    SECTION("reduction mean") {
        all_variants<TestType, reduction::mean>(tol);
    }
}

TEMPLATE_TEST_CASE("linear_xent at extreme logits matches torch", "[torch][linear_xent]", float,
                   double) {
    // |x| up to 1e3 makes logits of several thousand: the online max must keep the loss exact.
    const double tol = sizeof(TestType) == 4 ? 1e-4 : 1e-10;
    for (const auto& v : variants()) {
        INFO(v.name);
        lx_problem<TestType> p(1e3);
        compare<TestType, reduction::mean, true>(p, v, tol);
        lx_problem<TestType> q(1e3);
        variant tiled = v;
        tiled.options.tile_rows = 5;
        tiled.options.tile_classes = 4;
        compare<TestType, reduction::sum, true>(q, tiled, tol);
    }
}

TEMPLATE_TEST_CASE("linear_xent with masked classes (a -inf bias) matches torch",
                   "[torch][linear_xent]", float, double) {
    const double tol = sizeof(TestType) == 4 ? 2e-5 : 1e-11;
    constexpr auto inf = std::numeric_limits<TestType>::infinity();
    for (int tiling = 0; tiling < 2; ++tiling) {
        INFO((tiling ? "tiles of 3 × 4" : "one tile"));
        lx_problem<TestType> p;
        // Classes 0, 1, 2, 3 (the whole first tile of 4), 9 and 22 are masked; no label names them.
        for (std::size_t j : {0, 1, 2, 3, 9, 22}) p.b(j) = -inf;
        for (std::size_t i = 0; i < p.N; ++i) p.y(i) = std::int64_t(4 + (i * 3) % 5);
        variant v{"masked", {}, false};
        if (tiling) {
            v.options.tile_rows = 3;
            v.options.tile_classes = 4;
        }
        compare<TestType, reduction::mean, true>(p, v, tol);
        lx_problem<TestType> q = p;
        v.options.z_loss = 0.01;
        compare<TestType, reduction::none, true>(q, v, tol);
    }
}

TEMPLATE_TEST_CASE("the rewriter's linear_xent matches torch", "[torch][linear_xent][rewrite]",
                   float, double) {
    const double tol = sizeof(TestType) == 4 ? 2e-5 : 1e-11;
    lx_problem<TestType> p;
    auto x = fg::param<"x">(p.X);
    auto w = fg::param<"W">(p.W);
    auto b = fg::param<"b">(p.b);
    auto y = fg::labels<"y">(p.y);
    auto tx = to_torch(p.X, true), tw = to_torch(p.W, true), tb = to_torch(p.b, true);
    auto ty = to_torch(p.y);
    SECTION("mean(nll(softmax(linear(x, W, b)), y))") {
        auto e = fg::mean(fg::nll(fg::softmax(fg::linear(x, w, b)), y));
        const auto fired = fg::rules_fired(e);
        CHECK(std::find(fired.begin(), fired.end(), std::string(fg::rules::xent_of_linear.name)) !=
              fired.end());
        auto g = fg::compile(e);
        g.run();
        auto loss = F::cross_entropy(torch::addmm(tb, tx, tw), ty);
        loss.backward();
        check_close(&g.value_view().data[0], 1, loss.detach(), tol);
        check_close(g.template grad<"x">(), tx.grad(), tol);
        check_close(g.template grad<"W">(), tw.grad(), tol);
        check_close(g.template grad<"b">(), tb.grad(), tol);
    }
    SECTION("cross_entropy<sum>(matmul(x, W), y) with label smoothing") {
        fg::xent_options o;
        o.label_smoothing = 0.2;
        auto e = fg::cross_entropy<reduction::sum>(fg::matmul(x, w), y, o);
        const auto fired = fg::rules_fired(e);
        CHECK(std::find(fired.begin(), fired.end(), std::string(fg::rules::xent_of_matmul.name)) !=
              fired.end());
        auto g = fg::compile(e);
        g.run();
        auto loss = F::cross_entropy(
            torch::mm(tx, tw), ty,
            F::CrossEntropyFuncOptions().label_smoothing(0.2).reduction(torch::kSum));
        loss.backward();
        check_close(&g.value_view().data[0], 1, loss.detach(), tol);
        check_close(g.template grad<"x">(), tx.grad(), tol);
        check_close(g.template grad<"W">(), tw.grad(), tol);
    }
}
