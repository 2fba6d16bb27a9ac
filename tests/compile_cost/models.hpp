#pragma once
// Generated models for the compile-cost measurements (scripts/measure-compile-cost.sh) and the
// compile-cost tests: a deep MLP and a residual chain, with one pair of params per layer.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <fusegrad/fusegrad.hpp>

namespace fusegrad_cost {

namespace fg = fusegrad;

/// "W" or "b" followed by the layer index in decimal, as a leaf name: layer_name<'W', 12> is "W12".
template <char Prefix, int I>
constexpr auto layer_name() {
    constexpr int digits = I < 10 ? 1 : I < 100 ? 2 : 3;
    char s[digits + 2]{};
    s[0] = Prefix;
    int v = I;
    for (int k = digits; k >= 1; --k) {
        s[k] = char('0' + v % 10);
        v /= 10;
    }
    s[digits + 1] = '\0';
    return fg::fixed_string<digits + 2>(s);
}

/// The arrays of a model of `Depth` hidden layers of width `Width` (plus the head), initialised
/// deterministically and small, so that deep models stay finite.
template <int Depth>
struct weights {
    static constexpr std::size_t width = 4, classes = 3, batch = 2;
    xt::xtensor<double, 2> X;
    xt::xtensor<std::int32_t, 1> y;
    xt::xtensor<double, 2> W[Depth + 1];
    xt::xtensor<double, 1> b[Depth + 1];
    weights() {
        X = xt::xtensor<double, 2>::from_shape({batch, width});
        for (std::size_t i = 0; i < X.size(); ++i) X.data()[i] = 0.25 * double(i % 7) - 0.6;
        y = {2, 0};
        for (int l = 0; l <= Depth; ++l) {
            const std::size_t out = l == Depth ? classes : width;
            W[l] = xt::xtensor<double, 2>::from_shape({width, out});
            b[l] = xt::xtensor<double, 1>::from_shape({out});
            for (std::size_t i = 0; i < W[l].size(); ++i)
                W[l].data()[i] = 0.3 * double(int((i * 7 + std::size_t(l) * 3) % 11) - 5) / 5.0;
            for (std::size_t i = 0; i < b[l].size(); ++i) b[l].data()[i] = 0.01 * double(i);
        }
    }
};

/// h_{l+1} = relu(linear(h_l, W_l, b_l)) for l < Depth, from h_0 = x; with Residual,
/// h_{l+1} = relu(linear(h_l, W_l, b_l)) + h_l (every level uses h_l twice).
template <bool Residual, int L, int Depth, class H>
auto hidden(weights<Depth>& w, const H& h) {
    if constexpr (L == Depth) {
        return h;
    } else {
        auto layer = fg::relu(fg::linear(h, fg::param<layer_name<'W', L>()>(w.W[L]),
                                         fg::param<layer_name<'b', L>()>(w.b[L])));
        if constexpr (Residual)
            return hidden<Residual, L + 1, Depth>(w, layer + h);
        else
            return hidden<Residual, L + 1, Depth>(w, layer);
    }
}
template <int L, int Depth, class H>
auto mlp_hidden(weights<Depth>& w, const H& h) {
    return hidden<false, L, Depth>(w, h);
}
template <int L, int Depth, class H>
auto residual_hidden(weights<Depth>& w, const H& h) {
    return hidden<true, L, Depth>(w, h);
}

/// The textbook loss over hidden state h: mean(nll(softmax(linear(h, W_D, b_D)), y)).
template <int Depth, class H>
auto textbook_loss(weights<Depth>& w, const H& h) {
    return fg::mean(
        fg::nll(fg::softmax(fg::linear(h, fg::param<layer_name<'W', Depth>()>(w.W[Depth]),
                                       fg::param<layer_name<'b', Depth>()>(w.b[Depth]))),
                fg::labels<"y">(w.y)));
}

}  // namespace fusegrad_cost
