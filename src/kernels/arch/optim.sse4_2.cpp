// The optim kernel bodies compiled for sse4_2 (CMake adds that set's flags to this file).
#include "../simd/optim.hpp"
#include "../dispatch.hpp"

FUSEGRAD_INSTANTIATE_OPTIM(fusegrad::kernels::detail::sse4_2_arch)
