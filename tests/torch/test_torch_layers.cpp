// layer_norm and embedding against libtorch, in float and double: values and the gradients of
// every operand for a random upstream gradient (layer_norm: x, gamma, beta over rows of several
// widths, rows of near-constant values, a large eps; embedding: repeated indices, int32 and int64).

#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fusegrad/fusegrad.hpp>

#include "../support/torch.hpp"

namespace fg = fusegrad;
using fusegrad_test::agree_elementwise;
using fusegrad_test::filled;
using fusegrad_test::to_torch;
using fusegrad_test::upstream;

namespace {

template <class T>
void layer_norm_agrees(std::size_t rows, std::size_t cols, double eps, double spread) {
    INFO("layer_norm " << rows << "x" << cols << ", eps " << eps << ", spread " << spread
                       << (sizeof(T) == 4 ? " in float" : " in double"));
    // float: against the exact (double) result; the near-constant rows lose |x| / spread · 2^-24.
    const double tol = sizeof(T) == 4 ? 3e-6 * (1 + 3.0 / spread) : 1e-9;
    auto x = filled<T, 2>({rows, cols}, -spread, spread, 1);
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] += T(3);  // a mean away from 0
    auto gamma = filled<T, 1>({cols}, 0.5, 1.5, 2), beta = filled<T, 1>({cols}, -1, 1, 3);
    auto g = fg::compile(
        fg::layer_norm(fg::param<"x">(x), fg::param<"g">(gamma), fg::param<"b">(beta), eps));
    g.forward();
    auto u = upstream<T>(x.size());
    g.backward(fg::cview<T>{u.data(), g.value_shape()});
    // libtorch in double on the same values: in float, rows close to constant are ill-conditioned
    // (|x| / spread = 300 below) and float results differ from the exact ones, ours and torch's.
    auto tx = to_torch(x).to(torch::kFloat64).requires_grad_(true);
    auto tg = to_torch(gamma).to(torch::kFloat64).requires_grad_(true);
    auto tb = to_torch(beta).to(torch::kFloat64).requires_grad_(true);
    auto ty = torch::layer_norm(tx, {static_cast<std::int64_t>(cols)}, tg, tb, eps);
    ty.backward(
        torch::from_blob(u.data(), ty.sizes(), to_torch(x).dtype()).clone().to(torch::kFloat64));
    agree_elementwise(g.value_view().data, ty.detach(), tol, "value");
    agree_elementwise(g.template grad<"x">().data(), tx.grad(), tol, "gradient of x");
    agree_elementwise(g.template grad<"g">().data(), tg.grad(), tol, "gradient of gamma");
    agree_elementwise(g.template grad<"b">().data(), tb.grad(), tol, "gradient of beta");
}

template <class T, class I>
void embedding_agrees(const std::vector<I>& idx,
                      std::optional<std::int64_t> padding_idx = std::nullopt,
                      bool scale_grad_by_freq = false) {
    INFO("embedding" << (sizeof(T) == 4 ? " in float" : " in double") << ", index width "
                     << sizeof(I) << ", padding_idx " << padding_idx.value_or(999)
                     << ", scale_grad_by_freq " << scale_grad_by_freq);
    const double tol = sizeof(T) == 4 ? 3e-6 : 1e-12;
    auto table = filled<T, 2>({11, 7}, -1, 1, 4);
    xt::xtensor<I, 1> k = xt::xtensor<I, 1>::from_shape({idx.size()});
    for (std::size_t i = 0; i < idx.size(); ++i) k[i] = idx[i];
    auto g = fg::compile(
        fg::embedding(fg::param<"w">(table), fg::labels<"k">(k),
                      {.padding_idx = padding_idx, .scale_grad_by_freq = scale_grad_by_freq}));
    g.forward();
    auto u = upstream<T>(idx.size() * 7);
    g.backward(fg::cview<T>{u.data(), g.value_shape()});
    auto tw = to_torch(table, true);
    auto opts = torch::nn::functional::EmbeddingFuncOptions();
    if (padding_idx) opts = opts.padding_idx(*padding_idx);
    if (scale_grad_by_freq) opts = opts.scale_grad_by_freq(true);
    auto ty = torch::nn::functional::embedding(to_torch(k).to(torch::kInt64), tw, opts);
    ty.backward(torch::from_blob(u.data(), ty.sizes(), ty.dtype()).clone());
    agree_elementwise(g.value_view().data, ty.detach(), tol, "value");
    agree_elementwise(g.template grad<"w">().data(), tw.grad(), tol, "gradient of the table");
}

