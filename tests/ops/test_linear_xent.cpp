// linear_xent (fg::linear_cross_entropy): vjps against central finite differences for every
// option on one tile and on a grid of tiles (z-loss and soft-cap included, which no unfused
// graph spells), tiled against untiled, bitwise the same for 1 and 2 threads, the rewriter's
// decisions (where it fires and where it must not), and the error messages. libtorch agreement
// is in tests/torch/test_torch_linear_xent.cpp, the memory bound in tests/grad/test_memory.cpp
// and tests/grad/test_allocations.cpp.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#if __has_include(<omp.h>)
#include <omp.h>
#define FUSEGRAD_TEST_HAVE_OMP 1
#endif

#include <fusegrad/fusegrad.hpp>

#include "../kernels/each_arch.hpp"
#include "../support/finite_differences.hpp"

namespace fg = fusegrad;
using fg::reduction;
using fusegrad_test::check_vjp;
using fusegrad_test::fill_uniform;

namespace {

constexpr std::size_t N = 11, D = 4, C = 9;

struct arrays {
    xt::xtensor<double, 2> X{xt::xtensor<double, 2>::from_shape({N, D})};
    xt::xtensor<double, 2> W{xt::xtensor<double, 2>::from_shape({D, C})};
    xt::xtensor<double, 1> b{xt::xtensor<double, 1>::from_shape({C})};
    xt::xtensor<double, 1> cw{xt::xtensor<double, 1>::from_shape({C})};
    xt::xtensor<std::int32_t, 1> y{xt::xtensor<std::int32_t, 1>::from_shape({N})};
    arrays() {
        fill_uniform(X, -1, 1, 1);
        fill_uniform(W, -1, 1, 2);
        fill_uniform(b, -0.5, 0.5, 3);
        fill_uniform(cw, 0.3, 2, 4);
        for (std::size_t i = 0; i < N; ++i) y(i) = std::int32_t((i * 4 + 1) % C);
        y(2) = y(7) = -1;  // the ignore index of the options below
    }
};

std::vector<fg::linear_xent_options> option_sets() {
    std::vector<fg::linear_xent_options> v(1);
    v.back().ignore_index = -1;
    auto o = v.back();
    o.label_smoothing = 0.2;
    v.push_back(o);
    o.z_loss = 0.1;
    v.push_back(o);
    o.softcap = 1.5;
    v.push_back(o);
    return v;
}

template <reduction R, class E>
void check_all_vjps(E expr, arrays& a, unsigned seed) {
    auto g = fg::compile(expr, fg::no_rewrite);
    check_vjp<"x">(g, a.X, seed);
    check_vjp<"W">(g, a.W, seed + 1);
    check_vjp<"b">(g, a.b, seed + 2);
}

}  // namespace

TEST_CASE("linear_xent's vjps match central differences for every option and tiling",
          "[ops][linear_xent]") {
    arrays a;
    auto x = fg::param<"x">(a.X);
    auto W = fg::param<"W">(a.W);
    auto b = fg::param<"b">(a.b);
    auto y = fg::labels<"y">(a.y);
    auto cw = fg::constant(a.cw);
    unsigned seed = 10;
    for (auto o : option_sets()) {
        for (int tiling = 0; tiling < 3; ++tiling) {
            o.tile_rows = tiling == 0 ? 0 : tiling == 1 ? 3 : 1;
            o.tile_classes = tiling == 0 ? 0 : tiling == 1 ? 4 : 9;
            INFO("smoothing " << o.label_smoothing << ", z_loss " << o.z_loss << ", softcap "
                              << o.softcap << ", tiles " << o.tile_rows << " x " << o.tile_classes);
            check_all_vjps<reduction::none>(
                fg::linear_cross_entropy<reduction::none>(x, W, b, y, o), a, seed += 3);
            check_all_vjps<reduction::sum>(
                fg::linear_cross_entropy<reduction::sum>(x, W, b, y, cw, o), a, seed += 3);
            check_all_vjps<reduction::mean>(
                fg::linear_cross_entropy<reduction::mean>(x, W, b, y, cw, o), a, seed += 3);
            auto g = fg::compile(fg::linear_cross_entropy<reduction::mean>(x, W, y, o));
            check_vjp<"x">(g, a.X, seed += 3);
            check_vjp<"W">(g, a.W, seed += 3);
        }
    }
}

