// The elementwise kernel bodies compiled for avx512f (CMake adds that set's flags to this file).
#include "../simd/elementwise.hpp"
#include "../dispatch.hpp"

FUSEGRAD_INSTANTIATE_ELEMENTWISE(fusegrad::kernels::detail::avx512f_arch)
