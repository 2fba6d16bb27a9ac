// fg::nn::data_parallel against libtorch: the parts' gradients, added, must be the whole batch's
// as libtorch's autograd computes it on the whole batch (what torch.nn.DataParallel returns),
// for a model of linear, layer_norm and GELU layers under the mean and the summed cross-entropy,
// in float and double, with the parts run on two threads.

#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>

#include <fusegrad/fusegrad.hpp>
#include <fusegrad/nn/data_parallel.hpp>
#include <fusegrad/nn/threads.hpp>

#include "../support/torch.hpp"

namespace fg = fusegrad;
using fusegrad_test::agree_elementwise;
using fusegrad_test::filled;
using fusegrad_test::to_torch;

namespace {

template <class T, fg::reduction R>
void data_parallel_agrees(std::size_t rows, std::size_t parts) {
    INFO((sizeof(T) == 4 ? "float" : "double") << ", " << rows << " rows in " << parts << " parts, "
                                               << (R == fg::reduction::mean ? "mean" : "sum"));
    const double tol = sizeof(T) == 4 ? 2e-5 : 1e-11;
    auto x = filled<T, 2>({rows, 9}, -2, 2, 1);
    auto W1 = filled<T, 2>({9, 8}, -0.6, 0.6, 2), W2 = filled<T, 2>({8, 5}, -0.7, 0.7, 3);
    auto b1 = filled<T, 1>({8}, -0.2, 0.3, 4), b2 = filled<T, 1>({5}, -0.1, 0.1, 5);
    auto gamma = filled<T, 1>({8}, 0.5, 1.5, 6), beta = filled<T, 1>({8}, -0.3, 0.3, 7);
    xt::xtensor<std::int64_t, 1> y = xt::xtensor<std::int64_t, 1>::from_shape({rows});
    for (std::size_t i = 0; i < rows; ++i) y(i) = static_cast<std::int64_t>((i * 3 + 1) % 5);

    auto h = fg::gelu(
        fg::layer_norm(fg::linear(fg::input<"x">(x), fg::param<"W1">(W1), fg::param<"b1">(b1)),
                       fg::param<"gamma">(gamma), fg::param<"beta">(beta)));
    auto graph = fg::compile(fg::cross_entropy<R>(
        fg::linear(h, fg::param<"W2">(W2), fg::param<"b2">(b2)), fg::labels<"y">(y)));
    fg::nn::set_num_threads(2);
    auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = parts, .loss = R});
    dp.run();
    fg::nn::set_num_threads(1);

    // libtorch on the whole batch (F::linear takes W as out × in).
    auto tW1 = to_torch(W1, true), tb1 = to_torch(b1, true), tW2 = to_torch(W2, true),
         tb2 = to_torch(b2, true), tg = to_torch(gamma, true), tbeta = to_torch(beta, true);
    namespace F = torch::nn::functional;
    auto th = torch::gelu(torch::layer_norm(F::linear(to_torch(x), tW1.t(), tb1), {8}, tg, tbeta));
    auto options = F::CrossEntropyFuncOptions();
    if constexpr (R == fg::reduction::sum) options.reduction(torch::kSum);
    auto loss = F::cross_entropy(F::linear(th, tW2.t(), tb2), to_torch(y), options);
    loss.backward();
    const T value = dp.value();
    agree_elementwise(&value, loss.detach().reshape({1}), tol, "loss");
    agree_elementwise(graph.template grad<"W1">().data(), tW1.grad(), tol, "gradient of W1");
    agree_elementwise(graph.template grad<"b1">().data(), tb1.grad(), tol, "gradient of b1");
    agree_elementwise(graph.template grad<"gamma">().data(), tg.grad(), tol, "gradient of gamma");
    agree_elementwise(graph.template grad<"beta">().data(), tbeta.grad(), tol, "gradient of beta");
    agree_elementwise(graph.template grad<"W2">().data(), tW2.grad(), tol, "gradient of W2");
    agree_elementwise(graph.template grad<"b2">().data(), tb2.grad(), tol, "gradient of b2");
}

}  // namespace

TEST_CASE("data_parallel's summed gradients are libtorch's whole-batch gradients",
          "[torch][data_parallel]") {
    data_parallel_agrees<double, fg::reduction::mean>(29, 2);
    data_parallel_agrees<double, fg::reduction::mean>(29, 4);
    data_parallel_agrees<double, fg::reduction::sum>(29, 3);
    data_parallel_agrees<float, fg::reduction::mean>(64, 2);
    data_parallel_agrees<float, fg::reduction::sum>(17, 3);
}
