/// @file
/// The SIMD GEMM compiled for sse4_2 (CMake adds that set's flags to this file only).

#include "../simd/gemm.hpp"
#include "../dispatch.hpp"

FUSEGRAD_INSTANTIATE_GEMM_SIMD(fusegrad::kernels::detail::sse4_2_arch)