TEST_CASE("linear_xent: the value is the closed form, z-loss and soft-cap included",
          "[ops][linear_xent]") {
    arrays a;
    fg::linear_xent_options o;
    o.ignore_index = -1;
    o.label_smoothing = 0.1;
    o.z_loss = 0.03;
    o.softcap = 2.0;
    o.tile_rows = 4;
    o.tile_classes = 2;
    auto g = fg::compile(fg::linear_cross_entropy<reduction::mean>(
        fg::param<"x">(a.X), fg::param<"W">(a.W), fg::param<"b">(a.b), fg::labels<"y">(a.y),
        fg::constant(a.cw), o));
    g.forward();
    // By hand: s = c tanh((xW + b) / c); CE_i = Σ_j t_ij (lse_i − s_ij) with t_ij = w_j ((1 − ε)
    // [j = y_i] + ε / C); mean = Σ CE_i / Σ w_{y_i} + λ Σ lse_i² / (rows kept), ignored rows out.
    double ce = 0, z = 0, wsum = 0, kept = 0;
    for (std::size_t i = 0; i < N; ++i) {
        if (a.y(i) == -1) continue;
        double s[C], mx = -1e300, e = 0;
        for (std::size_t j = 0; j < C; ++j) {
            double v = a.b(j);
            for (std::size_t k = 0; k < D; ++k) v += a.X(i, k) * a.W(k, j);
            s[j] = 2.0 * std::tanh(v / 2.0);
            mx = std::max(mx, s[j]);
        }
        for (double v : s) e += std::exp(v - mx);
        const double lse = mx + std::log(e);
        for (std::size_t j = 0; j < C; ++j) {
            const double t = a.cw(j) * (0.9 * (std::size_t(a.y(i)) == j) + 0.1 / C);
            ce += t * (lse - s[j]);
        }
        wsum += a.cw(std::size_t(a.y(i)));
        z += lse * lse;
        kept += 1;
    }
    CHECK_THAT(g.value(), Catch::Matchers::WithinRel(ce / wsum + 0.03 * z / kept, 1e-13));
}

