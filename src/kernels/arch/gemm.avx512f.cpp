/// @file
/// The SIMD GEMM compiled for avx512f (CMake adds that set's flags to this file only).

#include "../simd/gemm.hpp"
#include "../dispatch.hpp"

FUSEGRAD_INSTANTIATE_GEMM_SIMD(fusegrad::kernels::detail::avx512f_arch)
