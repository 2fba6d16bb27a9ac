/// @file
/// The threads of fg::nn::data_parallel (fusegrad/nn/data_parallel.hpp): a parallel region of
/// the kernels' (src/kernels/parallel.hpp), so that user code needs no -fopenmp.

#include "fusegrad/nn/data_parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <vector>

#include "../kernels/parallel.hpp"

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

    void thread(std::size_t t, std::size_t n) {
        for (;;) {
            const std::size_t k = next_part_.fetch_add(1, std::memory_order_relaxed);
            if (k >= job_.parts) break;
            try {
                job_.run(job_.ctx, k);
            } catch (...) {
                errors_[k] = std::current_exception();
            }
        }
        kernels::detail::barrier();  // nothing to wait for in a region of one
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

}  // namespace

void run_parts(const parts_job& job) {
    // One parallel region per step (src/kernels/parallel.cpp: on OpenMP's threads or the
    // library's, whichever are awake); inside it the kernels stay on their thread. Alone (one
    // thread, or inside another region) the kernels of each part may thread on their own.
    step_state state(job, *job.errors);
    kernels::detail::parallel(std::min(job.threads, job.parts),
                              [&](std::size_t t, std::size_t n) { state.thread(t, n); });
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
