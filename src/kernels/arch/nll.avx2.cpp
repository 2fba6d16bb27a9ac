// The nll / nll_logp kernel bodies compiled for avx2 (CMake adds that set's flags to this file).
#include <cstdint>

#include "../dispatch.hpp"
#include "../simd/nll.hpp"

FUSEGRAD_INSTANTIATE_NLL(fusegrad::kernels::detail::avx2_arch)
