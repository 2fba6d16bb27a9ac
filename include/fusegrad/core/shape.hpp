#pragma once
/// @file
/// The run-time shape of a value: a scalar, a vector or a row-major matrix.

#include <cstddef>
#include <string>

namespace fusegrad {

/// Rank 0 is a scalar, rank 1 a vector of `cols` entries (one row), rank 2 a `rows`×`cols`
/// matrix. Every value is stored contiguously, row-major, so a vector is a 1×n matrix to the
/// kernels and a scalar a 1×1 one.
struct shape {
    std::size_t rank = 0;
    std::size_t rows = 1;
    std::size_t cols = 1;

    static constexpr shape scalar() noexcept { return {0, 1, 1}; }
    static constexpr shape vector(std::size_t n) noexcept { return {1, 1, n}; }
    static constexpr shape matrix(std::size_t r, std::size_t c) noexcept { return {2, r, c}; }

    /// Number of elements.
    constexpr std::size_t size() const noexcept { return rows * cols; }
    constexpr bool operator==(const shape&) const noexcept = default;

    /// As the user wrote it: `()`, `(10)`, `(32, 784)`.
    std::string str() const {
        std::string s = "(";  // appended piecewise: g++ 12 warns falsely on "(" + to_string(n)
        if (rank >= 2) s.append(std::to_string(rows)).append(", ");
        if (rank >= 1) s.append(std::to_string(cols));
        return s.append(")");
    }
};

}  // namespace fusegrad