TEST_CASE("linear_xent gives bitwise the same loss and gradients with 1 and 2 threads",
          "[ops][linear_xent][threads]") {
#ifndef FUSEGRAD_TEST_HAVE_OMP
    WARN("built without OpenMP: one thread only, nothing to compare");
#else
    // With 2 threads the forward and backward run in one parallel region, each thread on its
    // share of a tile's rows (logits, G, dx), of dW's rows and of db's columns, and the threads
    // make each GEMM together with one packed B (team_gemm); with 1 thread a share is the whole
    // tile. Shapes with several row and class tiles, a shorter last row block (the forward's
    // threads then change rows between blocks), a narrow last class tile (32 or fewer columns),
    // D of 20, soft-cap (tile B in use), and D = 2100 in two equal row blocks: the packed W
    // slices then have 9 depth blocks and more than one column block, and only the barriers
    // around their packing keep a thread from packing the next class tile's slice while the
    // other still reads this one (the test fails without either). Every instruction set.
    FUSEGRAD_EACH_ARCH();
    struct problem {
        std::size_t n, d, c, tile_rows, tile_classes;
        double softcap;
    };
    const auto p = GENERATE(problem{700, 96, 1100, 0, 0, 0.0},      // tiles of 256 x 512
                            problem{300, 20, 1000, 100, 72, 0.0},   // last class tile 64 wide
                            problem{250, 40, 530, 96, 512, 2.0},    // last class tile 18 wide
                            problem{200, 2100, 40, 100, 32, 0.0});  // last class tile 8 wide
    INFO("N x D x C = " << p.n << " x " << p.d << " x " << p.c << ", softcap " << p.softcap);
    auto X = xt::xtensor<float, 2>::from_shape({p.n, p.d});
    auto W = xt::xtensor<float, 2>::from_shape({p.d, p.c});
    auto bias = xt::xtensor<float, 1>::from_shape({p.c});
    auto y = xt::xtensor<std::int64_t, 1>::from_shape({p.n});
    fill_uniform(X, -1, 1, 5);
    fill_uniform(W, -0.5, 0.5, 6);
    fill_uniform(bias, -1, 1, 7);
    for (std::size_t i = 0; i < p.n; ++i) y(i) = std::int64_t((i * 131) % p.c);
    fg::linear_xent_options o;
    o.label_smoothing = 0.1;
    o.z_loss = 1e-3;
    o.tile_rows = p.tile_rows;
    o.tile_classes = p.tile_classes;
    o.softcap = p.softcap;
    auto run = [&](int threads) {
        const int previous = omp_get_max_threads();
        omp_set_num_threads(threads);
        auto g = fg::compile(fg::linear_cross_entropy(fg::param<"x">(X), fg::param<"W">(W),
                                                      fg::param<"b">(bias), fg::labels<"y">(y), o));
        g.run();
        std::vector<float> out{g.value()};
        for (const auto* a : {&g.grad<"x">(), &g.grad<"W">()})
            out.insert(out.end(), a->begin(), a->end());
        out.insert(out.end(), g.grad<"b">().begin(), g.grad<"b">().end());
        // A second run on the same graph (the workspace now holds the first run's numbers).
        g.run();
        out.push_back(g.value());
        out.insert(out.end(), g.grad<"W">().begin(), g.grad<"W">().end());
        // W and b frozen: dx alone, no dW or db whose barriers the tiles' turns could lean on.
        auto frozen = fg::compile(fg::linear_cross_entropy(
            fg::param<"x">(X), fg::input<"W">(W), fg::input<"b">(bias), fg::labels<"y">(y), o));
        frozen.run();
        out.push_back(frozen.value());
        out.insert(out.end(), frozen.grad<"x">().begin(), frozen.grad<"x">().end());
        omp_set_num_threads(previous);
        return out;
    };
    const auto one = run(1), two = run(2);
    REQUIRE(one.size() == two.size());
    CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
#endif
}

TEST_CASE("linear_xent in run(): the one-tile gradient made in the forward, and what else",
          "[ops][linear_xent]") {
    arrays a;
    fg::linear_xent_options o;
    o.ignore_index = -1;
    o.label_smoothing = 0.1;
    auto loss =
        fg::linear_cross_entropy(fg::param<"x">(a.X), fg::param<"W">(a.W), fg::param<"b">(a.b),
                                 fg::labels<"y">(a.y), fg::constant(a.cw), o);
    auto split = fg::compile(loss);
    split.forward();  // forward() alone: no gradient made
    split.backward();
    const xt::xtensor<double, 2> dW = split.grad<"W">();
    const xt::xtensor<double, 2> dx = split.grad<"x">();
    auto g = fg::compile(loss);
    {
        fg::kernels::trace_scope trace;
        g.run();
        CHECK(trace.count("softmax_xent_index_rows_fused") == 1);
    }
    CHECK_THAT(g.value(), Catch::Matchers::WithinRel(split.value(), 1e-14));
    for (std::size_t i = 0; i < dW.size(); ++i)
        CHECK_THAT(g.grad<"W">().data()[i], Catch::Matchers::WithinAbs(dW.data()[i], 1e-15));
    for (std::size_t i = 0; i < dx.size(); ++i)
        CHECK_THAT(g.grad<"x">().data()[i], Catch::Matchers::WithinAbs(dx.data()[i], 1e-15));
    // A second backward with an upstream of 3: the gradient tile was made for 1, so it is
    // recomputed (and 3 times the first).
    const double three = 3.0;
    g.backward(fg::cview<double>{&three, fg::shape::scalar()});
    for (std::size_t i = 0; i < dW.size(); ++i)
        CHECK_THAT(g.grad<"W">().data()[i], Catch::Matchers::WithinAbs(3 * dW.data()[i], 1e-14));
    // And again with 1: still right.
    g.backward();
    for (std::size_t i = 0; i < dW.size(); ++i)
        CHECK_THAT(g.grad<"W">().data()[i], Catch::Matchers::WithinAbs(dW.data()[i], 1e-15));
}

