// A user's own fused op, end to end: a new op (forward and vector-Jacobian product), a rule
// that introduces it, and proof that the rewritten graph gives the values and gradients of the
// graph as written — and stays finite where the written one overflows.
//
// The op: log_add_exp(x, c) = log(e^x + c), elementwise, for a scalar c. Written naively,
// log(exp(x) + c) overflows to inf once e^x does (x > 88.7 in float). Fused, it is computed as
// m + log(e^{x-m} + c·e^{-m}) with m = max(x, log c), finite for every x when c > 0.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

#include <fusegrad/check.hpp>
#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;
using namespace fg::placeholders;

// ---- the op: maths only; the engine does storage, shapes and traversal (docs/design.md) ----
struct log_add_exp {
    static constexpr std::string_view name = "log_add_exp";
    template <std::size_t X, std::size_t C>
    static constexpr std::size_t result_rank = X;

    fg::shape infer(const fg::shape& x, const fg::shape& c) const {
        if (c.rank != 0) throw fg::shape_error("log_add_exp: c must be a scalar, got " + c.str());
        return x;
    }

    // out = log(e^x + c) = m + log(e^{x-m} + e^{log c - m}),  m = max(x, log c)
    template <class T>
    void forward(fg::mview<T> out, fg::cview<T> x, fg::cview<T> c) const {
        const T cv = c.data[0];
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (cv > T(0)) {
                const T lc = std::log(cv), m = std::max(x.data[i], lc);
                out.data[i] = m + std::log(std::exp(x.data[i] - m) + std::exp(lc - m));
            } else {
                out.data[i] = std::log(std::exp(x.data[i]) + cv);
            }
        }
    }

    // dx = g · e^x / (e^x + c) = g · e^{x - out};   dc = Σ g / (e^x + c) = Σ g · e^{-out}
    template <class T>
    void vjp(fg::grad_sink<T> dx, fg::grad_sink<T> dc, fg::cview<T> g, fg::cview<T> out,
             fg::cview<T> x, fg::cview<T>) const {
        if (dx)
            for (std::size_t i = 0; i < x.size(); ++i)
                dx.data[i] = g.data[i] * std::exp(x.data[i] - out.data[i]) + dx.beta() * dx.data[i];
        if (dc) {
            T s = 0;
            for (std::size_t i = 0; i < x.size(); ++i) s += g.data[i] * std::exp(-out.data[i]);
            dc.data[0] = dc.accumulate ? dc.data[0] + s : s;
        }
    }
};

// ---- the rule: log(exp(x) + c) -> log_add_exp(x, c), for a scalar c only ----
inline const auto fuse_log_add_exp = fg::make_rule<
    fg::pattern<fg::op::log, fg::pattern<fg::op::add, fg::pattern<fg::op::exp, _1_t>, _2_t>>>(
    "log(exp(x) + c) -> log_add_exp(x, c)", [](const auto& x, const auto& c) {
        using X = std::remove_cvref_t<decltype(x)>;
        using C = std::remove_cvref_t<decltype(c)>;
        if constexpr (C::rank == 0)
            return fg::node<log_add_exp, X, C>{{}, {x, c}};
        else
            return fg::decline;  // a vector or matrix c is another op
    });

template <class T, class A>
T max_abs_diff(const A& a, const A& b) {
    T worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(a.data()[i] - b.data()[i]));
    return worst;
}

int main() {
    int failures = 0;
    auto check = [&](bool ok, const std::string& what) {
        std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
        failures += !ok;
    };

    // 1. The rewritten graph: the rule fired, the new op is in, exp and log are gone.
    xt::xtensor<double, 1> x = {-3.0, -0.5, 0.0, 1.5, 4.0};
    xt::xtensor<double, 0> one = 1.0;
    auto loss = fg::sum(fg::log(fg::exp(fg::param<"x">(x)) + fg::constant(one)));
    auto rules = fuse_log_add_exp + fg::default_rules();
    using fused_t = decltype(fg::rewrite(loss, rules));
    static_assert(fg::contains_op<fused_t, log_add_exp> && !fg::contains_op<fused_t, fg::op::exp>);
    std::printf("as written: %s\nrewritten:  %s\n", fg::to_string(loss).c_str(),
                fg::to_string(fg::rewrite(loss, rules)).c_str());
    for (const auto& r : fg::rules_fired(loss, rules)) std::printf("fired:      %s\n", r.c_str());

    // 2. Same values and gradients as the graph as written (double precision).
    auto fused = fg::compile(loss, rules);
    auto written = fg::compile(loss, fg::no_rewrite);
    fused.run();
    written.run();
    check(std::abs(fused.value() - written.value()) <= 1e-14 * std::abs(written.value()),
          "value equals the unfused graph's: " + std::to_string(fused.value()));
    check(max_abs_diff<double>(fused.grad<"x">(), written.grad<"x">()) <= 1e-15,
          "gradient equals the unfused graph's");

    // 3. The gradient against central differences of the fused forward pass.
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double old = x(i), h = 1e-6;
        x(i) = old + h;
        fused.forward();
        const double plus = fused.value();
        x(i) = old - h;
        fused.forward();
        const double minus = fused.value();
        x(i) = old;
        worst = std::max(worst, std::abs((plus - minus) / (2 * h) - fused.grad<"x">()(i)));
    }
    check(worst < 1e-8,
          "gradient matches central differences (max error " + std::to_string(worst) + ")");

    // 4. Where the written graph overflows (float: e^100 = inf), the fused op is finite:
    //    log(e^100 + 1) = 100 + log1p(e^-100) = 100 to float precision; d/dx = sigmoid(100) = 1.
    xt::xtensor<float, 1> big = {100.f, -100.f};
    xt::xtensor<float, 0> onef = 1.f;
    auto big_loss = fg::sum(fg::log(fg::exp(fg::param<"x">(big)) + fg::constant(onef)));
    auto big_fused = fg::compile(big_loss, rules);
    auto big_written = fg::compile(big_loss, fg::no_rewrite);
    big_fused.run();
    big_written.run();
    std::printf("x = (100, -100): written %g, fused %g\n", static_cast<double>(big_written.value()),
                static_cast<double>(big_fused.value()));
    check(std::isinf(big_written.value()), "the graph as written overflows to inf");
    check(std::abs(big_fused.value() - 100.f) < 1e-4f, "the fused graph gives 100 + log1p(e^-100)");
    check(std::abs(big_fused.grad<"x">()(0) - 1.f) < 1e-6f &&
              std::abs(big_fused.grad<"x">()(1)) < 1e-6f,
          "its gradient is (sigmoid(100), sigmoid(-100)) = (1, 0)");

    // 5. The rule verified on random inputs by fg::check::verify_rule: pattern and replacement
    //    agree in value and gradient, and both agree with central differences. x is a vector
    //    in [-3, 3), c a scalar in [0.5, 2) (the rule declines a vector c: no match to verify).
    fg::check::verify_options vopts;
    vopts.trials = 4;
    const auto verified = fg::check::verify_rule(
        fuse_log_add_exp, vopts, fg::check::vector(6, -3, 3), fg::check::scalar(0.5, 2));
    std::cout << verified;
    check(verified.passed(), "verify_rule: values and gradients agree three ways");

    return failures == 0 ? 0 : 1;
}
