// The one definitions of rows_per_chunk, use_threads and threads_for (see parallel.hpp), compiled
// without instruction-set flags.

#include "parallel.hpp"

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusegrad::kernels::detail {

std::size_t rows_per_chunk(std::size_t n) {
    return std::max<std::size_t>(1, kChunkElements / std::max<std::size_t>(n, 1));
}

bool use_threads(std::size_t chunks, std::size_t work) {
    return threads_for(chunks, work, kMinParallelWork) > 1;
}

std::size_t threads_for(std::size_t units, std::size_t work, std::size_t min_work_per_thread) {
#ifdef _OPENMP
    if (omp_in_parallel()) return 1;
    const auto most = static_cast<std::size_t>(std::max(omp_get_max_threads(), 1));
    const std::size_t by_work = min_work_per_thread == 0 ? most : work / min_work_per_thread;
    return std::max<std::size_t>(1, std::min({most, units, by_work}));
#else
    (void)units;
    (void)work;
    (void)min_work_per_thread;
    return 1;
#endif
}

}  // namespace fusegrad::kernels::detail
