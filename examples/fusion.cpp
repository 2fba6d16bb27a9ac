// The textbook softmax-regression graph before and after fusion. Prints both as text, lists the
// rewrite rules that fired, and writes both graphs as Graphviz DOT (softmax_regression_before.dot
// and softmax_regression_after.dot, in the working directory), rendered to SVG when Graphviz is
// installed. Exits non-zero if the rewritten graph still computes a softmax.

#include <cstdint>
#include <cstdio>
#include <string>

#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;

namespace {

// Writes <stem>.dot, and <stem>.svg when Graphviz's dot is on the PATH. False on a failure.
template <class E>
bool write_graph(const std::string& stem, const E& expr) {
    const std::string dot = stem + ".dot", svg = stem + ".svg";
    if (!fg::write_dot(dot, expr, stem)) {
        std::fprintf(stderr, "cannot write %s\n", dot.c_str());
        return false;
    }
    if (!fg::graphviz_available()) {
        std::printf("  wrote %s (Graphviz not found: no SVG)\n", dot.c_str());
        return true;
    }
    if (!fg::render_svg(dot, svg)) {
        std::fprintf(stderr, "dot could not render %s\n", dot.c_str());
        return false;
    }
    std::printf("  wrote %s and %s\n", dot.c_str(), svg.c_str());
    return true;
}

}  // namespace

int main() {
    // MNIST shapes: a batch of 64 images of 784 pixels, 10 classes. Printing reads only the
    // shapes; nothing is computed.
    auto X = xt::xtensor<float, 2>::from_shape({64, 784});
    auto W = xt::xtensor<float, 2>::from_shape({784, 10});
    auto b = xt::xtensor<float, 1>::from_shape({10});
    auto y = xt::xtensor<std::int32_t, 1>::from_shape({64});
    X.fill(0.f);
    W.fill(0.f);
    b.fill(0.f);
    y.fill(0);

    auto x = fg::input<"x">(X);
    auto w = fg::param<"W">(W);
    auto c = fg::param<"b">(b);
    auto t = fg::labels<"y">(y);
    auto loss = fg::mean(fg::nll(fg::softmax(fg::linear(x, w, c)), t));

    std::printf("before: %s\n", fg::to_string(loss).c_str());
    bool ok = write_graph("softmax_regression_before", loss);

    auto fused = fg::rewrite(loss);
    const auto fired = fg::rules_fired(loss);
    std::printf("\nrules fired, in order:\n");
    for (std::size_t i = 0; i < fired.size(); ++i)
        std::printf("  %zu. %s\n", i + 1, fired[i].c_str());
    if (fired.empty()) std::printf("  (none)\n");

    std::printf("\nafter:  %s\n", fg::to_string(fused).c_str());
    ok = write_graph("softmax_regression_after", fused) && ok;

    // The point of the rewrite: no softmax (and no C×C Jacobian in its backward) is left.
    constexpr bool still_softmax = fg::contains_op<decltype(fused), fg::op::softmax>;
    if (still_softmax) std::printf("\nFAILED: the rewritten graph still contains a softmax\n");
    return ok && !still_softmax ? 0 : 1;
}
