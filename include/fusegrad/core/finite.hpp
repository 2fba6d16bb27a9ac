#pragma once
/// @file
/// Finding and naming non-finite numbers: what anomaly mode (graph::check_finite) and a
/// checkpoint's save both report.

#include <cmath>
#include <cstddef>
#include <string_view>

namespace fusegrad::detail {

/// The first non-finite element of p[0, n), or n.
template <class T>
std::size_t first_non_finite(const T* p, std::size_t n) noexcept {
    for (std::size_t k = 0; k < n; ++k)
        if (!std::isfinite(p[k])) return k;
    return n;
}

/// "nan", "inf" or "-inf": how a message names a non-finite value.
inline std::string_view non_finite_name(double v) noexcept {
    return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

}  // namespace fusegrad::detail
