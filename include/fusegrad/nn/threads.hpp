#pragma once
/// @file
/// How many threads the kernels may use: the `--threads` of a training program. Defined in
/// src/nn/threads.cpp. The kernels split work into fixed chunks, so results do not depend on
/// the count (see src/kernels/parallel.hpp); only the speed does.

#include <cstddef>

namespace fusegrad::nn {

/// Lets the kernels called from this thread use up to `n` threads (n >= 1; 0 is taken as 1).
/// Returns the count now in effect: always 1 when the library was built without OpenMP.
std::size_t set_num_threads(std::size_t n) noexcept;

/// The most threads the kernels called from this thread may use.
std::size_t num_threads() noexcept;

}  // namespace fusegrad::nn
