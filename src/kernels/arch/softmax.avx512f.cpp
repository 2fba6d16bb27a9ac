// The softmax kernel bodies compiled for avx512f (CMake adds that set's flags to this file).
#include "../simd/softmax.hpp"
#include "../dispatch.hpp"

FUSEGRAD_INSTANTIATE_SOFTMAX(fusegrad::kernels::detail::avx512f_arch)
