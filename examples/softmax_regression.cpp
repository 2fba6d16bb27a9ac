// Softmax regression on a small 3-class problem in 2 dimensions, trained by full-batch
// gradient descent through a compiled fusegrad graph. Prints the loss as it falls and the
// class probabilities of a few points; exits non-zero if training did not work.

#include <cmath>
#include <cstdio>
#include <random>

#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;

int main() {
    // Three Gaussian blobs of 60 points each, around three centres.
    constexpr std::size_t per_class = 60, classes = 3, n = per_class * classes;
    const float centres[classes][2] = {{-2.f, 0.f}, {2.f, 0.f}, {0.f, 2.5f}};
    auto X = xt::xtensor<float, 2>::from_shape({n, 2});
    auto y = xt::xtensor<std::int32_t, 1>::from_shape({n});
    std::mt19937 rng(7);
    std::normal_distribution<float> noise(0.f, 0.8f);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<std::int32_t>(i / per_class);
        X(i, 0) = centres[c][0] + noise(rng);
        X(i, 1) = centres[c][1] + noise(rng);
        y(i) = c;
    }

    auto W = xt::xtensor<float, 2>::from_shape({2, classes});
    auto b = xt::xtensor<float, 1>::from_shape({classes});
    W.fill(0.f);
    b.fill(0.f);

    // The model is a type; nothing is computed until run().
    auto probs = fg::softmax(fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b)));
    auto graph = fg::compile(fg::mean(fg::nll(probs, fg::labels<"y">(y))));

    const float lr = 0.5f;
    float first = 0.f, last = 0.f;
    std::printf("step   loss\n");
    for (int step = 0; step <= 200; ++step) {
        graph.run();
        last = graph.value();
        if (step == 0) first = last;
        if (step % 20 == 0) std::printf("%4d   %.4f\n", step, static_cast<double>(last));
        W -= lr * graph.grad<"W">();
        b -= lr * graph.grad<"b">();
    }

    // Class probabilities of a few points: the three centres and one between two of them.
    xt::xtensor<float, 2> points = {{-2.f, 0.f}, {2.f, 0.f}, {0.f, 2.5f}, {0.f, 0.f}};
    auto predict = fg::compile(
        fg::softmax(fg::linear(fg::input<"x">(points), fg::param<"W">(W), fg::param<"b">(b))));
    predict.forward();
    const auto p = predict.value_view();
    std::printf("\npoint            p(class 0)  p(class 1)  p(class 2)\n");
    for (std::size_t i = 0; i < points.shape()[0]; ++i)
        std::printf("(%5.2f, %5.2f)   %9.3f   %9.3f   %9.3f\n", static_cast<double>(points(i, 0)),
                    static_cast<double>(points(i, 1)), static_cast<double>(p.data[3 * i]),
                    static_cast<double>(p.data[3 * i + 1]), static_cast<double>(p.data[3 * i + 2]));

    // Accuracy on the training points.
    auto train = fg::compile(
        fg::softmax(fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b))));
    train.forward();
    const auto a = train.value_view();
    std::size_t correct = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t best = 0;
        for (std::size_t c = 1; c < classes; ++c)
            if (a.data[i * classes + c] > a.data[i * classes + best]) best = c;
        correct += best == static_cast<std::size_t>(y(i));
    }
    const double accuracy = static_cast<double>(correct) / n;
    std::printf("\ntraining accuracy %.3f; loss %.4f -> %.4f\n", accuracy,
                static_cast<double>(first), static_cast<double>(last));

    // ln 3 = 1.0986 is the loss of the all-zero start; a working fit is far below it.
    const bool ok = std::abs(first - std::log(3.f)) < 1e-5f && last < 0.35f && accuracy > 0.9;
    if (!ok) std::printf("FAILED: training did not converge as expected\n");
    return ok ? 0 : 1;
}