TEST_CASE("linear_xent: an empty batch gives a zero loss and zero gradients, whatever the tiles",
          "[ops][linear_xent]") {
    // N = 0 (sum and none; mean refuses an empty batch): the tiling has no class tile to step by,
    // and the kernel must neither loop nor read x.
    auto X = xt::xtensor<double, 2>::from_shape({0, 3});
    auto W = xt::xtensor<double, 2>::from_shape({3, 5});
    auto bias = xt::xtensor<double, 1>::from_shape({5});
    auto y = xt::xtensor<std::int64_t, 1>::from_shape({0});
    fill_uniform(W, -1, 1, 3);
    fill_uniform(bias, -1, 1, 4);
    for (const std::size_t tile : {std::size_t(0), std::size_t(2)}) {
        INFO("tiles " << tile << " x " << tile);
        fg::linear_xent_options o;
        o.tile_rows = tile;
        o.tile_classes = tile;
        auto g = fg::compile(fg::linear_cross_entropy<reduction::sum>(
            fg::param<"x">(X), fg::param<"W">(W), fg::param<"b">(bias), fg::labels<"y">(y), o));
        g.run();
        CHECK(g.value() == 0.0);
        CHECK(g.grad<"x">().size() == 0);
        for (const double v : g.grad<"W">()) CHECK(v == 0.0);
        for (const double v : g.grad<"b">()) CHECK(v == 0.0);
    }
}

TEST_CASE("linear_xent: tiles of every size give the same result", "[ops][linear_xent]") {
    arrays a;
    auto value_and_dw = [&](std::size_t rows, std::size_t classes) {
        fg::linear_xent_options o;
        o.tile_rows = rows;
        o.tile_classes = classes;
        o.label_smoothing = 0.05;
        o.ignore_index = -1;
        auto g = fg::compile(
            fg::linear_cross_entropy<reduction::sum>(fg::param<"x">(a.X), fg::param<"W">(a.W),
                                                     fg::param<"b">(a.b), fg::labels<"y">(a.y), o));
        g.run();
        std::vector<double> out{g.value()};
        out.insert(out.end(), g.grad<"W">().begin(), g.grad<"W">().end());
        out.insert(out.end(), g.grad<"x">().begin(), g.grad<"x">().end());
        return out;
    };
    const auto whole = value_and_dw(0, 0);
    for (std::size_t r : {1, 2, 5, 11, 50})
        for (std::size_t c : {1, 3, 8, 9, 20}) {
            INFO("tiles " << r << " x " << c);
            const auto t = value_and_dw(r, c);
            for (std::size_t i = 0; i < whole.size(); ++i)
                CHECK_THAT(t[i],
                           Catch::Matchers::WithinAbs(whole[i], 1e-13 * (1 + std::abs(whole[i]))));
        }
}

