#pragma once
/// @file
/// Weight initializers with explicit seeds: normal, uniform, Xavier/Glorot and Kaiming/He.
///
/// The random numbers come from std::mt19937_64 (its output sequence is fixed by the C++
/// standard) and a uniform mapping and Box–Muller transform written here (the standard
/// distributions are implementation-defined).
///
/// Reproducibility, exactly: the uniform initializers (uniform_fill, xavier_uniform,
/// kaiming_uniform) use only +, ×, / and std::sqrt, which IEEE 754 rounds correctly, so one seed
/// gives bitwise the same weights everywhere. The normal ones (normal_fill, xavier_normal,
/// kaiming_normal) also call std::log, std::cos and std::sin, which the C++ standard does not
/// require to be correctly rounded: with the same C math library (libm: the same glibc version,
/// say) the weights are bitwise identical; with another libm (musl, macOS, MSVC, another
/// glibc) they may differ in the last bit of some draws (about 1e-16 relative in double, then
/// rounded to T), which is far below anything a training run can notice but is not bitwise.
/// Both statements assume the header is compiled without floating-point contraction into FMA
/// (GCC contracts a·b + c by default once FMA is enabled, e.g. by -march=native or -mfma, which
/// can also change a last bit).
///
/// Fans follow fusegrad's layout: `fg::linear(x, W, b)` computes x·W, so W is in × out and
/// fan_in = rows, fan_out = columns (PyTorch's nn.Linear stores the transpose).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>

namespace fusegrad::nn {

namespace detail {
// A double uniform in (0, 1): 53 random bits, never 0 (log(0) in Box–Muller).
inline double uniform_open(std::mt19937_64& rng) {
    return (static_cast<double>(rng() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

template <class A>
void check_matrix(const A& w, const char* who) {
    if constexpr (A::rank != 2) {
        static_assert(A::rank == 2, "this initializer needs a weight matrix (in x out)");
    } else if (w.shape()[0] == 0 || w.shape()[1] == 0) {
        throw std::invalid_argument(std::string(who) + ": the weight matrix is empty (" +
                                    std::to_string(w.shape()[0]) + " x " +
                                    std::to_string(w.shape()[1]) + ")");
    }
}
}  // namespace detail

/// Fills `a` with independent draws from N(mean, stddev²), reproducibly for a given seed.
template <class A>
void normal_fill(A& a, double mean, double stddev, std::uint64_t seed) {
    using T = typename A::value_type;
    std::mt19937_64 rng(seed);
    auto* p = a.data();
    const std::size_t n = a.size();
    for (std::size_t i = 0; i < n; i += 2) {
        // Box–Muller: two independent standard normals from two uniforms.
        const double r = std::sqrt(-2.0 * std::log(detail::uniform_open(rng)));
        const double t = 2.0 * std::numbers::pi * detail::uniform_open(rng);
        p[i] = static_cast<T>(mean + stddev * r * std::cos(t));
        if (i + 1 < n) p[i + 1] = static_cast<T>(mean + stddev * r * std::sin(t));
    }
}

/// Fills `a` with independent draws from U(low, high), reproducibly for a given seed.
template <class A>
void uniform_fill(A& a, double low, double high, std::uint64_t seed) {
    using T = typename A::value_type;
    std::mt19937_64 rng(seed);
    auto* p = a.data();
    for (std::size_t i = 0; i < a.size(); ++i)
        p[i] = static_cast<T>(low + (high - low) * detail::uniform_open(rng));
}

/// Xavier/Glorot uniform: U(-g·√(6 / (fan_in + fan_out)), +…), variance g² · 2 / (fan_in +
/// fan_out).
template <class A>
void xavier_uniform(A& w, std::uint64_t seed, double gain = 1.0) {
    detail::check_matrix(w, "xavier_uniform");
    const double bound = gain * std::sqrt(6.0 / static_cast<double>(w.shape()[0] + w.shape()[1]));
    uniform_fill(w, -bound, bound, seed);
}

/// Xavier/Glorot normal: N(0, g² · 2 / (fan_in + fan_out)).
template <class A>
void xavier_normal(A& w, std::uint64_t seed, double gain = 1.0) {
    detail::check_matrix(w, "xavier_normal");
    normal_fill(w, 0.0, gain * std::sqrt(2.0 / static_cast<double>(w.shape()[0] + w.shape()[1])),
                seed);
}

/// Kaiming/He normal for a layer followed by ReLU: N(0, 2 / fan_in).
template <class A>
void kaiming_normal(A& w, std::uint64_t seed) {
    detail::check_matrix(w, "kaiming_normal");
    normal_fill(w, 0.0, std::sqrt(2.0 / static_cast<double>(w.shape()[0])), seed);
}

/// Kaiming/He uniform for a layer followed by ReLU: U(-√(6 / fan_in), +√(6 / fan_in)).
template <class A>
void kaiming_uniform(A& w, std::uint64_t seed) {
    detail::check_matrix(w, "kaiming_uniform");
    const double bound = std::sqrt(6.0 / static_cast<double>(w.shape()[0]));
    uniform_fill(w, -bound, bound, seed);
}

}  // namespace fusegrad::nn
