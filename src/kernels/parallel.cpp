// The one definitions of rows_per_chunk, use_threads and threads_for (see parallel.hpp), and the
// parallel regions, compiled without instruction-set flags.

#include "parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include <pthread.h>

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
    if (in_parallel()) return 1;
    const std::size_t most = max_threads();
    const std::size_t by_work = min_work_per_thread == 0 ? most : work / min_work_per_thread;
    return std::max<std::size_t>(1, std::min({most, units, by_work}));
#else
    (void)units;
    (void)work;
    (void)min_work_per_thread;
    return 1;
#endif
}

namespace {

// ---- the library's own threads ------------------------------------------------------------
//
// OpenMP's threads are the cheapest to start when they spin between regions (libgomp's and
// libomp's default wait policies): then a region is an OpenMP region. With
// OMP_WAIT_POLICY=passive, which a shared machine needs (docs/kernels.md), every region's start,
// barrier and end is a sleep and a wake-up (~24 µs per fork/join and ~11 µs per barrier,
// docs/kernels.md), as much as a small kernel or a small model's whole step; the runtime reads its
// policy once, at load, so the library cannot change it. Then a region runs on these workers
// instead, whose every wait spins kSpin (a barrier between balanced shares ends within it), then
// yields the core up to kYield to any thread that wants it (the next region of a training step
// comes within it), then sleeps until woken. Each pool is used only while the other's threads
// sleep: two pools spinning at once on two cores fight each other.

using clock = std::chrono::steady_clock;
constexpr auto kSpin = std::chrono::microseconds(20);
constexpr auto kYield = std::chrono::microseconds(200);

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Returns once done(a) holds, after the three stages above. Whoever changes `a` calls
// notify_all().
template <class Done>
void wait_until(const std::atomic<std::uint32_t>& a, Done done) {
    const auto start = clock::now();
    for (unsigned i = 1;; ++i) {
        if (done(a.load(std::memory_order_acquire))) return;
        if (i % 32 != 0) {
            cpu_relax();
            continue;
        }
        const auto waited = clock::now() - start;
        if (waited > kYield) break;
        if (waited > kSpin) std::this_thread::yield();
    }
    for (;;) {
        const std::uint32_t v = a.load(std::memory_order_acquire);
        if (done(v)) return;
        a.wait(v, std::memory_order_acquire);
    }
}

// Whether the OpenMP runtime's idle threads sleep at once (OMP_WAIT_POLICY=passive, or a spin
// count or block time of 0), as it read its environment at load; true without OpenMP.
bool openmp_threads_sleep() {
#ifdef _OPENMP
    static const bool sleep = [] {
        auto is = [](const char* name, std::string_view want) {
            const char* v = std::getenv(name);
            if (!v || std::strlen(v) != want.size()) return false;
            for (std::size_t i = 0; i < want.size(); ++i)
                if (std::tolower(static_cast<unsigned char>(v[i])) != want[i]) return false;
            return true;
        };
        return is("OMP_WAIT_POLICY", "passive") || is("GOMP_SPINCOUNT", "0") ||
               is("KMP_BLOCKTIME", "0");
    }();
    return sleep;
#else
    return true;
#endif
}

// Set on each thread while it runs a region of the team (in_parallel()).
thread_local bool in_team = false;
// Set while a thread runs a body alone (a region of one): its barrier() waits for nobody, even
// inside an enclosing region whose barrier it would otherwise reach. Cleared on the threads of
// a real region.
thread_local bool alone = false;

// Sets `flag` to `value` for a scope.
class flag_scope {
  public:
    flag_scope(bool& flag, bool value) noexcept : flag_(flag), saved_(flag) { flag_ = value; }
    ~flag_scope() { flag_ = saved_; }
    flag_scope(const flag_scope&) = delete;
    flag_scope& operator=(const flag_scope&) = delete;

  private:
    bool& flag_;
    bool saved_;
};

// The process's workers 1, 2, ... (the caller of a region is thread 0), started when first
// needed, asleep when idle. One region at a time: a caller that finds the team busy (a region on
// another thread) runs its body alone. Each worker has its own signal, so a region of fewer
// threads than there are workers wakes only those it uses.
class team {
  public:
    // The process's team, never destroyed: its workers sleep when idle and end with the
    // process (joining them from a static destructor could not work in a forked child, whose
    // copy of the team names threads it does not have). A child forked while workers exist
    // gets a new team (fork copies the calling thread only), and the parent's copy is never
    // used again; ATen's thread pool does the same.
    static team& get() {
        static const bool registered = [] {
            pthread_atfork(nullptr, nullptr, [] { current_ = new team(); });
            current_ = new team();
            return true;
        }();
        (void)registered;
        return *current_;
    }
    team(const team&) = delete;
    team& operator=(const team&) = delete;

    std::mutex& busy() noexcept { return busy_; }

