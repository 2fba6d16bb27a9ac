#pragma once
/// @file
/// Internal: how the kernel front doors spread work over threads (OpenMP's, or the library's own
/// when OpenMP's sleep between regions: parallel_region below).
///
/// Work is always cut into fixed-size chunks whose boundaries depend only on the problem size,
/// never on the number of threads. Each chunk is computed by one thread exactly as it would be
/// serially, and any partial results are stored per chunk and combined in chunk order by the
/// caller, so results are bitwise identical for every thread count.
///
/// A call uses a second thread only when each thread gets at least kMinParallelWork
/// element-operations (and there is more than one chunk): below that, waking threads costs more
/// than the work (an OpenMP fork/join is ~3 µs here, ~24 µs with OMP_WAIT_POLICY=passive, when
/// parallel_region uses the library's own threads instead).

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <vector>

namespace fusegrad::kernels::detail {

/// Element-operations each thread must get before a kernel uses another thread. Measured with
/// 1 and 2 threads (AMD EPYC family 26 model 2): a 2^17-element sum took 3.3 µs on one thread
/// and 7.8 µs on two when this was the threshold for the whole call; relu, add and exp gained
/// 1.4–1.6× from 2^18 elements on.
inline constexpr std::size_t kMinParallelWork = std::size_t(1) << 17;

/// Elements per chunk of the elementwise and row kernels: a multiple of every lane count, and
/// ~128 KiB of float per operand, so that a chunk's operands stay in L2 while a thread works on
/// it.
inline constexpr std::size_t kChunkElements = std::size_t(1) << 15;

/// Rows per chunk of an m × n row kernel: about kChunkElements elements, at least one row (the
/// chunk boundaries, and so the order of any per-chunk partial sums, depend on n only). Defined
/// once, in parallel.cpp, as use_threads below.
std::size_t rows_per_chunk(std::size_t n);

/// Whether a call doing `work` element-operations in `chunks` chunks should use threads.
/// Defined once, in parallel.cpp (built without -m flags): an inline definition here would be
/// compiled under every instruction set's flags and the linker could keep any one copy.
bool use_threads(std::size_t chunks, std::size_t work);

/// How many threads a call doing `work` operations over `units` independent pieces should use:
/// 1 inside a parallel region or without OpenMP, otherwise the OpenMP thread count capped at
/// `units` and at one thread per `min_work_per_thread` operations (at least 1). For kernels
/// whose per-thread cost is known (GEMM: a fork/join and its barriers), so that a second thread
/// is only woken when its share of the work outweighs what waking it costs.
std::size_t threads_for(std::size_t units, std::size_t work, std::size_t min_work_per_thread);

/// Room for `count` per-chunk partial results (a sum's chunk sums, the cross-entropy forward's
/// row-block losses), in a buffer of the calling thread that only grows, so that kernels
/// combining chunk partials allocate nothing in steady state. `Site` is a tag type of the
/// calling kernel: two kernels never share a buffer. Take the pointer on the calling thread and
/// let the chunks write through it (a thread_local named inside the chunk loop would be each
/// worker thread's own).
template <class Site, class T>
T* chunk_partials(std::size_t count) {
    thread_local std::vector<T> buffer;
    if (buffer.size() < count) buffer.resize(count);
    return buffer.data();
}

// ---- parallel regions ------------------------------------------------------------------------

/// Runs body(ctx, t, n) on each thread t of n ≤ `threads` (the caller is t = 0; n may be less
/// than asked, 1 included) and returns when every thread has. On OpenMP's threads when its idle
/// threads spin (the default wait policies), else (OMP_WAIT_POLICY=passive, or no OpenMP) on
/// the library's own workers, which spin briefly, then yield, then sleep (parallel.cpp says
/// why). Inside, in_parallel() holds and barrier() waits for all n. The body must not throw:
/// a thread that left it early would leave the others waiting at a barrier (bodies catch their
/// own exceptions and hand them to the caller).
void parallel_region(std::size_t threads, void (*body)(void* ctx, std::size_t t, std::size_t n),
                     void* ctx);

/// parallel_region with a callable f(t, n).
template <class F>
void parallel(std::size_t threads, F&& f) {
    using G = std::remove_reference_t<F>;
    parallel_region(
        threads, [](void* g, std::size_t t, std::size_t n) { (*static_cast<G*>(g))(t, n); },
        const_cast<void*>(static_cast<const void*>(&f)));
}

/// Whether the calling thread runs inside a parallel region (OpenMP's, the user's included, or
/// parallel_region's).
bool in_parallel() noexcept;

/// Waits for every thread of the enclosing region (nothing outside one).
void barrier() noexcept;

/// The most threads a region opened by the calling thread may have (OpenMP's thread count;
/// 1 without OpenMP).
std::size_t max_threads() noexcept;

/// Calls f(chunk_index, begin, end) for the chunks of [0, count) as for_each_chunk does, on
/// `threads` threads when that is more than 1 (and there is more than one chunk): thread t of n
/// takes the t-th of n nearly equal runs of consecutive chunks.
template <class F>
void for_each_chunk_on(std::size_t threads, std::size_t count, std::size_t chunk, F&& f) {
    if (count == 0) return;
    const std::size_t chunks = (count + chunk - 1) / chunk;
    if (threads > 1 && chunks > 1) {
        parallel(std::min(threads, chunks), [&](std::size_t t, std::size_t n) {
            const std::size_t c0 = chunks / n * t + chunks % n * t / n;
            const std::size_t c1 = chunks / n * (t + 1) + chunks % n * (t + 1) / n;
            for (std::size_t c = c0; c < c1; ++c) f(c, c * chunk, std::min(count, (c + 1) * chunk));
        });
        return;
    }
    for (std::size_t c = 0; c < chunks; ++c) f(c, c * chunk, std::min(count, (c + 1) * chunk));
}

/// Calls f(chunk_index, begin, end) for the chunks [c · chunk, min(count, (c + 1) · chunk)) of
/// [0, count), on as many threads as threads_for(chunks, count · work_per_item, kMinParallelWork)
/// gives.
template <class F>
void for_each_chunk(std::size_t count, std::size_t chunk, std::size_t work_per_item, F&& f) {
    if (count == 0) return;
    const std::size_t chunks = (count + chunk - 1) / chunk;
    for_each_chunk_on(threads_for(chunks, count * work_per_item, kMinParallelWork), count, chunk,
                      f);
}

}  // namespace fusegrad::kernels::detail