TEST_CASE("the rewriter makes linear_xent only where it is the same computation",
          "[ops][linear_xent][rewrite]") {
    arrays a;
    a.y(2) = a.y(7) = 0;  // no ignore index here
    auto x = fg::param<"x">(a.X);
    auto W = fg::param<"W">(a.W);
    auto b = fg::param<"b">(a.b);
    auto y = fg::labels<"y">(a.y);
    auto logits = fg::linear(x, W, b);
    using fused_mean = fg::op::linear_xent<reduction::mean, true>;
    STATIC_REQUIRE(
        fg::contains_op<decltype(fg::rewrite(fg::cross_entropy(logits, y))), fused_mean>);
    STATIC_REQUIRE(fg::contains_op<decltype(fg::rewrite(fg::cross_entropy<reduction::none>(
                                       fg::matmul(x, W), y, fg::constant(a.cw)))),
                                   fg::op::linear_xent<reduction::none, false>>);
    STATIC_REQUIRE(fg::contains_op<decltype(fg::rewrite(
                                       fg::sum(fg::cross_entropy<reduction::none>(logits, y)))),
                                   fg::op::linear_xent<reduction::sum, true>>);
    // A target matrix is not class indices: no linear_xent.
    auto P = xt::xtensor<double, 2>::from_shape({N, C});
    P.fill(1.0 / C);
    STATIC_REQUIRE_FALSE(
        fg::contains_op<decltype(fg::rewrite(fg::cross_entropy(logits, fg::constant(P)))),
                        fused_mean>);
    // The logits used elsewhere too (here: also summed into the loss): fusing would compute them
    // twice, so the rule does not fire.
    auto shared = fg::add(fg::cross_entropy(logits, y), fg::sum(logits));
    STATIC_REQUIRE_FALSE(fg::contains_op<decltype(fg::rewrite(shared)), fused_mean>);
    auto g = fg::compile(shared);
    auto u = fg::compile(shared, fg::no_rewrite);
    g.run();
    u.run();
    CHECK_THAT(g.value(), Catch::Matchers::WithinRel(u.value(), 1e-13));
    // Options travel: ignore_index and smoothing reach the fused op.
    fg::xent_options o;
    o.ignore_index = -1;
    o.label_smoothing = 0.25;
    const auto r = fg::rewrite(fg::cross_entropy(logits, y, o));
    CHECK(r.op.options.ignore_index == std::optional<std::int64_t>(-1));
    CHECK(r.op.options.label_smoothing == 0.25);
}

TEST_CASE("linear_xent: errors name the op, the shapes and the values", "[ops][linear_xent]") {
    arrays a;
    auto x = fg::input<"x">(a.X);
    auto W = fg::param<"W">(a.W);
    auto b = fg::param<"b">(a.b);
    xt::xtensor<std::int32_t, 1> bad = a.y;
    bad(5) = std::int32_t(C);
    {
        auto g = fg::compile(fg::linear_cross_entropy(x, W, b, fg::labels<"y">(bad)));
        CHECK_THROWS_MATCHES(
            g.forward(), fg::label_error,
            Catch::Matchers::Message("linear_xent: label y[2] = -1 is outside [0, 9)"));
    }
    {
        fg::linear_xent_options o;
        o.ignore_index = -1;
        auto g = fg::compile(fg::linear_cross_entropy(x, W, b, fg::labels<"y">(bad), o));
        CHECK_THROWS_MATCHES(
            g.forward(), fg::label_error,
            Catch::Matchers::Message("linear_xent: label y[5] = 9 is outside [0, 9)"));
    }
    {
        xt::xtensor<std::int32_t, 1> short_y = xt::zeros<std::int32_t>({N - 1});
        auto g = fg::compile(fg::linear_cross_entropy(x, W, b, fg::labels<"y">(short_y)));
        CHECK_THROWS_AS(g.forward(), fg::shape_error);
    }
    {
        auto W2 = xt::xtensor<double, 2>::from_shape({D + 1, C});
        auto g =
            fg::compile(fg::linear_cross_entropy(x, fg::param<"W2">(W2), b, fg::labels<"y">(a.y)));
        CHECK_THROWS_WITH(g.forward(), Catch::Matchers::Contains(
                                           "linear_xent: x has 4 columns but W has 5 rows"));
    }
    fg::linear_xent_options o;
    o.z_loss = -1;
    CHECK_THROWS_WITH(fg::linear_cross_entropy(x, W, b, fg::labels<"y">(a.y), o),
                      Catch::Matchers::Contains("z_loss must be finite and ≥ 0, got -1"));
    o.z_loss = 0;
    o.softcap = std::nan("");
    CHECK_THROWS_WITH(fg::linear_cross_entropy(x, W, b, fg::labels<"y">(a.y), o),
                      Catch::Matchers::Contains("softcap"));
    o.softcap = 0;
    o.label_smoothing = 1.5;
    CHECK_THROWS_AS(fg::linear_cross_entropy(x, W, b, fg::labels<"y">(a.y), o),
                    std::invalid_argument);
}
