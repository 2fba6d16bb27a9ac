#pragma once
// Test support: checks an engine gradient against central finite differences in double.
// (The library's own gradient checker is fg::check; this helper is deliberately independent of
// it so that the core tests do not rest on the code they test.)

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include <fusegrad/fusegrad.hpp>

namespace fusegrad_test {

/// Standard-normal values, seeded.
inline std::vector<double> normal_vector(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> d(0.0, 1.0);
    std::vector<double> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

/// Fills an array with values drawn uniformly from [lo, hi).
template <class A>
void fill_uniform(A& a, double lo, double hi, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> d(lo, hi);
    for (auto& x : a) x = static_cast<typename A::value_type>(d(rng));
}

/// d g.value() / d a(i) by central differences of g.forward(), for a scalar graph g that reads
/// array a in place.
template <class Graph, class A>
double central_difference(Graph& g, A& a, std::size_t i, double h = 1e-6) {
    const auto old = a.data()[i];
    a.data()[i] = old + h;
    g.forward();
    const double plus = g.value();
    a.data()[i] = old - h;
    g.forward();
    const double minus = g.value();
    a.data()[i] = old;
    return (plus - minus) / (2 * h);
}

/// With a random upstream seed u, the engine's grad<Name> after backward(u) must equal
/// d(uᵀ f)/dθ computed by central differences of the forward pass. `theta` is the array bound
/// to param Name (the graph reads it in place, so perturbing it perturbs the graph).
template <fusegrad::fixed_string Name, class Graph, class Param>
void check_vjp(Graph& g, Param& theta, unsigned seed, double h = 1e-6, double tol = 1e-7) {
    g.forward();
    const auto dims = g.value_shape();
    const auto u = normal_vector(dims.size(), seed);
    g.backward(fusegrad::cview<double>{u.data(), dims});
    const std::vector<double> analytic(g.template grad<Name>().begin(),
                                       g.template grad<Name>().end());
    REQUIRE(analytic.size() == theta.size());

    auto projected = [&] {
        g.forward();
        const auto v = g.value_view();
        double s = 0;
        for (std::size_t i = 0; i < v.size(); ++i) s += u[i] * v.data[i];
        return s;
    };
    for (std::size_t i = 0; i < theta.size(); ++i) {
        const double old = theta.data()[i];
        theta.data()[i] = old + h;
        const double plus = projected();
        theta.data()[i] = old - h;
        const double minus = projected();
        theta.data()[i] = old;
        const double numeric = (plus - minus) / (2 * h);
        INFO("param " << Name.view() << " element " << i << ": analytic " << analytic[i]
                      << ", numeric " << numeric);
        CHECK(std::abs(analytic[i] - numeric) <= tol * (1 + std::abs(numeric)));
    }
}

}  // namespace fusegrad_test
