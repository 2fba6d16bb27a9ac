// Compile cost of a deep model: FUSEGRAD_DEPTH hidden relu(linear(...)) layers (or, with
// FUSEGRAD_RESIDUAL, residual levels h + relu(linear(h))) under the textbook softmax-NLL loss,
// compiled with the default rules and run; with FUSEGRAD_GRADCHECK also a fast-mode gradcheck.
// Measured by scripts/measure-compile-cost.sh; also run as a test.

#include <cmath>
#include <cstdio>

#include <fusegrad/fusegrad.hpp>
#ifdef FUSEGRAD_GRADCHECK
#include <fusegrad/check.hpp>
#endif

#include "models.hpp"

#ifndef FUSEGRAD_DEPTH
#define FUSEGRAD_DEPTH 16
#endif

namespace fg = fusegrad;

int main() {
    constexpr int depth = FUSEGRAD_DEPTH;
    static fusegrad_cost::weights<depth> w;
    auto x = fg::input<"x">(w.X);
#ifdef FUSEGRAD_RESIDUAL
    auto loss = fusegrad_cost::textbook_loss(w, fusegrad_cost::residual_hidden<0, depth>(w, x));
#else
    auto loss = fusegrad_cost::textbook_loss(w, fusegrad_cost::mlp_hidden<0, depth>(w, x));
#endif
#if defined(FUSEGRAD_STAGE) && FUSEGRAD_STAGE < 4
    // The pipeline cut short, to see what each stage costs (scripts/measure-compile-cost.sh,
    // STAGES=1): 1 builds the expression, 2 also rewrites it, 3 also compiles the graph.
#if FUSEGRAD_STAGE == 1
    const auto& result = loss;
#elif FUSEGRAD_STAGE == 2
    const auto result = fg::rewrite(loss);
#else
    const auto result = fg::compile(loss);
#endif
    std::printf("%zu\n", sizeof(result));
    return 0;
#else
    auto graph = fg::compile(loss);
#if defined(FUSEGRAD_STAGE)  // 4: and runs the forward only
    graph.forward();
    std::printf("%f\n", graph.value());
    return 0;
#else
    graph.run();
    const double value = graph.value();
    const auto& dW0 = graph.grad<"W0">();
    bool ok = std::isfinite(value) && dW0.size() == w.W[0].size();
    for (std::size_t i = 0; i < dW0.size(); ++i) ok = ok && std::isfinite(dW0.data()[i]);
#ifdef FUSEGRAD_GRADCHECK
    fg::check::gradcheck_options opts;
    opts.fast = true;
    opts.throw_on_failure = false;
    const auto report = fg::check::gradcheck(loss, opts);
    ok = ok && report.passed();
#endif
    std::printf("values %zu, rewrites %zu, loss %.12f%s\n", decltype(graph)::num_values,
                graph.rules_fired().size(), value, ok ? "" : " FAILED");
    return ok ? 0 : 1;
#endif
#endif
}
