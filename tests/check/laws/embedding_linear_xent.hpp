#pragma once
// The law fixture of embedding_linear_xent (fg::linear_cross_entropy on fg::embedding of a table
// without gradient): tests/check/test_op_laws.cpp runs the gradient laws over W and b, on one
// tile and on a grid of tiles, with repeated indices, rows never picked and every option.

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <fg::reduction R>
struct law_fixture<fg::op::embedding_linear_xent<R>> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        const auto out = R == fg::reduction::none ? fg::shape::vector(6) : fg::shape::scalar();
        M table = mat(7, 3, -1, 1, 211), w = mat(3, 4, -1, 1, 212);
        V b = vec(4, -0.5, 0.5, 213), cw = vec(4, 0.5, 2, 214);
        xt::xtensor<std::int64_t, 1> rows = {5, 0, 5, 2, 6, 1};
        xt::xtensor<std::int32_t, 1> k = {3, 0, 1, 3, 2, 1};
        auto E = fg::embedding(fg::input<"t">(table), fg::labels<"i">(rows));
        auto W = fg::param<"W">(w);
        auto B = fg::param<"b">(b);
        auto K = fg::labels<"k">(k);
        auto CW = fg::constant(cw);
        fg::linear_xent_options tiles;
        tiles.tile_rows = 4;
        tiles.tile_classes = 3;
        fg::linear_xent_options every = tiles;
        every.ignore_index = 3;
        every.label_smoothing = 0.1;
        every.z_loss = 0.05;
        every.softcap = 2.0;
        for (const auto& [what, o] :
             {std::pair{"one tile", fg::linear_xent_options{}}, std::pair{"tiles of 4 x 3", tiles},
              std::pair{"tiles, every option", every}}) {
            run(what, fg::linear_cross_entropy<R>(E, W, B, K, o), out);
            run(what, fg::linear_cross_entropy<R>(E, W, B, K, CW, o), out);
        }
    }
};

}  // namespace fusegrad_test
