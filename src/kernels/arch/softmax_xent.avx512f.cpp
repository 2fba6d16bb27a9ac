// The softmax_xent kernel bodies compiled for avx512f (CMake adds that set's flags to this file).
#include "../simd/softmax_xent.hpp"
#include "../dispatch.hpp"

FUSEGRAD_INSTANTIATE_SOFTMAX_XENT(fusegrad::kernels::detail::avx512f_arch)
