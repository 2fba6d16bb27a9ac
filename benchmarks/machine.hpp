#pragma once
/// @file
/// What machine a benchmark ran on, for the header of every table: the CPU's family, model and
/// name from /proc/cpuinfo (figures are only comparable within one microarchitecture), the
/// instruction set the kernels run on, and this machine's limits measured by two probes, so that
/// every figure can be read as a fraction of them: the float FMA peak (one thread, and all the
/// run's threads) and the memory bandwidth of one core.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <immintrin.h>

#include "fusegrad/kernels/arch.hpp"
#include "fusegrad/nn/threads.hpp"

namespace fusegrad::bench {

/// "vendor, family F, model M (brand)" from CPUID (kernels::this_cpu).
inline std::string cpu_label() {
    const auto& cpu = fusegrad::kernels::this_cpu();
    return cpu.vendor + ", family " + std::to_string(cpu.family) + ", model " +
           std::to_string(cpu.model) + " (" + cpu.name + ")";
}

// ---- FMA peak ------------------------------------------------------------------------------

/// 12 independent FMA chains (a = a · m + c on 12 registers) for `iters` rounds; returns a sum
/// so that nothing is optimized away. Cores with two vector FMA pipes of 4 cycles' latency need
/// 8 chains in flight; 12 leave slack.
__attribute__((target("avx512f"))) inline float fma_chains_avx512(long iters) {
    __m512 a[12];
    for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1.0f + 0.01f * float(i));
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    for (long k = 0; k < iters; ++k) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
    }
    __m512 s = a[0];
    for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
    alignas(64) float v[16];
    _mm512_store_ps(v, s);
    float r = 0;
    for (float x : v) r += x;
    return r;
}

__attribute__((target("avx2,fma"))) inline float fma_chains_avx2(long iters) {
    __m256 a[12];
    for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(1.0f + 0.01f * float(i));
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    for (long k = 0; k < iters; ++k) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
    }
    __m256 s = a[0];
    for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
    alignas(32) float v[8];
    _mm256_store_ps(v, s);
    return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

/// Float GFLOP/s (an FMA counted as 2) of `threads` threads each running the FMA chains on the
/// widest vectors the kernels run on (AVX-512 or AVX2; best of 5), or 0 on an SSE-only or
/// scalar run. `lanes` is set to the vector width used.
inline double fma_peak(int threads, int& lanes) {
    namespace fk = fusegrad::kernels;
    const fk::arch a = fk::active_arch();
    lanes = a == fk::arch::avx512f ? 16 : a == fk::arch::avx2 ? 8 : 0;
    if (lanes == 0) return 0;
    const long iters = 10'000'000;
    double best = 0;
    volatile float sink = 0;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
        {
            const float r = lanes == 16 ? fma_chains_avx512(iters) : fma_chains_avx2(iters);
#ifdef _OPENMP
#pragma omp critical
#endif
            sink = sink + r;
        }
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, double(threads) * double(iters) * 12.0 * 2.0 * lanes / s / 1e9);
    }
    return best;
}

// ---- memory bandwidth ----------------------------------------------------------------------

/// GB/s (bytes read + bytes written) of one core copying 128 MB with memcpy, best of 5: the
/// roofline of a streaming kernel on one thread (far beyond every cache).
inline double copy_bandwidth() {
    const std::size_t bytes = std::size_t(128) << 20;
    std::vector<char> from(bytes, 1), to(bytes, 0);
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        std::memcpy(to.data(), from.data(), bytes);
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, 2.0 * double(bytes) / s / 1e9);
        from[rep] = to[bytes - 1 - rep];  // keeps the copies from being elided
    }
    return best;
}

/// What print_machine measured, for benchmarks that state their figures as shares of it.
struct machine_limits {
    double fma_one = 0;  ///< float GFLOP/s on one thread (0: not probed)
    double fma_all = 0;  ///< on the `threads` print_machine was given
    double copy_gbs = 0;
};

/// The header every benchmark prints before its tables: CPU, the kernels' instruction set, the
/// FMA peak on 1 and on `threads` threads (default: as many as the kernels may use) and the
/// one-core memory bandwidth. Returns the figures.
inline machine_limits print_machine(int threads = int(fusegrad::nn::num_threads())) {
    namespace fk = fusegrad::kernels;
    int lanes = 0;
    machine_limits m;
    m.fma_one = fma_peak(1, lanes);
    m.fma_all = threads > 1 ? fma_peak(threads, lanes) : m.fma_one;
    m.copy_gbs = copy_bandwidth();
    const double one = m.fma_one, all = m.fma_all;
    std::printf("CPU %s; kernels on %s; GEMM depth block %zu\n", cpu_label().c_str(),
                std::string(fk::arch_name(fk::active_arch())).c_str(), fk::gemm_depth_block());
    if (lanes == 0) {
        std::printf("FMA peak: not probed (no AVX2/AVX-512 run)");
    } else {
        std::printf("FMA peak (probe, float, %d lanes): %.1f GFLOP/s on 1 thread", lanes, one);
        if (threads > 1) std::printf(", %.1f on %d threads", all, threads);
    }
    std::printf("; memory: %.1f GB/s on one core (memcpy of 128 MB, read + write)\n\n", m.copy_gbs);
    std::fflush(stdout);
    return m;
}

}  // namespace fusegrad::bench
