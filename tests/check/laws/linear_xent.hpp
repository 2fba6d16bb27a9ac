#pragma once
// The law fixture of linear_xent (fg::linear_cross_entropy): tests/check/test_op_laws.cpp runs
// the gradient laws over it, on one tile and on a grid of tiles, with every option.

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <fg::reduction R, bool Bias>
struct law_fixture<fg::op::linear_xent<R, Bias>> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        const auto out = R == fg::reduction::none ? fg::shape::vector(5) : fg::shape::scalar();
        M x = mat(5, 3, -1, 1, 61), w = mat(3, 4, -1, 1, 62);
        V b = vec(4, -0.5, 0.5, 63), cw = vec(4, 0.5, 2, 64);
        xt::xtensor<std::int32_t, 1> k = {3, 0, 1, 3, 2};
        auto X = fg::param<"x">(x);
        auto W = fg::param<"W">(w);
        auto B = fg::param<"b">(b);
        auto K = fg::labels<"k">(k);
        auto CW = fg::constant(cw);
        fg::linear_xent_options tiles;
        tiles.tile_rows = 2;
        tiles.tile_classes = 3;
        fg::linear_xent_options every = tiles;
        every.ignore_index = 3;
        every.label_smoothing = 0.1;
        every.z_loss = 0.05;
        every.softcap = 2.0;
        const auto both = [&](const char* what, const fg::linear_xent_options& o) {
            if constexpr (Bias) {
                run(what, fg::linear_cross_entropy<R>(X, W, B, K, o), out);
                run(what, fg::linear_cross_entropy<R>(X, W, B, K, CW, o), out);
            } else {
                run(what, fg::linear_cross_entropy<R>(X, W, K, o), out);
                run(what, fg::linear_cross_entropy<R>(X, W, K, CW, o), out);
            }
        };
        both("one tile", {});
        both("tiles of 2 x 3", tiles);
        both("tiles, ignore_index, smoothing, z-loss, soft-cap", every);
    }
};

}  // namespace fusegrad_test
