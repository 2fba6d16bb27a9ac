// The elementwise unary ops against libtorch, in float and double: values and vector-Jacobian
// products for a random upstream gradient, over a grid through each op's interesting region and
// its special points (0, saturation at ±30 and ±1000, the softplus threshold, pow at 0 and at
// negative bases). Equal infinities and NaN where libtorch has NaN count as agreement.

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

std::vector<double> grid(double lo, double hi, std::size_t n, std::vector<double> extra) {
    std::vector<double> v;
    for (std::size_t i = 0; i < n; ++i) v.push_back(lo + (hi - lo) * double(i) / double(n - 1));
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
}

// op(x) and its vjp for upstream u, against torch_op.
template <class T, class Build, class TorchOp>
void agree(const std::string& what, const std::vector<double>& xs, Build build, TorchOp torch_op) {
    INFO(what << (sizeof(T) == 4 ? " in float" : " in double"));
    const double tol = sizeof(T) == 4 ? 3e-5 : 1e-10;
    xt::xtensor<T, 2> x = xt::xtensor<T, 2>::from_shape({1, xs.size()});
    xt::xtensor<T, 2> u = xt::xtensor<T, 2>::from_shape({1, xs.size()});
    for (std::size_t i = 0; i < xs.size(); ++i) {
        x(0, i) = T(xs[i]);
        u(0, i) = T(0.25 + double((i * 7) % 11) / 8.0);
    }
    auto g = fg::compile(build(fg::param<"x">(x)));
    g.forward();
    g.backward(fg::cview<T>{u.data(), g.value_shape()});

    auto tx = to_torch(x, true);
    auto ty = torch_op(tx);
    ty.backward(to_torch(u));
    agree_elementwise(g.value_view().data, ty.detach(), tol, "value");
    agree_elementwise(g.template grad<"x">().data(), tx.grad(), tol, "gradient");
}

const std::vector<double> saturating = {0.0, -0.0, 30, -30, 88, -88, 1000, -1000};

}  // namespace

TEMPLATE_TEST_CASE("activations agree with libtorch", "[torch][unary]", float, double) {
    using T = TestType;
    const auto xs = grid(-8, 8, 67, saturating);
    agree<T>(
        "sigmoid", xs, [](auto x) { return fg::sigmoid(x); },
        [](const torch::Tensor& t) { return torch::sigmoid(t); });
    agree<T>(
        "tanh", xs, [](auto x) { return fg::tanh(x); },
        [](const torch::Tensor& t) { return torch::tanh(t); });
    agree<T>(
        "silu", xs, [](auto x) { return fg::silu(x); },
        [](const torch::Tensor& t) { return torch::silu(t); });
    agree<T>(
        "gelu", xs, [](auto x) { return fg::gelu(x); },
        [](const torch::Tensor& t) { return torch::gelu(t); });
    agree<T>(
        "gelu tanh", xs, [](auto x) { return fg::gelu(x, "tanh"); },
        [](const torch::Tensor& t) { return torch::gelu(t, "tanh"); });
    agree<T>(
        "softplus", xs, [](auto x) { return fg::softplus(x); },
        [](const torch::Tensor& t) { return torch::softplus(t); });
    const auto near_threshold = grid(-8, 8, 67, {2.4, 2.5, 2.6, 30, -30, 1000, -1000});
    agree<T>(
        "softplus beta 2 threshold 5", near_threshold,
        [](auto x) { return fg::softplus(x, 2.0, 5.0); },
        [](const torch::Tensor& t) { return torch::softplus(t, 2.0, 5.0); });
    // A negative beta, which PyTorch computes by the same formula (its samples use none, but
    // nothing in it refuses one).
    agree<T>(
        "softplus beta -1", near_threshold, [](auto x) { return fg::softplus(x, -1.0); },
        [](const torch::Tensor& t) { return torch::softplus(t, -1.0); });
    agree<T>(
        "softplus beta -0.5 threshold 5", near_threshold,
        [](auto x) { return fg::softplus(x, -0.5, 5.0); },
        [](const torch::Tensor& t) { return torch::softplus(t, -0.5, 5.0); });
    for (const double slope : {0.01, 0.2, -0.5}) {
        agree<T>(
            "leaky_relu " + std::to_string(slope), xs,
            [slope](auto x) { return fg::leaky_relu(x, slope); },
            [slope](const torch::Tensor& t) { return torch::leaky_relu(t, slope); });
    }
}

TEMPLATE_TEST_CASE("elementwise maths agrees with libtorch", "[torch][unary]", float, double) {
    using T = TestType;
    const auto xs = grid(-4, 4, 41, {0.0, -0.0, 1e-3, -1e-3, 100, -100});
    agree<T>(
        "square", xs, [](auto x) { return fg::square(x); },
        [](const torch::Tensor& t) { return torch::square(t); });
    agree<T>(
        "abs", xs, [](auto x) { return fg::abs(x); },
        [](const torch::Tensor& t) { return torch::abs(t); });
    // sqrt: NaN below 0, a gradient of +inf at 0.
    agree<T>(
        "sqrt", grid(0, 16, 41, {0.0, 1e-6, -1.0, 1e4}), [](auto x) { return fg::sqrt(x); },
        [](const torch::Tensor& t) { return torch::sqrt(t); });
    for (const double p : {0.0, 1.0, 2.0, 3.0, 0.5, -1.5, 2.5, -2.0}) {
        agree<T>(
            "pow " + std::to_string(p), xs, [p](auto x) { return fg::pow(x, p); },
            [p](const torch::Tensor& t) { return torch::pow(t, p); });
    }
}

