/// @file
/// The threads of fg::nn::data_parallel (fusegrad/nn/data_parallel.hpp). Compiled with the
/// library's OpenMP flags, so that user code needs no -fopenmp.

#include "fusegrad/nn/data_parallel.hpp"

#include <algorithm>
#include <exception>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusegrad::nn::detail {

void run_parts(const parts_job& job) {
    std::vector<std::exception_ptr> errors(job.parts);
    auto run = [&](std::size_t k) {
        try {
            job.run(job.ctx, k);
        } catch (...) {
            errors[k] = std::current_exception();
        }
    };
    auto rethrow = [&] {
        for (auto& e : errors)
            if (e) std::rethrow_exception(e);
    };
#ifdef _OPENMP
    if (job.threads > 1 && job.parts > 1 && !omp_in_parallel()) {
        const auto parts = static_cast<long long>(job.parts);
        std::exception_ptr combine_error;
        // One region per step: the parts, a barrier, then every thread's share of the sum.
        // Inside it the kernels see omp_in_parallel() and stay on their thread.
#pragma omp parallel num_threads(static_cast <int>(job.threads))
        {
#pragma omp for schedule(static, 1)
            for (long long k = 0; k < parts; ++k) run(static_cast<std::size_t>(k));
            // (the for's implicit barrier: every part has run)
            bool failed = false;  // each thread reads the same errors after the barrier
            for (const auto& e : errors) failed = failed || static_cast<bool>(e);
            if (!failed) {
                try {
                    job.combine(job.ctx, static_cast<std::size_t>(omp_get_thread_num()),
                                static_cast<std::size_t>(omp_get_num_threads()));
                } catch (...) {  // nothing may leave the region
#pragma omp critical(fusegrad_data_parallel)
                    if (!combine_error) combine_error = std::current_exception();
                }
            }
        }
        rethrow();
        if (combine_error) std::rethrow_exception(combine_error);
        return;
    }
#endif
    for (std::size_t k = 0; k < job.parts; ++k) run(k);
    rethrow();
    job.combine(job.ctx, 0, 1);
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