    // Runs body on `threads` threads, the caller's included; busy() is held.
    // Fewer threads when no more can be started (a region may have fewer than asked).
    void run(std::size_t threads, void (*body)(void*, std::size_t, std::size_t), void* ctx) {
        try {
            workers_.reserve(threads - 1);
            while (workers_.size() + 1 < threads) {
                auto w = std::make_unique<worker>();
                const std::size_t index = workers_.size() + 1;
                w->thread = std::thread([this, index, &go = w->go] { work(index, go); });
                workers_.push_back(std::move(w));  // reserved: cannot throw
            }
        } catch (...) {  // std::bad_alloc, or std::system_error from std::thread
            threads = workers_.size() + 1;
        }
        body_ = body;
        ctx_ = ctx;
        threads_ = threads;
        error_ = nullptr;
        count_.store(0, std::memory_order_relaxed);
        finished_.store(0, std::memory_order_relaxed);
        for (std::size_t i = 1; i < threads; ++i) {  // publishes the above to worker i
            workers_[i - 1]->go.fetch_add(1, std::memory_order_release);
            workers_[i - 1]->go.notify_all();
        }
        call(0);
        wait_until(finished_, [&](std::uint32_t v) { return v == threads - 1; });
        if (error_) std::rethrow_exception(error_);
    }

    // All threads of the region meet (a reusable barrier: the generation moves on when the
    // last one arrives).
    void barrier() noexcept {
        const std::uint32_t generation = generation_.load(std::memory_order_acquire);
        if (count_.fetch_add(1, std::memory_order_acq_rel) + 1 == threads_) {
            count_.store(0, std::memory_order_relaxed);
            generation_.fetch_add(1, std::memory_order_release);
            generation_.notify_all();
            return;
        }
        wait_until(generation_, [&](std::uint32_t v) { return v != generation; });
    }

  private:
    struct worker {
        std::atomic<std::uint32_t> go{0};  // +1 per region this worker takes part in
        std::thread thread;
    };

    team() = default;

    void call(std::size_t t) {
        const flag_scope team(in_team, true), not_alone(alone, false);
        try {
            body_(ctx_, t, threads_);
        } catch (...) {
            const std::lock_guard lock(error_mutex_);
            if (!error_) error_ = std::current_exception();
        }
    }

    void work(std::size_t index, const std::atomic<std::uint32_t>& go) {
        std::uint32_t seen = 0;
        for (;;) {
            wait_until(go, [&](std::uint32_t v) { return v != seen; });
            seen = go.load(std::memory_order_acquire);
            call(index);
            finished_.fetch_add(1, std::memory_order_release);
            finished_.notify_all();
        }
    }

    static inline team* current_ = nullptr;  // see get()

    std::mutex busy_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::atomic<std::uint32_t> finished_{0};    // workers past the body
    std::atomic<std::uint32_t> count_{0};       // threads at the current barrier
    std::atomic<std::uint32_t> generation_{0};  // barriers completed
    // The region, written by the caller before it signals the workers.
    void (*body_)(void*, std::size_t, std::size_t) = nullptr;
    void* ctx_ = nullptr;
    std::size_t threads_ = 0;
    std::exception_ptr error_;
    std::mutex error_mutex_;
};

}  // namespace

void parallel_region(std::size_t threads, void (*body)(void*, std::size_t, std::size_t),
                     void* ctx) {
    if (threads > 1 && !in_parallel()) {
#ifdef _OPENMP
        if (!openmp_threads_sleep()) {
            std::exception_ptr error;
#pragma omp parallel num_threads(static_cast <int>(threads))
            {
                try {
                    const flag_scope not_alone(alone, false);
                    body(ctx, static_cast<std::size_t>(omp_get_thread_num()),
                         static_cast<std::size_t>(omp_get_num_threads()));
                } catch (...) {
#pragma omp critical(fusegrad_parallel_region)
                    if (!error) error = std::current_exception();
                }
            }
            if (error) std::rethrow_exception(error);
            return;
        }
#endif
        team& t = team::get();
        const std::unique_lock lock(t.busy(), std::try_to_lock);
        if (lock.owns_lock()) {
            t.run(threads, body, ctx);
            return;
        }
    }
    const flag_scope one(alone, true);
    body(ctx, 0, 1);  // one thread: the kernels it calls may open regions of their own
}

std::size_t max_threads() noexcept {
#ifdef _OPENMP
    return static_cast<std::size_t>(std::max(omp_get_max_threads(), 1));
#else
    return 1;
#endif
}

bool in_parallel() noexcept {
#ifdef _OPENMP
    if (omp_in_parallel()) return true;
#endif
    return in_team;
}

void barrier() noexcept {
    if (alone) return;
    if (in_team) {
        team::get().barrier();
        return;
    }
#ifdef _OPENMP
    if (omp_in_parallel()) {
#pragma omp barrier
    }
#endif
}

}  // namespace fusegrad::kernels::detail