/// pow(x, p) forward and backward (upstream ones) in fusegrad and in libtorch, over the bases xs
/// in element type T; compare(ours, libtorch's) for each element of the value and the gradient.
template <class T, class Compare>
void pow_against_torch(const std::vector<double>& xs, double p, Compare compare) {
    xt::xtensor<T, 2> x = xt::xtensor<T, 2>::from_shape({1, xs.size()});
    for (std::size_t i = 0; i < xs.size(); ++i) x(0, i) = T(xs[i]);
    INFO("p = " << p << (sizeof(T) == 4 ? " in float" : " in double"));
    auto g = fg::compile(fg::pow(fg::param<"x">(x), p));
    g.forward();
    xt::xtensor<T, 2> u = xt::ones<T>({std::size_t(1), xs.size()});
    g.backward(fg::cview<T>{u.data(), g.value_shape()});
    auto tx = to_torch(x, true);
    auto ty = torch::pow(tx, p);
    ty.backward(to_torch(u));
    const auto each = [&](const T* ours, const torch::Tensor& theirs, const char* what) {
        auto t = theirs.contiguous().to(torch::kFloat64);
        for (std::int64_t i = 0; i < t.numel(); ++i) {
            const double a = double(ours[i]), b = t.data_ptr<double>()[i];
            INFO(what << " at x = " << xs[std::size_t(i)] << ": ours " << a << ", libtorch " << b);
            compare(a, b);
        }
    };
    each(g.value_view().data, ty.detach(), "value");
    each(g.template grad<"x">().data(), tx.grad(), "gradient");
}

TEMPLATE_TEST_CASE("pow at ±inf and at subnormal bases agrees with libtorch, relatively",
                   "[torch][unary]", float, double) {
    // xsimd 8.1's pow gave NaN at −inf for a non-integer p and wrong digits at subnormal bases
    // (1e-310^0.3 = 5.5e-98, not 1e-93): values that agree_elementwise's absolute floor accepts,
    // so the comparison here is relative.
    using T = TestType;
    const double tiny = sizeof(T) == 4 ? 1e-40 : 1e-310;
    const std::vector<double> xs = {INFINITY, -INFINITY, tiny, -tiny, 3 * tiny, 0.5, 2.0, -2.0};
    for (const double p : {0.3, 1.5, -0.7, 2.5, 1.0 / 3.0, 5.0, -3.0, 1e-3}) {
        // CHECK is glog's once torch is included: Catch's CHECK_FALSE, negated.
        pow_against_torch<T>(xs, p, [](double a, double b) {
            if (std::isnan(b))
                CHECK_FALSE(!std::isnan(a));
            else if (std::isinf(b) || b == 0)
                CHECK_FALSE(a != b);
            else
                CHECK_FALSE(!(std::abs(a - b) <= (sizeof(T) == 4 ? 1e-5 : 1e-12) * std::abs(b)));
        });
    }
}

TEMPLATE_TEST_CASE("pow with a NaN or infinite exponent agrees with libtorch", "[torch][unary]",
                   float, double) {
    // IEEE pow, as PyTorch: x^NaN is NaN except 1^NaN = 1, and (±1)^(±inf) = 1 (xsimd 8.1's pow
    // gave NaN at 1 and at −1, 0 at −inf and inf at ±0 for a NaN exponent). Values and
    // gradients: NaN where libtorch's is NaN, else equal.
    const std::vector<double> xs = {-INFINITY, -2.0, -1.0, -0.5, -0.0,
                                    0.0,       0.5,  1.0,  2.0,  INFINITY};
    // 1e39 and -1e39 are ±inf in float (as libtorch casts the exponent), finite in double.
    for (const double p : {std::nan(""), double(INFINITY), -double(INFINITY), 1e39, -1e39}) {
        pow_against_torch<TestType>(xs, p, [](double a, double b) {
            if (std::isnan(b))
                CHECK_FALSE(!std::isnan(a));
            else
                CHECK_FALSE(a != b);
        });
    }
}

TEST_CASE("unary op options are checked and printed", "[torch][unary]") {
    xt::xtensor<double, 1> v = {1.0, -2.0};
    auto x = fg::param<"x">(v);
    CHECK_THROWS_WITH(fg::gelu(x, "erf"), Catch::Contains("approximate must be"));
    CHECK_THROWS_WITH(fg::softplus(x, 0.0), Catch::Contains("beta must be finite and not 0"));
    CHECK_THROWS_WITH(fg::softplus(x, std::numeric_limits<double>::infinity()),
                      Catch::Contains("beta must be finite and not 0"));
    CHECK_THAT(fg::to_string(fg::leaky_relu(x, 0.25)), Catch::Contains("negative_slope=0.25"));
    CHECK_THAT(fg::to_string(fg::pow(x, -1.5)), Catch::Contains("exponent=-1.5"));
    CHECK_THAT(fg::to_string(fg::gelu(x, "tanh")), Catch::Contains("approximate=tanh"));
}