/// linear(embedding(table, k), W, b), rewritten to embedding_linear (the table's rows read in
/// place, its gradient a scatter of g·Wᵀ), against libtorch's embedding then addmm.
template <class T>
void embedding_linear_agrees(const std::vector<std::int64_t>& idx,
                             std::optional<std::int64_t> padding_idx, bool scale_grad_by_freq) {
    INFO("embedding_linear" << (sizeof(T) == 4 ? " in float" : " in double") << ", padding_idx "
                            << padding_idx.value_or(999) << ", scale_grad_by_freq "
                            << scale_grad_by_freq);
    const double tol = sizeof(T) == 4 ? 2e-5 : 1e-12;
    auto table = filled<T, 2>({9, 6}, -1, 1, 14);
    auto W = filled<T, 2>({6, 5}, -1, 1, 15);
    auto b = filled<T, 1>({5}, -1, 1, 16);
    xt::xtensor<std::int64_t, 1> k = xt::xtensor<std::int64_t, 1>::from_shape({idx.size()});
    for (std::size_t i = 0; i < idx.size(); ++i) k[i] = idx[i];
    auto expr = fg::linear(
        fg::embedding(fg::param<"t">(table), fg::labels<"k">(k),
                      {.padding_idx = padding_idx, .scale_grad_by_freq = scale_grad_by_freq}),
        fg::param<"W">(W), fg::param<"b">(b));
    auto g = fg::compile(expr);
    STATIC_REQUIRE(
        fg::contains_op<typename decltype(g)::expression_type, fg::op::embedding_linear>);
    g.forward();
    auto u = upstream<T>(idx.size() * 5);
    g.backward(fg::cview<T>{u.data(), g.value_shape()});
    auto tt = to_torch(table, true), tW = to_torch(W, true), tb = to_torch(b, true);
    auto opts = torch::nn::functional::EmbeddingFuncOptions();
    if (padding_idx) opts = opts.padding_idx(*padding_idx);
    if (scale_grad_by_freq) opts = opts.scale_grad_by_freq(true);
    auto ty = torch::addmm(tb, torch::nn::functional::embedding(to_torch(k), tt, opts), tW);
    ty.backward(torch::from_blob(u.data(), ty.sizes(), ty.dtype()).clone());
    agree_elementwise(g.value_view().data, ty.detach(), tol, "value");
    agree_elementwise(g.template grad<"t">().data(), tt.grad(), tol, "gradient of the table");
    agree_elementwise(g.template grad<"W">().data(), tW.grad(), tol, "gradient of W");
}

}  // namespace

TEMPLATE_TEST_CASE("layer_norm agrees with libtorch", "[torch][layer_norm]", float, double) {
    using T = TestType;
    layer_norm_agrees<T>(6, 37, 1e-5, 2);
    layer_norm_agrees<T>(3, 1024, 1e-5, 5);
    layer_norm_agrees<T>(5, 4, 0.5, 1);       // a large eps
    layer_norm_agrees<T>(4, 16, 1e-5, 1e-2);  // rows close to constant
    layer_norm_agrees<T>(2, 6, -0.5, 3);      // a negative eps, as in PyTorch's own samples
}

TEMPLATE_TEST_CASE("embedding agrees with libtorch", "[torch][embedding]", float, double) {
    using T = TestType;
    embedding_agrees<T, std::int32_t>({3, 0, 10, 3, 3, 7});
    embedding_agrees<T, std::int64_t>({5, 5, 5, 1, 0, 9, 2, 5});
    // PyTorch's padding_idx (its samples use 2 and -1): those rows get no gradient.
    embedding_agrees<T, std::int32_t>({3, 0, 10, 3, 3, 7}, 3);
    embedding_agrees<T, std::int64_t>({5, 10, 5, 1, 0, 10, 2, 5}, -1);
    embedding_agrees<T, std::int64_t>({5, 10, 5}, 4);  // a padding row never picked
    // scale_grad_by_freq: each row of the gradient divided by its index's count in the batch
    // (PyTorch's test_embedding_scale_grad_by_freq counts repeats the same way), with and
    // without a padding row among the repeats.
    embedding_agrees<T, std::int32_t>({3, 0, 10, 3, 3, 7}, std::nullopt, true);
    embedding_agrees<T, std::int64_t>({5, 5, 5, 1, 0, 9, 2, 5, 1}, std::nullopt, true);
    embedding_agrees<T, std::int64_t>({5, 10, 5, 1, 0, 10, 2, 5}, 10, true);
}

TEMPLATE_TEST_CASE("embedding_linear (the rewrite of linear(embedding)) agrees with libtorch",
                   "[torch][embedding]", float, double) {
    using T = TestType;
    embedding_linear_agrees<T>({4, 1, 4, 8, 0, 4, 1}, std::nullopt, false);
    embedding_linear_agrees<T>({4, 1, 4, 8, 0, 4, 1}, std::nullopt, true);
    embedding_linear_agrees<T>({4, 1, 4, 8, 0, 4, 1}, 1, true);
    // more rows than one block of the scatter (kScatterRows = 64), repeats across blocks
    std::vector<std::int64_t> many(150);
    for (std::size_t i = 0; i < many.size(); ++i) many[i] = std::int64_t((i * 7) % 9);
    embedding_linear_agrees<T>(many, 3, true);
}

TEST_CASE("embedding names an index outside the table, layer_norm mismatched gamma",
          "[embedding][layer_norm]") {
    xt::xtensor<double, 2> table = xt::zeros<double>({4, 3});
    xt::xtensor<std::int32_t, 1> k = {1, 4, 0};
    auto g = fg::compile(fg::embedding(fg::param<"w">(table), fg::labels<"k">(k)));
    CHECK_THROWS_WITH(g.forward(),
                      Catch::Matchers::Contains("embedding: index idx[1] = 4 is outside [0, 4)"));
    k = {1, 3, 0};
    auto p = fg::compile(fg::embedding(fg::param<"w">(table), fg::labels<"k">(k), -5));
    CHECK_THROWS_WITH(p.forward(), Catch::Matchers::Contains(
                                       "embedding: padding_idx -5 is outside [-4, 4) for a table "
                                       "of 4 rows"));
    xt::xtensor<double, 2> x = xt::zeros<double>({2, 5});
    xt::xtensor<double, 1> gamma = xt::ones<double>({4}), beta = xt::zeros<double>({5});
    auto ln =
        fg::compile(fg::layer_norm(fg::param<"x">(x), fg::param<"g">(gamma), fg::param<"b">(beta)));
    CHECK_THROWS_WITH(ln.forward(), Catch::Matchers::Contains(
                                        "layer_norm: gamma (4) and beta (5) must have one entry "
                                        "per column of x (2, 5)"));
}
