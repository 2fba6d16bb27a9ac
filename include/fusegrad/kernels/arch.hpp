#pragma once
/// @file
/// Which instruction set the kernels run on, and how to choose it.
///
/// Every kernel of `kernels.hpp` has a body written once against `xsimd::batch<T, Arch>`,
/// compiled once per instruction set in a source file built with that set's flags
/// (src/kernels/arch/<family>.<arch>.cpp), plus a plain scalar loop: the reference that the
/// SIMD versions are tested against. The library itself is built without `-m` flags, so it runs
/// on any x86-64 CPU. At first use the best set that the CPU has and the library was built with
/// is chosen; the environment variable `FUSEGRAD_ARCH=scalar|sse4_2|avx2|avx512f` forces one,
/// and `set_arch` / `arch_scope` change it from code (tests run every kernel on every set).
///
/// The choice is process-wide (an atomic), not per thread, so kernels called from worker
/// threads run on the same set as their caller.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fusegrad::kernels {

/// An instruction set the kernels are compiled for, in increasing order of preference.
enum class arch {
    scalar,   ///< plain C++ loops: the reference
    sse4_2,   ///< 128-bit SSE up to 4.2
    avx2,     ///< 256-bit AVX2 with FMA3
    avx512f,  ///< 512-bit AVX-512 F (+ DQ)
};

/// "scalar", "sse4_2", "avx2" or "avx512f".
std::string_view arch_name(arch a) noexcept;

/// The sets this CPU supports and this build contains, scalar first and best last.
const std::vector<arch>& available_archs();

/// Whether `a` is in available_archs().
bool arch_available(arch a);

/// The set the kernels run on now. The first call picks it: FUSEGRAD_ARCH when set (an unknown
/// name, or a set this CPU or build lacks, throws std::runtime_error naming the variable, the
/// value and the sets available), otherwise the best available set.
arch active_arch();

/// Makes the kernels run on `a` from now on; returns the previous choice. Throws
/// std::invalid_argument when `a` is not available.
arch set_arch(arch a);

/// Runs the kernels on one set for the lifetime of the scope, then restores the previous one.
class arch_scope {
  public:
    explicit arch_scope(arch a) : previous_(set_arch(a)) {}
    ~arch_scope() { set_arch(previous_); }
    arch_scope(const arch_scope&) = delete;
    arch_scope& operator=(const arch_scope&) = delete;

  private:
    arch previous_;
};

// ---- the CPU, and the block sizes tuned per micro-architecture --------------------------------

/// The CPU the process runs on, as CPUID reports it: the vendor ("AuthenticAMD",
/// "GenuineIntel", ...), the display family and model (the base and extended fields combined,
/// as Linux prints them in /proc/cpuinfo) and the brand string ("AMD EPYC ..."; what a VM's
/// hypervisor passes through). Empty and 0 on a CPU without CPUID.
struct cpu_id {
    std::string vendor;
    unsigned family = 0;
    unsigned model = 0;
    std::string name;
};
/// This CPU (read once).
const cpu_id& this_cpu();

/// The depth of the GEMM's blocked path (KC: how many steps of k each packed block of A and B
/// holds). Chosen at first use from this_cpu(), by measurement on each kind of machine seen
/// (docs/performance.md, "Zen 4"): 512 on AMD family 25 with AVX-512 (Zen 4, where 1024³ took
/// 6–10% less time than with 256), 256 elsewhere (Zen 5, where an AVX2 sweep of 192–512 stayed
/// within 1%, and every CPU not measured yet: Zen 3, Intel). Results depend on it in the last bits
/// only (the depth blocks' partial sums are added in another grouping), never on the thread count.
std::size_t gemm_depth_block();
/// Sets the depth block for every later GEMM (a multiple of 16 in [16, 4096]; otherwise
/// std::invalid_argument naming the value); returns the previous one. For tests, which run
/// every choice on every machine, and for tuning on a new CPU.
std::size_t set_gemm_depth_block(std::size_t kc);
/// Runs the GEMMs with one depth block for the lifetime of the scope, then restores the previous.
class gemm_depth_block_scope {
  public:
    explicit gemm_depth_block_scope(std::size_t kc) : previous_(set_gemm_depth_block(kc)) {}
    ~gemm_depth_block_scope() { set_gemm_depth_block(previous_); }
    gemm_depth_block_scope(const gemm_depth_block_scope&) = delete;
    gemm_depth_block_scope& operator=(const gemm_depth_block_scope&) = delete;

  private:
    std::size_t previous_;
};

/// From how many bytes of output one call writes with non-temporal (streaming) stores, which
/// go to memory without first reading each line into the cache: a write to an array far larger
/// than the caches then moves half the bytes. Used by the kernels whose output is a stream of
/// full rows (layer_norm forward and backward). Chosen at first use from this_cpu(), by
/// measurement (docs/performance.md, "Streaming stores"): 16 MiB on AMD family 25 with AVX-512 (Zen
/// 4, where writing a 16 MiB array that the next loop reads took 0.83 of the time with them, 8 MiB
/// 1.03–1.60×, 4 MiB 1.5×); never (SIZE_MAX) elsewhere (Zen 5, where an earlier session measured
/// them slower in layer_norm at 16 MiB, and every CPU not measured yet: Zen 3, Intel). Results
/// never depend on it: the same values are stored. A kernel that streams records
/// "stream_stores" in a trace_scope (kernels/trace.hpp).
std::size_t stream_store_threshold();
/// Sets the threshold for every later call (SIZE_MAX: never stream, 0: always); returns the
/// previous one. For tests, which run both paths on every machine, and for tuning a new CPU.
std::size_t set_stream_store_threshold(std::size_t bytes);
/// Uses one threshold for the lifetime of the scope, then restores the previous.
class stream_store_threshold_scope {
  public:
    explicit stream_store_threshold_scope(std::size_t bytes)
        : previous_(set_stream_store_threshold(bytes)) {}
    ~stream_store_threshold_scope() { set_stream_store_threshold(previous_); }
    stream_store_threshold_scope(const stream_store_threshold_scope&) = delete;
    stream_store_threshold_scope& operator=(const stream_store_threshold_scope&) = delete;

  private:
    std::size_t previous_;
};

}  // namespace fusegrad::kernels
