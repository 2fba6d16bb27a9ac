// Consumer of an installed fusegrad: links fusegrad::fusegrad found through find_package and
// uses the public graph API. Expected values are worked out by hand below.
#include <fusegrad/fusegrad.hpp>

#include <cmath>
#include <cstdio>

namespace fg = fusegrad;

int main() {
    xt::xtensor<float, 2> X = {{1.f, 2.f}, {3.f, 4.f}};
    xt::xtensor<float, 2> W = {{0.f, 0.f}, {0.f, 0.f}};
    xt::xtensor<float, 1> b = {0.f, 0.f};
    xt::xtensor<std::int32_t, 1> y = {0, 1};

    auto loss = fg::mean(
        fg::nll(fg::softmax(fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b))),
                fg::labels<"y">(y)));
    auto graph = fg::compile(loss);
    graph.run();

    // W = 0: every softmax row is (1/2, 1/2), so L = ln 2 and A − Y = [[-1/2, 1/2], [1/2, -1/2]].
    // dW = Xᵀ(A − Y)/2 = [[1, -1], [1, -1]]/2; db = column-mean(A − Y) = [0, 0].
    const float expected_dW[4] = {0.5f, -0.5f, 0.5f, -0.5f};
    int failures = 0;
    if (std::abs(graph.value() - std::log(2.f)) > 1e-6f) {
        std::fprintf(stderr, "loss %g, expected ln 2\n", static_cast<double>(graph.value()));
        ++failures;
    }
    const auto& dW = graph.grad<"W">();
    for (int i = 0; i < 4; ++i) {
        if (std::abs(dW.data()[i] - expected_dW[i]) > 1e-6f) {
            std::fprintf(stderr, "dW[%d] = %g, expected %g\n", i, static_cast<double>(dW.data()[i]),
                         static_cast<double>(expected_dW[i]));
            ++failures;
        }
    }
    for (float v : graph.grad<"b">()) failures += std::abs(v) > 1e-6f;
    if (failures != 0) return 1;
    std::printf("fusegrad consumer: softmax regression gradients OK\n");
    return 0;
}
