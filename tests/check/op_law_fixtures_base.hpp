#pragma once
// Law fixtures, the shared part: the array helpers and the primary template. For every op in the
// registry (fusegrad/ops/registry.hpp), the instances the gradient laws run on. `instances(run)`
// calls run(description, expression, expected value shape) for each variant; the arrays are locals
// that live through the call. Every real operand that can carry a gradient is a param, so the laws
// reach every vjp branch.

#include <cstdint>
#include <optional>
#include <string>

#include <fusegrad/check/random.hpp>
#include <fusegrad/fusegrad.hpp>
#include <fusegrad/ops/registry.hpp>

namespace fusegrad_test {

namespace fg = fusegrad;
using M = xt::xtensor<double, 2>;
using V = xt::xtensor<double, 1>;
using S = xt::xtensor<double, 0>;

inline M mat(std::size_t r, std::size_t c, double lo, double hi, std::uint64_t seed) {
    M a = M::from_shape({r, c});
    fg::check::random_stream rng(seed);
    for (auto& x : a) x = rng.uniform(lo, hi);
    return a;
}
inline V vec(std::size_t n, double lo, double hi, std::uint64_t seed) {
    V a = V::from_shape({n});
    fg::check::random_stream rng(seed);
    for (auto& x : a) x = rng.uniform(lo, hi);
    return a;
}
inline S sca(double v) {
    S a;
    a() = v;
    return a;
}
/// Values in ±[0.2, 1]: a finite difference of step 1e-6 never crosses relu's kink at 0.
template <class A>
A away_from_zero(A a) {
    for (auto& x : a) x = x < 0 ? x - 0.2 : x + 0.2;
    return a;
}

/// Primary template: no fixture. The law test fails for an op that lands here.
template <class Op>
struct law_fixture {
    static constexpr bool defined = false;
};

}  // namespace fusegrad_test
