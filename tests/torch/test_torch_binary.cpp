// The elementwise binary ops (mul, div) against libtorch, in float and double: values and the
// vector-Jacobian products of both operands for a random upstream gradient, for every broadcast
// PyTorch allows at ranks 0 to 2 (scalar, row vector, 1×C row, N×1 column, both operands
// broadcast at once), rows wider than a SIMD batch, and division by ±0 (±inf as in PyTorch).

#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cstddef>
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

template <class T, std::size_t RA, std::size_t RB, class Build, class TorchOp>
void agree(const std::string& what, std::array<std::size_t, RA> da, std::array<std::size_t, RB> db,
           double blo, Build build, TorchOp torch_op, bool with_zeros = false) {
    INFO(what << (sizeof(T) == 4 ? " in float" : " in double"));
    const double tol = sizeof(T) == 4 ? 3e-5 : 1e-10;
    auto a = filled<T, RA>(da, -2, 2, 1);
    auto b = filled<T, RB>(db, blo, 2, 2);
    if (with_zeros && b.size() >= 2) {
        b.data()[0] = T(0);
        b.data()[1] = T(-0.0);
    }
    auto g = fg::compile(build(fg::param<"a">(a), fg::param<"b">(b)));
    g.forward();
    const fg::shape out = g.value_shape();
    auto u = upstream<T>(out.size());
    g.backward(fg::cview<T>{u.data(), out});

    auto ta = to_torch(a, true), tb = to_torch(b, true);
    auto ty = torch_op(ta, tb);
    REQUIRE(static_cast<std::size_t>(ty.numel()) == out.size());
    auto tu = torch::from_blob(u.data(), ty.sizes(), ty.dtype()).clone();
    ty.backward(tu);
    agree_elementwise(g.value_view().data, ty.detach(), tol, "value");
    agree_elementwise(g.template grad<"a">().data(), ta.grad(), tol, "gradient of a");
    agree_elementwise(g.template grad<"b">().data(), tb.grad(), tol, "gradient of b");
}

template <class T, class Build, class TorchOp>
void every_broadcast(const std::string& op, double blo, Build build, TorchOp torch_op) {
    using A1 = std::array<std::size_t, 1>;
    using A2 = std::array<std::size_t, 2>;
    using A0 = std::array<std::size_t, 0>;
    agree<T>(op + " matrix, matrix", A2{5, 37}, A2{5, 37}, blo, build, torch_op);
    agree<T>(op + " matrix, vector", A2{5, 37}, A1{37}, blo, build, torch_op);
    agree<T>(op + " vector, matrix", A1{37}, A2{5, 37}, blo, build, torch_op);
    agree<T>(op + " matrix, 1xC", A2{5, 37}, A2{1, 37}, blo, build, torch_op);
    agree<T>(op + " 1xC, matrix", A2{1, 37}, A2{5, 37}, blo, build, torch_op);
    agree<T>(op + " matrix, Nx1", A2{5, 37}, A2{5, 1}, blo, build, torch_op);
    agree<T>(op + " Nx1, matrix", A2{5, 1}, A2{5, 37}, blo, build, torch_op);
    agree<T>(op + " Nx1, 1xC", A2{5, 1}, A2{1, 37}, blo, build, torch_op);
    agree<T>(op + " Nx1, vector", A2{5, 1}, A1{37}, blo, build, torch_op);
    agree<T>(op + " matrix, scalar", A2{5, 37}, A0{}, blo, build, torch_op);
    agree<T>(op + " scalar, matrix", A0{}, A2{5, 37}, blo, build, torch_op);
    agree<T>(op + " vector, vector", A1{37}, A1{37}, blo, build, torch_op);
    agree<T>(op + " vector, 1-vector", A1{37}, A1{1}, blo, build, torch_op);
    agree<T>(op + " scalar, scalar", A0{}, A0{}, blo, build, torch_op);
    agree<T>(op + " 1x1, matrix", A2{1, 1}, A2{5, 37}, blo, build, torch_op);
}

}  // namespace

TEMPLATE_TEST_CASE("mul, div and sub agree with libtorch under every broadcast", "[torch][binary]",
                   float, double) {
    using T = TestType;
    every_broadcast<T>(
        "sub", -2, [](auto a, auto b) { return a - b; },
        [](const torch::Tensor& a, const torch::Tensor& b) { return a - b; });
    agree<T>(
        "sub through fg::sub", std::array<std::size_t, 2>{5, 37}, std::array<std::size_t, 2>{5, 1},
        -1, [](auto a, auto b) { return fg::sub(a, b); },
        [](const torch::Tensor& a, const torch::Tensor& b) { return torch::sub(a, b); });
    every_broadcast<T>(
        "mul", -2, [](auto a, auto b) { return a * b; },
        [](const torch::Tensor& a, const torch::Tensor& b) { return a * b; });
    every_broadcast<T>(
        "div", 0.25, [](auto a, auto b) { return a / b; },
        [](const torch::Tensor& a, const torch::Tensor& b) { return a / b; });
    using A2 = std::array<std::size_t, 2>;
    agree<T>(
        "div by +0 and -0", A2{3, 20}, A2{3, 20}, 0.25,
        [](auto a, auto b) { return fg::div(a, b); },
        [](const torch::Tensor& a, const torch::Tensor& b) { return torch::div(a, b); }, true);
    agree<T>(
        "mul through fg::mul", A2{3, 20}, A2{1, 20}, -1,
        [](auto a, auto b) { return fg::mul(a, b); },
        [](const torch::Tensor& a, const torch::Tensor& b) { return torch::mul(a, b); });
}
