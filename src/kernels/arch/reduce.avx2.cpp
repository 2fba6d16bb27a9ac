// The reduce kernel bodies compiled for avx2 (CMake adds that set's flags to this file).
#include "../simd/reduce.hpp"
#include "../dispatch.hpp"

FUSEGRAD_INSTANTIATE_REDUCE(fusegrad::kernels::detail::avx2_arch)
