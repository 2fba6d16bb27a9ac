#pragma once
/// @file
/// Internal: how the kernel front doors spread work over OpenMP threads.
///
/// Work is always cut into fixed-size chunks whose boundaries depend only on the problem size,
/// never on the number of threads. Each chunk is computed by one thread exactly as it would be
/// serially, and any partial results are stored per chunk and combined in chunk order by the
/// caller, so results are bitwise identical for every thread count.
///
/// A parallel region is opened only when there is more than one chunk, more than one thread,
/// and at least kMinParallelWork element-operations: below that, waking threads costs more than
/// the work (a fork/join is several µs here).

#include <algorithm>
#include <cstddef>

namespace fusegrad::kernels::detail {

/// Element-operations below which a kernel stays on the calling thread.
inline constexpr std::size_t kMinParallelWork = std::size_t(1) << 17;

/// Whether a call doing `work` element-operations in `chunks` chunks should use threads.
/// Defined once, in parallel.cpp (built without -m flags): an inline definition here would be
/// compiled under every instruction set's flags and the linker could keep any one copy.
bool use_threads(std::size_t chunks, std::size_t work);

/// Calls f(chunk_index, begin, end) for the chunks [c · chunk, min(count, (c + 1) · chunk)) of
/// [0, count), on several threads when use_threads(chunks, count · work_per_item).
template <class F>
void for_each_chunk(std::size_t count, std::size_t chunk, std::size_t work_per_item, F&& f) {
    if (count == 0) return;
    const std::size_t chunks = (count + chunk - 1) / chunk;
    if (use_threads(chunks, count * work_per_item)) {
#ifdef _OPENMP
        const auto total = static_cast<long long>(chunks);
#pragma omp parallel for schedule(static)
        for (long long c = 0; c < total; ++c) {
            const auto cu = static_cast<std::size_t>(c);
            f(cu, cu * chunk, std::min(count, (cu + 1) * chunk));
        }
#endif
        return;
    }
    for (std::size_t c = 0; c < chunks; ++c) f(c, c * chunk, std::min(count, (c + 1) * chunk));
}

}  // namespace fusegrad::kernels::detail
