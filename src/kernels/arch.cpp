/// @file
/// Instruction-set detection and selection (see fusegrad/kernels/arch.hpp). Compiled without
/// `-m` flags: it only asks the CPU, it never executes the sets it asks about.

#include "fusegrad/kernels/arch.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include <xsimd/config/xsimd_cpuid.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "dispatch.hpp"

namespace fusegrad::kernels {

namespace {

constexpr arch all_archs[] = {arch::scalar, arch::sse4_2, arch::avx2, arch::avx512f};

// The register state the OS saves on a context switch (XCR0), or 0 when the OS does not use
// XSAVE. xsimd 8.1 reads the CPUID feature bits only; a CPU can have AVX-512 while the OS (a
// kernel booted with noxsave, or a hypervisor) leaves its registers disabled, and running
// such code then dies with SIGILL.
std::uint64_t os_saved_state() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0 || (ecx & (1u << 27)) == 0) {
        return 0;  // no OSXSAVE
    }
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<std::uint64_t>(hi) << 32) | lo;
#else
    return 0;
#endif
}

bool cpu_has(arch a) noexcept {
    const auto& cpu = xsimd::available_architectures();
    const std::uint64_t xcr0 = os_saved_state();
    const bool os_ymm = (xcr0 & 0x6) == 0x6;    // SSE and AVX state
    const bool os_zmm = (xcr0 & 0xe6) == 0xe6;  // and opmask, ZMM0-15 upper halves, ZMM16-31
    switch (a) {
        case arch::scalar:
            return true;
        case arch::sse4_2:
            return cpu.sse4_2 != 0;
        case arch::avx2:
            return cpu.avx2 != 0 && cpu.fma3_avx2 != 0 && os_ymm;
        case arch::avx512f:
            return cpu.avx512f != 0 && cpu.avx512dq != 0 && os_zmm;
    }
    return false;
}

std::vector<arch> detect() {
    std::vector<arch> out;
    for (arch a : all_archs) {
        if (detail::arch_compiled(a) && cpu_has(a)) {
            out.push_back(a);
        }
    }
    return out;
}

std::string available_list() {
    std::string s;
    for (arch a : available_archs()) {
        s += s.empty() ? "" : ", ";
        s += arch_name(a);
    }
    return s;
}

arch initial_choice() {
    const char* env = std::getenv("FUSEGRAD_ARCH");
    if (env == nullptr || *env == '\0') {
        return available_archs().back();
    }
    const std::string_view wanted(env);
    for (arch a : all_archs) {
        if (arch_name(a) == wanted) {
            if (!arch_available(a)) {
                throw std::runtime_error(
                    "FUSEGRAD_ARCH=" + std::string(wanted) +
                    ": this CPU or build does not have it (available: " + available_list() + ")");
            }
            return a;
        }
    }
    throw std::runtime_error("FUSEGRAD_ARCH=" + std::string(wanted) +
                             ": unknown instruction set (expected one of scalar, sse4_2, avx2, "
                             "avx512f; available here: " +
                             available_list() + ")");
}

// -1 until the first active_arch() call decides.
std::atomic<int> g_active{-1};

cpu_id read_cpu() {
    cpu_id id;
#if defined(__x86_64__) || defined(__i386__)
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0) return id;
    char vendor[12];
    for (int i = 0; i < 4; ++i) {
        vendor[i] = static_cast<char>(ebx >> (8 * i));
        vendor[4 + i] = static_cast<char>(edx >> (8 * i));
        vendor[8 + i] = static_cast<char>(ecx >> (8 * i));
    }
    id.vendor.assign(vendor, 12);
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return id;
    const unsigned base_family = (eax >> 8) & 0xf;
    const unsigned base_model = (eax >> 4) & 0xf;
    id.family = base_family == 0xf ? base_family + ((eax >> 20) & 0xff) : base_family;
    id.model = base_family == 0x6 || base_family == 0xf ? base_model | (((eax >> 16) & 0xf) << 4)
                                                        : base_model;
    // The brand string: 48 bytes in leaves 0x80000002-4, NUL-padded (some CPUs pad the front
    // with spaces).
    if (__get_cpuid_max(0x80000000u, nullptr) >= 0x80000004u) {
        char brand[49] = {};
        for (unsigned leaf = 0; leaf < 3; ++leaf) {
            unsigned r[4] = {};
            __get_cpuid(0x80000002u + leaf, &r[0], &r[1], &r[2], &r[3]);
            for (unsigned i = 0; i < 16; ++i)
                brand[leaf * 16 + i] = static_cast<char>(r[i / 4] >> (8 * (i % 4)));
        }
        std::string_view b(brand);
        while (!b.empty() && b.front() == ' ') b.remove_prefix(1);
        while (!b.empty() && b.back() == ' ') b.remove_suffix(1);
        id.name.assign(b);
    }
