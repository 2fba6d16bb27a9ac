#pragma once
/// @file
/// Internal: how the nll / nll_logp front doors cut their rows into chunks and reach the body
/// of the active instruction set.

#include <algorithm>
#include <cstddef>

#include "dispatch.hpp"
#include "parallel.hpp"

namespace fusegrad::kernels::detail {

/// Rows per chunk of the kernels that read one element per row (a multiple of every lane count).
inline constexpr std::size_t kGatherRowsPerChunk = 4096;

/// Calls body(arch_tag, first_row, rows) for fixed chunks of `chunk` rows of [0, m), with the
/// arch tag of the active set (scalar_arch for the reference), on threads when the work
/// (`work_per_row` element-operations a row) is large enough.
template <class F>
void run_row_chunks(std::size_t m, std::size_t chunk, std::size_t work_per_row, F&& body) {
    dispatch([&](auto arch_tag) {
        for_each_chunk(m, chunk, work_per_row, [&](std::size_t, std::size_t b, std::size_t e) {
            body(arch_tag, b, e - b);
        });
    });
}

}  // namespace fusegrad::kernels::detail
