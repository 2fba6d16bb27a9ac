#pragma once
/// @file
/// A string literal usable as a template argument: the names of leaves (`fg::param<"W">`).

#include <cstddef>
#include <string_view>

namespace fusegrad {

/// A compile-time string. `N` counts the terminating zero, as for a string literal.
template <std::size_t N>
struct fixed_string {
    char chars[N]{};  // public: a structural type, usable as a template argument

    constexpr fixed_string(const char (&s)[N]) noexcept {  // NOLINT: implicit by design
        for (std::size_t i = 0; i < N; ++i) chars[i] = s[i];
    }
    /// The characters, without the terminating zero.
    constexpr std::string_view view() const noexcept { return {chars, N - 1}; }

    template <std::size_t M>
    constexpr bool operator==(const fixed_string<M>& other) const noexcept {
        return view() == other.view();
    }
};

}  // namespace fusegrad
