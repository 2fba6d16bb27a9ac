/// @file
/// The threads of fg::nn::data_parallel (fusegrad/nn/data_parallel.hpp). Compiled with the
/// library's OpenMP flags, so that user code needs no -fopenmp.

#include "fusegrad/nn/data_parallel.hpp"

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

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusegrad::nn::detail {

namespace {

// ---- one step's threads ---------------------------------------------------------------------

// What the threads of one run_parts share: thread t of n claims parts one at a time (a thread
// the host has descheduled leaves its parts to the others; which thread runs a part changes
// no bit), meets the others at a barrier, then runs its share of the combine unless a part
// failed (every thread reads the same errors after the barrier).
class step_state {
  public:
    step_state(const parts_job& job, std::vector<std::exception_ptr>& errors)
        : job_(job), errors_(errors) {
        errors_.assign(job.parts, nullptr);
    }

    template <class Barrier>
    void thread(std::size_t t, std::size_t n, Barrier&& barrier) {
        for (;;) {
            const std::size_t k = next_part_.fetch_add(1, std::memory_order_relaxed);
            if (k >= job_.parts) break;
            try {
                job_.run(job_.ctx, k);
            } catch (...) {
                errors_[k] = std::current_exception();
            }
        }
        barrier();
        for (const auto& e : errors_)
            if (e) return;
        try {
            job_.combine(job_.ctx, t, n);
        } catch (...) {  // nothing may leave a thread
            const std::lock_guard lock(combine_error_mutex_);
            if (!combine_error_) combine_error_ = std::current_exception();
        }
    }

    // After every thread: the lowest failed part's exception, else the combine's.
    void rethrow() const {
        for (const auto& e : errors_)
            if (e) std::rethrow_exception(e);
        if (combine_error_) std::rethrow_exception(combine_error_);
    }

  private:
    const parts_job& job_;
    std::vector<std::exception_ptr>& errors_;  // one per part
    std::atomic<std::size_t> next_part_{0};
    std::exception_ptr combine_error_;
    std::mutex combine_error_mutex_;
};

// ---- the library's own threads --------------------------------------------------------------
//
// OpenMP's threads are the cheapest to start when they spin between regions (libgomp's and
// libomp's default wait policies): then a step is one OpenMP region. With
// OMP_WAIT_POLICY=passive, which a shared machine needs (docs/kernels.md), every region's start
// and barrier is a sleep and a wake-up of some 10–25 µs, as much as a small model's whole
// step; the runtime reads its policy once, at load, so the library cannot change it. Then a
// step runs on these workers instead, which wait in three stages whatever the policy: a spin
// of kSpin (a barrier between balanced parts ends within it), then up to kYield yielding the
// core to any thread that wants it (the next step of a training loop comes within it), then a
// sleep until woken. (Both pools spinning at once would fight for the cores: each is used only
// when the other's threads sleep.)

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
// count or block time of 0), as it read its environment at load.
bool openmp_threads_sleep() {
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
}

// While a worker runs parts, the kernels it calls stay on it (else each would open OpenMP
// regions of its own inside every part).
class kernels_on_this_thread {
  public:
    kernels_on_this_thread() noexcept {
#ifdef _OPENMP
        saved_ = omp_get_max_threads();
        omp_set_num_threads(1);
#endif
    }
    ~kernels_on_this_thread() {
#ifdef _OPENMP
        omp_set_num_threads(saved_);
#endif
    }
    kernels_on_this_thread(const kernels_on_this_thread&) = delete;
    kernels_on_this_thread& operator=(const kernels_on_this_thread&) = delete;

  private:
    int saved_ = 1;
};

// The process's workers 1, 2, ... (the calling thread is thread 0), started when first
// needed, joined at exit. One step at a time (a second caller meanwhile runs its parts alone).
// Each worker has its own signal, so a step of fewer threads than there are workers wakes
// only those it uses.
class team {
  public:
    static team& get() {
        static team t;
        return t;
    }
    ~team() {
        stop_.store(true, std::memory_order_relaxed);
        for (auto& w : workers_) {
            w->go.fetch_add(1, std::memory_order_release);
            w->go.notify_all();
        }
        for (auto& w : workers_) w->thread.join();
    }
    team(const team&) = delete;
    team& operator=(const team&) = delete;

    std::mutex& busy() noexcept { return busy_; }

    // Runs `job` on `threads` threads, the caller's included; busy() is held.
    void run(const parts_job& job, std::size_t threads) {
        while (workers_.size() + 1 < threads) {
            auto w = std::make_unique<worker>();
            const std::size_t index = workers_.size() + 1;
            w->thread = std::thread([this, index, &go = w->go] { work(index, go); });
            workers_.push_back(std::move(w));
        }
        step_state state(job, errors_);
        state_ = &state;
        threads_ = threads;
        arrived_.store(0, std::memory_order_relaxed);
        finished_.store(0, std::memory_order_relaxed);
        for (std::size_t i = 1; i < threads; ++i) {  // publishes the above to worker i
            workers_[i - 1]->go.fetch_add(1, std::memory_order_release);
            workers_[i - 1]->go.notify_all();
        }
        step(0);
        wait_until(finished_, [&](std::uint32_t v) { return v == threads - 1; });
        state_ = nullptr;
        state.rethrow();
    }

  private:
    struct worker {
        std::atomic<std::uint32_t> go{0};  // +1 per step this worker takes part in (and to stop)
        std::thread thread;
    };

    team() = default;

    void step(std::size_t t) {
        const kernels_on_this_thread single;
        const std::size_t n = threads_;
        state_->thread(t, n, [&] {
            arrived_.fetch_add(1, std::memory_order_acq_rel);
            arrived_.notify_all();
            wait_until(arrived_, [&](std::uint32_t v) { return v == n; });
        });
    }

    void work(std::size_t index, const std::atomic<std::uint32_t>& go) {
        std::uint32_t seen = 0;
        for (;;) {
            wait_until(go, [&](std::uint32_t v) { return v != seen; });
            seen = go.load(std::memory_order_acquire);
            if (stop_.load(std::memory_order_relaxed)) return;
            step(index);
            finished_.fetch_add(1, std::memory_order_release);
            finished_.notify_all();
        }
    }

    std::mutex busy_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint32_t> arrived_{0};   // threads past their parts
    std::atomic<std::uint32_t> finished_{0};  // workers past their combine
    // The step, written by the caller before it signals the workers.
    step_state* state_ = nullptr;
    std::size_t threads_ = 0;
    std::vector<std::exception_ptr> errors_;  // reused: no allocation in steady state
};

}  // namespace

void run_parts(const parts_job& job) {
    const std::size_t threads = std::min(job.threads, job.parts);
#ifdef _OPENMP
    // Inside the user's own region the parts stay on this thread.
    const bool parallel = threads > 1 && !omp_in_parallel();
    if (parallel && !openmp_threads_sleep()) {
        // One region per step; inside it the kernels see omp_in_parallel() and stay on their
        // thread.
        thread_local std::vector<std::exception_ptr> errors;
        step_state state(job, errors);
#pragma omp parallel num_threads(static_cast <int>(threads))
        state.thread(static_cast<std::size_t>(omp_get_thread_num()),
                     static_cast<std::size_t>(omp_get_num_threads()), [] {
#pragma omp barrier
                     });
        state.rethrow();
        return;
    }
#else
    const bool parallel = threads > 1;
#endif
    if (parallel) {
        team& t = team::get();
        const std::unique_lock lock(t.busy(), std::try_to_lock);
        if (lock.owns_lock()) {  // else another thread's runner has the workers: run alone
            t.run(job, threads);
            return;
        }
    }
    thread_local std::vector<std::exception_ptr> errors;
    step_state state(job, errors);
    state.thread(0, 1, [] {});
    state.rethrow();
}

namespace {

template <class T>
void add_parts_impl(T* dst, const T* const* src, const T* w, std::size_t parts, std::size_t lo,
                    std::size_t hi) noexcept {
    // Blocks that stay in L1 while every part is added into them.
    constexpr std::size_t block = 2048;
    for (std::size_t b = lo; b < hi; b += block) {
        const std::size_t e = std::min(hi, b + block);
        const T w0 = w[0];
        for (std::size_t i = b; i < e; ++i) dst[i] *= w0;
        for (std::size_t k = 1; k < parts; ++k) {
            const T wk = w[k];
            const T* s = src[k];
            for (std::size_t i = b; i < e; ++i) dst[i] += wk * s[i];
        }
    }
}

}  // namespace

void add_parts(float* dst, const float* const* src, const float* w, std::size_t parts,
               std::size_t lo, std::size_t hi) noexcept {
    add_parts_impl(dst, src, w, parts, lo, hi);
}
void add_parts(double* dst, const double* const* src, const double* w, std::size_t parts,
               std::size_t lo, std::size_t hi) noexcept {
    add_parts_impl(dst, src, w, parts, lo, hi);
}

}  // namespace fusegrad::nn::detail
