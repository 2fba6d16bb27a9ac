/// @file
/// The kernels' thread count. This file is compiled with the library's OpenMP flags, so it
/// sets the same OpenMP state the kernels read; user code needs no -fopenmp to call it.

#include "fusegrad/nn/threads.hpp"

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../kernels/parallel.hpp"

namespace fusegrad::nn {

std::size_t set_num_threads(std::size_t n) noexcept {
#ifdef _OPENMP
    omp_set_num_threads(static_cast<int>(std::clamp<std::size_t>(n, 1, 4096)));
#else
    (void)n;
#endif
    return num_threads();
}

std::size_t num_threads() noexcept {
    return kernels::detail::max_threads();  // what a kernel's region may have
}

}  // namespace fusegrad::nn
