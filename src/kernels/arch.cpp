/// @file
/// Instruction-set detection and selection (see fusegrad/kernels/arch.hpp). Compiled without
/// `-m` flags: it only asks the CPU, it never executes the sets it asks about.

#include "fusegrad/kernels/arch.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

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

}  // namespace fusegrad::kernels
