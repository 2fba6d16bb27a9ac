// The one definition of use_threads (see parallel.hpp), compiled without instruction-set flags.

#include "parallel.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusegrad::kernels::detail {

bool use_threads(std::size_t chunks, std::size_t work) {
#ifdef _OPENMP
    return chunks > 1 && work >= kMinParallelWork && !omp_in_parallel() &&
           omp_get_max_threads() > 1;
#else
    (void)chunks;
    (void)work;
    return false;
#endif
}

}  // namespace fusegrad::kernels::detail
