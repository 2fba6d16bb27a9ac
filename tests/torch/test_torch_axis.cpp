// Reductions along an axis, logsumexp and the shape ops against libtorch, in float and double:
// values and vector-Jacobian products for a random upstream gradient. Rows of ±inf and a NaN for
// logsumexp and max_rows; ties for max_rows (the gradient at the first maximum, where
// torch.max(x, 1) puts it).

#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <fusegrad/fusegrad.hpp>

#include "../support/torch.hpp"

namespace fg = fusegrad;
using fusegrad_test::agree_elementwise;
using fusegrad_test::to_torch;

namespace {

template <class T>
xt::xtensor<T, 2> grid(std::size_t rows, std::size_t cols, double lo, double hi, unsigned seed) {
    auto a = fusegrad_test::filled<T, 2>({rows, cols}, lo, hi, seed);
    return a;
}

/// op(x) and its vjp for a random upstream, against torch_op.
template <class T, class Build, class TorchOp>
void agree(const std::string& what, const xt::xtensor<T, 2>& x, Build build, TorchOp torch_op,
           bool check_grad = true) {
    INFO(what << (sizeof(T) == 4 ? " in float" : " in double"));
    const double tol = sizeof(T) == 4 ? 3e-5 : 1e-10;
    auto g = fg::compile(build(fg::param<"x">(x)));
    g.forward();
    const fg::shape out = g.value_shape();
    auto u = fusegrad_test::upstream<T>(out.size());
    g.backward(fg::cview<T>{u.data(), out});
    auto tx = to_torch(x, true);
    auto ty = torch_op(tx);
    REQUIRE(static_cast<std::size_t>(ty.numel()) == out.size());
    ty.backward(torch::from_blob(u.data(), ty.sizes(), ty.dtype()).clone());
    agree_elementwise(g.value_view().data, ty.detach(), tol, "value");
    if (check_grad) agree_elementwise(g.template grad<"x">().data(), tx.grad(), tol, "gradient");
}

}  // namespace

TEMPLATE_TEST_CASE("axis reductions and logsumexp agree with libtorch", "[torch][reduce]", float,
                   double) {
    using T = TestType;
    const auto x = grid<T>(7, 37, -5, 5, 1);
    agree<T>(
        "sum_rows", x, [](auto v) { return fg::sum_rows(v); },
        [](const torch::Tensor& t) { return t.sum(1, true); });
    agree<T>(
        "mean_rows", x, [](auto v) { return fg::mean_rows(v); },
        [](const torch::Tensor& t) { return t.mean(1, true); });
    agree<T>(
        "sum_cols", x, [](auto v) { return fg::sum_cols(v); },
        [](const torch::Tensor& t) { return t.sum(0); });
    agree<T>(
        "mean_cols", x, [](auto v) { return fg::mean_cols(v); },
        [](const torch::Tensor& t) { return t.mean(0); });
    agree<T>(
        "max_rows", x, [](auto v) { return fg::max_rows(v); },
        [](const torch::Tensor& t) { return std::get<0>(t.max(1, true)); });
    agree<T>(
        "logsumexp", x, [](auto v) { return fg::logsumexp(v); },
        [](const torch::Tensor& t) { return torch::logsumexp(t, 1, true); });
    // Large logits: e^x overflows, the max-subtracted sum does not.
    const auto big = grid<T>(4, 19, -1000, 1000, 2);
    agree<T>(
        "logsumexp of ±1000", big, [](auto v) { return fg::logsumexp(v); },
        [](const torch::Tensor& t) { return torch::logsumexp(t, 1, true); });
    // x - logsumexp(x) is log_softmax.
    agree<T>(
        "x - logsumexp(x)", x, [](auto v) { return v - fg::logsumexp(v); },
        [](const torch::Tensor& t) { return torch::log_softmax(t, 1); });
    // Ties: the gradient goes to the first maximum, as torch.max(x, 1).
    auto ties = grid<T>(3, 6, -1, 1, 3);
    for (std::size_t i = 0; i < 3; ++i) ties(i, 1) = ties(i, 4) = T(2);
    agree<T>(
        "max_rows with ties", ties, [](auto v) { return fg::max_rows(v); },
        [](const torch::Tensor& t) { return std::get<0>(t.max(1, true)); });
    // Rows of -inf, +inf and NaN: values as torch (gradients there are NaN or 0 by convention).
    auto special = grid<T>(3, 5, -1, 1, 4);
    const T inf = std::numeric_limits<T>::infinity();
    for (std::size_t j = 0; j < 5; ++j) special(0, j) = -inf;
    special(1, 2) = inf;
    special(2, 3) = std::numeric_limits<T>::quiet_NaN();
    agree<T>(
        "logsumexp of -inf, +inf, NaN rows", special, [](auto v) { return fg::logsumexp(v); },
        [](const torch::Tensor& t) { return torch::logsumexp(t, 1, true); }, false);
    agree<T>(
        "max_rows of -inf, +inf, NaN rows", special, [](auto v) { return fg::max_rows(v); },
        [](const torch::Tensor& t) { return std::get<0>(t.max(1, true)); }, false);
}

TEMPLATE_TEST_CASE("shape ops agree with libtorch", "[torch][shape]", float, double) {
    using T = TestType;
    const auto x = grid<T>(5, 37, -3, 3, 5);
    agree<T>(
        "transpose", x, [](auto v) { return fg::transpose(v); },
        [](const torch::Tensor& t) { return t.t(); });
    agree<T>(
        "reshape 37x5", x, [](auto v) { return fg::reshape(v, 37, 5); },
        [](const torch::Tensor& t) {
            return t.reshape({37, 5});
        });
    agree<T>(
        "reshape 185", x, [](auto v) { return fg::reshape(v, 185); },
        [](const torch::Tensor& t) { return t.reshape({185}); });
    agree<T>(
        "flatten", x, [](auto v) { return fg::flatten(v); },
        [](const torch::Tensor& t) { return t.flatten(); });
    agree<T>(
        "concat(x, exp(x), x)", x, [](auto v) { return fg::concat(v, fg::exp(v), v); },
        [](const torch::Tensor& t) {
            return torch::cat({t, t.exp(), t}, 1);
        });
    agree<T>(
        "transpose(x) * x-row broadcast", x, [](auto v) { return fg::matmul(fg::transpose(v), v); },
        [](const torch::Tensor& t) { return t.t().mm(t); });
}

TEST_CASE("shape ops and axis reductions name the shapes they cannot take", "[shape]") {
    xt::xtensor<double, 2> a = xt::zeros<double>({3, 4}), b = xt::zeros<double>({2, 4}),
                           e = xt::zeros<double>({3, 0});
    auto r = fg::compile(fg::reshape(fg::param<"a">(a), 5, 2));
    CHECK_THROWS_WITH(r.forward(), Catch::Matchers::Contains(
                                       "reshape: cannot reshape x (3, 4) (12 elements) to (5, 2)"));
    auto c = fg::compile(fg::concat(fg::param<"a">(a), fg::param<"b">(b)));
    CHECK_THROWS_WITH(c.forward(),
                      Catch::Matchers::Contains("concat: cannot put a (3, 4) and b (2, 4)"));
    auto m = fg::compile(fg::max_rows(fg::param<"e">(e)));
    CHECK_THROWS_WITH(m.forward(),
                      Catch::Matchers::Contains("max_rows: x (3, 0) has rows of no entries"));
}
