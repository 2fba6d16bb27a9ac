// embedding_linear_xent: the fused linear cross-entropy on rows read in place. Bitwise the
// result of linear_xent on the gathered copy (every instruction set, one tile and grids of
// tiles, soft-cap, 1 and 2 threads); where the builder and the rewriter make it and where they
// must not (a trained table); errors naming the index and the padding row. The gradient laws
// are in tests/check/laws/embedding_linear_xent.hpp.

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#if __has_include(<omp.h>)
#include <omp.h>
#define FUSEGRAD_TEST_HAVE_OMP 1
#endif

#include <xtensor/xtensor.hpp>

#include <fusegrad/fusegrad.hpp>

#include "../kernels/each_arch.hpp"
#include "../support/finite_differences.hpp"

namespace fg = fusegrad;
using fg::reduction;
using fusegrad_test::fill_uniform;

namespace {

/// The value, dW and db of a loss over W and b, after run().
template <class G>
std::vector<float> value_and_grads(G& g) {
    g.run();
    std::vector<float> out{g.value()};
    out.insert(out.end(), g.template grad<"W">().begin(), g.template grad<"W">().end());
    out.insert(out.end(), g.template grad<"b">().begin(), g.template grad<"b">().end());
    return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("embedding_linear_xent gives linear_xent's bits on the gathered rows",
          "[ops][embedding_linear_xent]") {
    // The rows read in place go through the same GEMM paths, blocks and order of sums as the
    // gathered copy (kernels::gemm_rows, team_gemm and gemm_packed_b on row pointers), so every
    // bit is the same: one tile (the forward's gradient tile), grids of tiles with a shorter
    // last row block and a narrow last class tile (the threads' team GEMMs, A packed from row
    // pointers, dW's A read across them at an offset), soft-cap, D past a depth block.
    FUSEGRAD_EACH_ARCH();
    struct problem {
        std::size_t v, n, d, c, tile_rows, tile_classes;
        double softcap;
    };
    const auto p = GENERATE(problem{300, 256, 784, 10, 0, 0, 0.0},  // the softmax epoch's
                            problem{90, 64, 37, 10, 0, 0, 0.0},     // one tile, odd D
                            problem{500, 300, 20, 1000, 100, 72, 0.0},
                            problem{400, 250, 40, 530, 96, 512, 2.0},
                            problem{260, 200, 2100, 40, 100, 32, 0.0});
    INFO("V x D = " << p.v << " x " << p.d << ", N = " << p.n << ", C = " << p.c);
    auto table = xt::xtensor<float, 2>::from_shape({p.v, p.d});
    auto W = xt::xtensor<float, 2>::from_shape({p.d, p.c});
    auto bias = xt::xtensor<float, 1>::from_shape({p.c});
    auto idx = xt::xtensor<std::int64_t, 1>::from_shape({p.n});
    auto y = xt::xtensor<std::int32_t, 1>::from_shape({p.n});
    fill_uniform(table, -1, 1, 5);
    fill_uniform(W, -0.5, 0.5, 6);
    fill_uniform(bias, -1, 1, 7);
    for (std::size_t i = 0; i < p.n; ++i) {
        idx(i) = std::int64_t((i * 7919 + 13) % p.v);  // shuffled, some rows twice
        y(i) = std::int32_t((i * 131) % p.c);
    }
    auto gathered = xt::xtensor<float, 2>::from_shape({p.n, p.d});
    for (std::size_t i = 0; i < p.n; ++i)
        for (std::size_t j = 0; j < p.d; ++j) gathered(i, j) = table(std::size_t(idx(i)), j);
    fg::linear_xent_options o;
    o.label_smoothing = 0.1;
    o.z_loss = 1e-3;
    o.tile_rows = p.tile_rows;
    o.tile_classes = p.tile_classes;
    o.softcap = p.softcap;
    auto W_ = fg::param<"W">(W);
    auto b_ = fg::param<"b">(bias);
    auto y_ = fg::labels<"y">(y);
    const auto in_place = [&] {
        auto loss = fg::linear_cross_entropy(
            fg::embedding(fg::input<"T">(table), fg::labels<"i">(idx)), W_, b_, y_, o);
        STATIC_REQUIRE(
            fg::contains_op<decltype(loss), fg::op::embedding_linear_xent<reduction::mean>>);
        auto g = fg::compile(loss);
        fg::kernels::trace_scope trace;
        auto out = value_and_grads(g);
        // One tile: the logits and dW by gemm_rows (a grid's team GEMMs are not traced).
        if (p.tile_rows == 0) CHECK(trace.count("gemm_rows") == 2);
        // A second run on the same graph: the row pointers are made again, the same bits.
        CHECK(same_bits(value_and_grads(g), out));
        return out;
    };
    auto copy = fg::compile(fg::linear_cross_entropy(fg::input<"x">(gathered), W_, b_, y_, o));
    const auto want = value_and_grads(copy);
    CHECK(same_bits(in_place(), want));
#ifdef FUSEGRAD_TEST_HAVE_OMP
    const int previous = omp_get_max_threads();
    for (const int threads : {1, 2}) {
        INFO(threads << " threads");
        omp_set_num_threads(threads);
        CHECK(same_bits(in_place(), want));
    }
    omp_set_num_threads(previous);
#endif
}

TEST_CASE("embedding_linear_xent: where the builder and the rewriter make it",
          "[ops][embedding_linear_xent]") {
    auto table = xt::xtensor<double, 2>::from_shape({9, 6});
    auto w = xt::xtensor<double, 2>::from_shape({6, 4});
    auto bias = xt::xtensor<double, 1>::from_shape({4});
    fill_uniform(table, -1, 1, 1);
    fill_uniform(w, -1, 1, 2);
    fill_uniform(bias, -1, 1, 3);
    xt::xtensor<std::int32_t, 1> idx = {3, 0, 8, 3, 5};
    xt::xtensor<std::int64_t, 1> y = {0, 3, 1, 2, 2};
    auto I = fg::labels<"i">(idx);
    auto W = fg::param<"W">(w);
    auto B = fg::param<"b">(bias);
    auto Y = fg::labels<"y">(y);
    const auto written_value = [&](const auto& e) {
        auto g = fg::compile(e, fg::no_rewrite);
        g.run();
        return g.value();
    };
    const auto check = [&](const auto& e, auto op) {
        using R = decltype(fg::rewrite(e));
        STATIC_REQUIRE(fg::count_op<R, decltype(op)> == 1);
        STATIC_REQUIRE(!fg::contains_op<R, fg::op::embedding>);
        STATIC_REQUIRE(!fg::contains_op<R, fg::op::linear_xent<reduction::mean, true>>);
        auto g = fg::compile(e);
        g.run();
        CHECK(g.value() == Approx(written_value(e)).epsilon(1e-12));
    };
    // A constant or an input table: the written forms of a softmax regression on a dataset's
    // rows, each to embedding_linear_xent with its reduction (through embedding_linear and the
    // mean and sum folds).
    for (int kind = 0; kind < 2; ++kind) {
        const auto with_table = [&](const auto& T) {
            auto E = fg::embedding(T, I, 8);
            check(fg::cross_entropy(fg::linear(E, W, B), Y),
                  fg::op::embedding_linear_xent<reduction::mean>{});
            check(fg::mean(fg::nll(fg::softmax(fg::linear(E, W, B)), Y)),
                  fg::op::embedding_linear_xent<reduction::mean>{});
            check(fg::sum(fg::cross_entropy<reduction::none>(fg::linear(E, W, B), Y)),
                  fg::op::embedding_linear_xent<reduction::sum>{});
            using P =
                decltype(fg::rewrite(fg::cross_entropy<reduction::none>(fg::linear(E, W, B), Y)));
            STATIC_REQUIRE(fg::count_op<P, fg::op::embedding_linear_xent<reduction::none>> == 1);
        };
        if (kind == 0)
            with_table(fg::constant(table));
        else
            with_table(fg::input<"T">(table));
    }
    // A trained table keeps linear_xent on the embedding: its gradient needs the N×D rows of
    // G·Wᵀ held anyway.
    auto trained = fg::cross_entropy(fg::linear(fg::embedding(fg::param<"T">(table), I), W, B), Y);
    using R = decltype(fg::rewrite(trained));
    STATIC_REQUIRE(fg::count_op<R, fg::op::linear_xent<reduction::mean, true>> == 1);
    STATIC_REQUIRE(fg::contains_op<R, fg::op::embedding>);
    STATIC_REQUIRE(!fg::contains_op<R, fg::op::embedding_linear_xent<reduction::mean>>);
    using L = decltype(fg::linear_cross_entropy(fg::embedding(fg::param<"T">(table), I), W, B, Y));
    STATIC_REQUIRE(fg::contains_op<L, fg::op::linear_xent<reduction::mean, true>>);
    // The options and padding_idx carried over: ignore_index and smoothing change the value.
    fg::xent_options xo;
    xo.label_smoothing = 0.3;
    xo.ignore_index = 2;
    auto opts =
        fg::cross_entropy(fg::linear(fg::embedding(fg::constant(table), I, -1), W, B), Y, xo);
    using O = decltype(fg::rewrite(opts));
    STATIC_REQUIRE(fg::contains_op<O, fg::op::embedding_linear_xent<reduction::mean>>);
    auto g = fg::compile(opts);
    g.run();
    CHECK(g.value() == Approx(written_value(opts)).epsilon(1e-12));
    CHECK(fg::to_string(fg::rewrite(opts)).find("padding_idx=-1") != std::string::npos);
}

TEST_CASE("embedding_linear_xent names a bad index or padding row and writes nothing",
          "[ops][embedding_linear_xent]") {
    auto table = xt::xtensor<float, 2>::from_shape({4, 3});
    auto w = xt::xtensor<float, 2>::from_shape({3, 2});
    fill_uniform(table, -1, 1, 1);
    fill_uniform(w, -1, 1, 2);
    xt::xtensor<float, 1> b = {0.f, 1.f};
    xt::xtensor<std::int64_t, 1> idx = {1, 2, 0};
    xt::xtensor<std::int64_t, 1> y = {0, 1, 1};
    auto g = fg::compile(
        fg::linear_cross_entropy(fg::embedding(fg::constant(table), fg::labels<"i">(idx)),
                                 fg::param<"W">(w), fg::param<"b">(b), fg::labels<"y">(y)));
    g.run();
    const float value = g.value();
    const xt::xtensor<float, 2> dW = g.grad<"W">();
    const xt::xtensor<float, 1> db = g.grad<"b">();
    // A failed run leaves no value to read (value() asks for a run) and the gradients as they
    // were.
    const auto unchanged = [&] {
        CHECK(g.grad<"W">() == dW);
        CHECK(g.grad<"b">() == db);
    };
    idx(1) = 4;  // the leaf reads the array at every run
    REQUIRE_THROWS_WITH(g.run(), Catch::Contains("idx[1] = 4 is outside [0, 4)"));
    unchanged();
    idx(1) = -1;
    REQUIRE_THROWS_WITH(g.run(), Catch::Contains("idx[1] = -1 is outside [0, 4)"));
    unchanged();
    idx(1) = 2;
    y(2) = 2;
    REQUIRE_THROWS_WITH(g.run(), Catch::Contains("y[2] = 2 is outside [0, 2)"));
    unchanged();
    y(2) = 1;
    g.run();
    CHECK(g.value() == value);
    unchanged();
    auto padded = fg::compile(
        fg::linear_cross_entropy(fg::embedding(fg::constant(table), fg::labels<"i">(idx), 4),
                                 fg::param<"W">(w), fg::param<"b">(b), fg::labels<"y">(y)));
    REQUIRE_THROWS_WITH(padded.run(), Catch::Contains("padding_idx 4 is outside [-4, 4)"));
}
