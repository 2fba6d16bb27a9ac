#pragma once
/// @file
/// Internal: how a kernel front door reaches the body compiled for the active instruction set.
///
/// The pattern, per kernel family `<family>` (softmax, gemm, ...):
///
///   src/kernels/simd/<family>.hpp        the body, written once against xsimd::batch<T, A>:
///                                            namespace fusegrad::kernels::simd {
///                                            template <class A, class T>
///                                            void softmax_rows(std::size_t m, ...) { ... }
///                                            }
///                                        plus a FUSEGRAD_INSTANTIATE_<FAMILY>(A) macro that
///                                        explicitly instantiates every body for float and
///                                        double. Included only by the per-arch files.
///   src/kernels/simd/<family>_decl.hpp   the same templates, declared only (no xsimd batch
///                                        code): what the front door includes.
///   src/kernels/arch/<family>.<arch>.cpp includes simd/<family>.hpp and invokes the macro with
///                                        the arch type below. CMake compiles each such file with
///                                        its set's flags (the file name suffix decides).
///   src/kernels/<family>.cpp             the front door, compiled without -m flags: the scalar
///                                        reference loop and
///                                            template <class T> void softmax_rows(...) {
///                                                detail::trace_call("softmax_rows");
///                                                detail::dispatch([&](auto a) {
///                                                    using A = decltype(a);
///                                                    if constexpr (detail::is_scalar_v<A>)
///                                                        reference_softmax_rows(m, n, x, y);
///                                                    else
///                                                        simd::softmax_rows<A, T>(m, n, x, y);
///                                                });
///                                            }
///
/// Because the front door only sees declarations, no SIMD instruction is ever compiled into a
/// translation unit built without that set's flags, and a CPU without AVX never executes one.

#include <xsimd/xsimd.hpp>

#include "fusegrad/kernels/arch.hpp"

namespace fusegrad::kernels::detail {

/// The tag of the scalar reference path.
struct scalar_arch {};

template <class A>
inline constexpr bool is_scalar_v = std::is_same_v<A, scalar_arch>;

/// The xsimd architecture type each fusegrad::kernels::arch is compiled as.
using sse4_2_arch = xsimd::sse4_2;
using avx2_arch = xsimd::fma3<xsimd::avx2>;  // -mavx2 -mfma: real FMA instructions
using avx512f_arch = xsimd::avx512f;         // -mavx512f -mavx512dq (hadd needs DQ)

/// Whether the library was built with the per-arch files of `a` (CMake defines
/// FUSEGRAD_KERNELS_<ARCH> for each set in FUSEGRAD_KERNEL_ARCHS).
constexpr bool arch_compiled(arch a) noexcept {
    switch (a) {
        case arch::scalar:
            return true;
        case arch::sse4_2:
#ifdef FUSEGRAD_KERNELS_SSE4_2
            return true;
#else
            return false;
#endif
        case arch::avx2:
#ifdef FUSEGRAD_KERNELS_AVX2
            return true;
#else
            return false;
#endif
        case arch::avx512f:
#ifdef FUSEGRAD_KERNELS_AVX512F
            return true;
#else
            return false;
#endif
    }
    return false;
}

/// Calls f(A{}) with A the arch type of active_arch(), or scalar_arch for the reference.
template <class F>
decltype(auto) dispatch(F&& f) {
    switch (active_arch()) {
#ifdef FUSEGRAD_KERNELS_AVX512F
        case arch::avx512f:
            return f(avx512f_arch{});
#endif
#ifdef FUSEGRAD_KERNELS_AVX2
        case arch::avx2:
            return f(avx2_arch{});
#endif
#ifdef FUSEGRAD_KERNELS_SSE4_2
        case arch::sse4_2:
            return f(sse4_2_arch{});
#endif
        default:
            return f(scalar_arch{});
    }
}

}  // namespace fusegrad::kernels::detail

/// In a front door (which includes parallel.hpp too): runs the kernel `name` on the active set
/// over the chunks of [0, count), `chunk` items each (on several threads when the `work` per item
/// makes it pay, see parallel.hpp): reference::name<T>(ARGS...) on the scalar set,
/// simd::name<A, T>(ARGS...) on the others. ARGS may use `b` (the chunk's first item), `len` (its
/// item count) and `c` (its index) to offset pointers.
#define FUSEGRAD_RUN_CHUNKS(count, chunk, work, name, ...)                      \
    ::fusegrad::kernels::detail::dispatch([&](auto arch_tag_) {                 \
        using A = decltype(arch_tag_);                                          \
        ::fusegrad::kernels::detail::for_each_chunk(                            \
            (count), (chunk), (work),                                           \
            [&]([[maybe_unused]] std::size_t c, std::size_t b, std::size_t e) { \
                [[maybe_unused]] const std::size_t len = e - b;                 \
                if constexpr (::fusegrad::kernels::detail::is_scalar_v<A>)      \
                    reference::name<T>(__VA_ARGS__);                            \
                else                                                            \
                    simd::name<A, T>(__VA_ARGS__);                              \
            });                                                                 \
    })
