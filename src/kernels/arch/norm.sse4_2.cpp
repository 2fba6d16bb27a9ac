// The layer-norm kernel bodies compiled for sse4_2 (CMake adds that set's flags to this file).
#include "../simd/norm.hpp"
#include "../dispatch.hpp"

FUSEGRAD_INSTANTIATE_NORM(fusegrad::kernels::detail::sse4_2_arch)
