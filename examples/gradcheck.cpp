// Gradient checking with fg::check. Three parts:
//   1. the softmax Jacobian of a small vector, numeric and analytic, beside the closed form
//      diag(s) − s sᵀ;
//   2. the gradient check of a softmax-regression model (784 → 10, batch 8, float): fast mode
//      (random projections) and full mode (every entry), each timed;
//   3. a failing check, to show what one looks like: an op whose vjp is wrong.
// Exits non-zero if a correct gradient fails or the wrong one passes.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include <fusegrad/check.hpp>
#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;

namespace example_ops {  // named: clang warns on unused members of ops in an unnamed namespace

// softplus(x) = log(1 + e^x) with a deliberate mistake in its vjp: it uses e^x / (1 + e^x)²
// (the derivative of the sigmoid) where the sigmoid itself belongs.
struct broken_softplus {
    static constexpr std::string_view name = "broken_softplus";
    template <std::size_t R>
    static constexpr std::size_t result_rank = R;
    fg::shape infer(const fg::shape& x) const { return x; }
    template <class T>
    void forward(fg::mview<T> out, fg::cview<T> x) const {
        for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = std::log1p(std::exp(x.data[i]));
    }
    template <class T>
    void vjp(fg::grad_sink<T> dx, fg::cview<T> g, fg::cview<T>, fg::cview<T> x) const {
        if (!dx) return;
        for (std::size_t i = 0; i < x.size(); ++i) {
            const T e = std::exp(x.data[i]);
            dx.data[i] = g.data[i] * e / ((1 + e) * (1 + e)) + dx.beta() * dx.data[i];
        }
    }
};

}  // namespace example_ops

namespace {

using example_ops::broken_softplus;

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main() {
    int failures = 0;

    // ---- 1. the softmax Jacobian -----------------------------------------------------------
    xt::xtensor<double, 1> v = {1.0, 2.0, 0.5, -1.0};
    auto x = fg::param<"v">(v);
    const auto jac = fg::check::jacobian(fg::softmax(x), x);
    std::cout << jac;

    auto sg = fg::compile(fg::softmax(x));  // s = softmax(v), for the closed form
    sg.forward();
    const auto sv = sg.value_view();
    xt::xtensor<double, 2> closed = xt::zeros<double>({v.size(), v.size()});
    for (std::size_t i = 0; i < v.size(); ++i)
        for (std::size_t j = 0; j < v.size(); ++j)
            closed(i, j) = (i == j ? sv.data[i] : 0.0) - sv.data[i] * sv.data[j];
    std::cout << "  closed form diag(s) - s sᵀ:\n";
    fg::check::print_matrix(std::cout, closed, "    ");
    double analytic_off = 0, numeric_off = 0;
    for (std::size_t k = 0; k < closed.size(); ++k) {
        analytic_off = std::max(analytic_off, std::abs(jac.analytic.data()[k] - closed.data()[k]));
        numeric_off = std::max(numeric_off, std::abs(jac.numeric.data()[k] - closed.data()[k]));
    }
    std::printf("  max |analytic - closed form| = %.3g, max |numeric - closed form| = %.3g\n\n",
                analytic_off, numeric_off);
    // The analytic Jacobian is the closed form up to rounding; the numeric one up to the
    // central difference's error, O(eps²) + O(u / eps) ≈ 1e-10 here.
    failures += !(jac.passed() && analytic_off < 1e-14 && numeric_off < 1e-8);

    // ---- 2. softmax regression, 784 -> 10, batch 8 -----------------------------------------
    constexpr std::size_t batch = 8, in = 784, classes = 10;
    auto X = xt::xtensor<float, 2>::from_shape({batch, in});
    auto W = xt::xtensor<float, 2>::from_shape({in, classes});
    auto b = xt::xtensor<float, 1>::from_shape({classes});
    auto y = xt::xtensor<std::int32_t, 1>::from_shape({batch});
    fg::check::random_stream rng(2024);
    for (auto& e : X) e = static_cast<float>(rng.uniform(0, 1));  // pixel-like inputs
    for (auto& e : W) e = static_cast<float>(0.05 * rng.normal());
    for (auto& e : b) e = static_cast<float>(0.1 * rng.normal());
    for (auto& e : y) e = static_cast<std::int32_t>(rng.below(classes));

    auto loss = fg::mean(
        fg::nll(fg::softmax(fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b))),
                fg::labels<"y">(y)));

    fg::check::gradcheck_options fast;
    fast.fast = true;
    auto t0 = std::chrono::steady_clock::now();
    const auto fast_report = fg::check::gradcheck(loss, fast);
    const double fast_s = seconds_since(t0);
    std::cout << fast_report;
    std::printf("  fast mode took %.4f s\n\n", fast_s);
    failures += !fast_report.passed();

    t0 = std::chrono::steady_clock::now();
    const auto full_report = fg::check::gradcheck(loss);  // every one of the 7850 entries
    const double full_s = seconds_since(t0);
    std::cout << full_report;
    std::printf("  full mode took %.3f s (%zu forward passes)\n\n", full_s,
                2 * (in * classes + classes));
    failures += !full_report.passed();

    // ---- 3. a failing check ----------------------------------------------------------------
    xt::xtensor<double, 1> z = {-2.0, -0.5, 0.0, 1.0, 3.0};
    auto bad =
        fg::sum(fg::node<broken_softplus, decltype(fg::param<"z">(z))>{{}, {fg::param<"z">(z)}});
    const auto bad_report = fg::check::gradcheck(bad);
    std::cout << "a deliberately wrong vjp (sigmoid'(z) where sigmoid(z) belongs):\n" << bad_report;
    failures += bad_report.passed();  // it must fail
    const auto& worst_leaf = bad_report.leaf("z");
    std::printf("  worst entry z%s: analytic %.6f, numeric %.6f (sigmoid(3) = %.6f)\n",
                worst_leaf.worst_position().c_str(), worst_leaf.result.worst_analytic,
                worst_leaf.result.worst_numeric, 1 / (1 + std::exp(-3.0)));

    std::printf("\n%s\n", failures == 0 ? "all checks behaved as expected" : "UNEXPECTED");
    return failures == 0 ? 0 : 1;
}
