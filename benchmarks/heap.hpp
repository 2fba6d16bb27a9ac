#pragma once
/// @file
/// Timing libtorch with a warm allocator.
///
/// glibc serves blocks above its mmap threshold (dynamic, at most 32 MiB) with mmap and unmaps
/// them on free, so libtorch's fresh intermediates (131 MB each for 1024×32000 logits) are
/// page-faulted in again on every iteration, in any process. On these VMs a page fault is
/// expensive (perf: exc_page_fault / pvm_irq_enable at 20-25% of libtorch's samples). Keeping
/// freed memory in the heap times libtorch's arithmetic with a warm allocator (what its GPU
/// caching allocator gives); fusegrad's kernels allocate nothing, so only the libtorch rows
/// change. FUSEGRAD_BENCH_DEFAULT_MALLOC=1 keeps glibc's defaults, for comparison.

#include <malloc.h>

#include <cstdlib>
#include <limits>

namespace fusegrad::bench {

/// Called first in main(): no mmap'd blocks, no trimming (unless FUSEGRAD_BENCH_DEFAULT_MALLOC).
inline void keep_freed_memory_in_heap() {
    if (std::getenv("FUSEGRAD_BENCH_DEFAULT_MALLOC") != nullptr) return;
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
}

}  // namespace fusegrad::bench
