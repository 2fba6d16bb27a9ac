#pragma once
/// @file
/// The checker's random numbers: splitmix64, usable in constant expressions (the property
/// test draws graph structures with it at compile time), and seeded normal / uniform draws.
/// Implemented here, not with <random>'s distributions, so a seed means the same numbers with
/// every standard library.

#include <cmath>
#include <cstdint>
#include <string_view>

namespace fusegrad::check {

/// One step of splitmix64: a well-mixed 64-bit value from any 64-bit input.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// A 64-bit hash of a name (FNV-1a), to give each leaf its own random stream.
constexpr std::uint64_t hash_name(std::string_view s) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    return h;
}

/// A seeded stream of random numbers.
class random_stream {
  public:
    constexpr explicit random_stream(std::uint64_t seed) noexcept : state_(seed) {}

    /// The next raw 64-bit value.
    constexpr std::uint64_t next() noexcept {
        state_ += 0x9e3779b97f4a7c15ull;
        return splitmix64(state_);
    }
    /// Uniform in [0, 1).
    double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    /// Uniform in [lo, hi).
    double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }
    /// Uniform integer in [0, n), n > 0.
    std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }
    /// Standard normal (Box–Muller).
    double normal() noexcept {
        const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
        const double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }

  private:
    std::uint64_t state_;
};

}  // namespace fusegrad::check