#endif
    return id;
}

/// The measured depth block for this CPU (see gemm_depth_block's comment in arch.hpp).
std::size_t tuned_depth_block() {
    const cpu_id& cpu = this_cpu();
    if (cpu.vendor == "AuthenticAMD" && cpu.family == 25 && cpu_has(arch::avx512f)) return 512;
    return 256;
}

// 0 until the first gemm_depth_block() call decides.
std::atomic<std::size_t> g_depth_block{0};

/// The measured streaming-store threshold for this CPU (see stream_store_threshold in arch.hpp).
std::size_t tuned_stream_store_threshold() {
    const cpu_id& cpu = this_cpu();
    // Family 25 is Zen 3 and Zen 4; only Zen 4 has AVX-512 (and was measured).
    if (cpu.vendor == "AuthenticAMD" && cpu.family == 25 && cpu_has(arch::avx512f))
        return std::size_t(16) << 20;
    return SIZE_MAX;
}

// Not decided until the first stream_store_threshold() call (kUndecided).
constexpr std::size_t kUndecided = SIZE_MAX - 1;
std::atomic<std::size_t> g_stream_threshold{kUndecided};

}  // namespace

std::string_view arch_name(arch a) noexcept {
    switch (a) {
        case arch::scalar:
            return "scalar";
        case arch::sse4_2:
            return "sse4_2";
        case arch::avx2:
            return "avx2";
        case arch::avx512f:
            return "avx512f";
    }
    return "unknown";
}

const std::vector<arch>& available_archs() {
    static const std::vector<arch> archs = detect();
    return archs;
}

bool arch_available(arch a) {
    for (arch b : available_archs()) {
        if (a == b) {
            return true;
        }
    }
    return false;
}

arch active_arch() {
    int a = g_active.load(std::memory_order_relaxed);
    if (a < 0) {
        // Two threads racing here compute the same answer; the first store wins.
        int expected = -1;
        const int chosen = static_cast<int>(initial_choice());
        g_active.compare_exchange_strong(expected, chosen, std::memory_order_relaxed);
        a = g_active.load(std::memory_order_relaxed);
    }
    return static_cast<arch>(a);
}

arch set_arch(arch a) {
    if (!arch_available(a)) {
        throw std::invalid_argument(
            "fusegrad::kernels::set_arch: " + std::string(arch_name(a)) +
            " is not available on this CPU or in this build (available: " + available_list() + ")");
    }
    const arch previous = active_arch();
    g_active.store(static_cast<int>(a), std::memory_order_relaxed);
    return previous;
}

const cpu_id& this_cpu() {
    static const cpu_id cpu = read_cpu();
    return cpu;
}

std::size_t gemm_depth_block() {
    std::size_t kc = g_depth_block.load(std::memory_order_relaxed);
    if (kc == 0) {
        std::size_t expected = 0;
        g_depth_block.compare_exchange_strong(expected, tuned_depth_block(),
                                              std::memory_order_relaxed);
        kc = g_depth_block.load(std::memory_order_relaxed);
    }
    return kc;
}

std::size_t set_gemm_depth_block(std::size_t kc) {
    if (kc < 16 || kc > 4096 || kc % 16 != 0) {
        throw std::invalid_argument("fusegrad::kernels::set_gemm_depth_block: " +
                                    std::to_string(kc) + " is not a multiple of 16 in [16, 4096]");
    }
    const std::size_t previous = gemm_depth_block();
    g_depth_block.store(kc, std::memory_order_relaxed);
    return previous;
}

std::size_t stream_store_threshold() {
    std::size_t t = g_stream_threshold.load(std::memory_order_relaxed);
    if (t == kUndecided) {
        std::size_t expected = kUndecided;
        g_stream_threshold.compare_exchange_strong(expected, tuned_stream_store_threshold(),
                                                   std::memory_order_relaxed);
        t = g_stream_threshold.load(std::memory_order_relaxed);
    }
    return t;
}

std::size_t set_stream_store_threshold(std::size_t bytes) {
    const std::size_t previous = stream_store_threshold();
    // kUndecided itself means "never" too: stored as SIZE_MAX.
    g_stream_threshold.store(bytes == kUndecided ? SIZE_MAX : bytes, std::memory_order_relaxed);
    return previous;
}

}  // namespace fusegrad::kernels
