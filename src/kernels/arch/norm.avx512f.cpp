// The layer-norm kernel bodies compiled for avx512f (CMake adds that set's flags to this file).
#include "../simd/norm.hpp"
#include "../dispatch.hpp"

FUSEGRAD_INSTANTIATE_NORM(fusegrad::kernels::detail::avx512f_arch)
