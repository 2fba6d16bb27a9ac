/// @file
/// Optimizer updates (SGD with momentum, Adam), in PyTorch's arithmetic order: the scalar
/// reference loops, and the SIMD bodies of simd/optim.hpp for the active instruction set.

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "dispatch.hpp"
#include "fusegrad/kernels/optim.hpp"
#include "fusegrad/kernels/trace.hpp"
#include "parallel.hpp"
#include "simd/optim_decl.hpp"

namespace fusegrad::kernels {

namespace {

/// Parameters per chunk (a multiple of every lane count); elements are independent, so the
/// chunking never changes a result.
constexpr std::size_t kOptimChunk = std::size_t(1) << 14;

/// Offsets a pointer that may be null (the velocity of momentum-free SGD).
template <class T>
T* offset(T* p, std::size_t k) {
    return p != nullptr ? p + k : nullptr;
}

}  // namespace

template <class T>
void sgd_update(std::size_t n, T lr, T momentum, T weight_decay, bool nesterov, const T* grad,
                T* velocity, T* param) {
    detail::trace_call("sgd_update");
    // The SIMD body of the active set; the loops below are the scalar reference.
    const bool done = detail::dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        if constexpr (detail::is_scalar_v<A>) {
            return false;
        } else {
            detail::for_each_chunk(
                n, kOptimChunk, 4, [&](std::size_t, std::size_t b, std::size_t e) {
                    simd::sgd_update<A, T>(e - b, lr, momentum, weight_decay, nesterov, grad + b,
                                           offset(velocity, b), param + b);
                });
            return true;
        }
    });
    if (done) return;
    if (momentum == T(0)) {
        for (std::size_t i = 0; i < n; ++i) {
            const T g = weight_decay == T(0) ? grad[i] : grad[i] + weight_decay * param[i];
            param[i] -= lr * g;
        }
        return;
    }
    for (std::size_t i = 0; i < n; ++i) {
        const T g = weight_decay == T(0) ? grad[i] : grad[i] + weight_decay * param[i];
        const T v = momentum * velocity[i] + g;
        velocity[i] = v;
        param[i] -= lr * (nesterov ? g + momentum * v : v);
    }
}

template <class T>
void adam_update(std::size_t n, T lr, double beta1, double beta2, T eps, T weight_decay,
                 std::int64_t step, const T* grad, T* m, T* v, T* param) {
    detail::trace_call("adam_update");
    // PyTorch: step_size = lr / bc1, denom = √v / √bc2 + ε, p -= step_size · m / denom; β and
    // 1 − β are each rounded to T from double (its m.mul_(β1).add_(g, alpha=1 − β1)).
    const double t = static_cast<double>(step);
    const double bc1 = 1.0 - std::pow(beta1, t);
    const double bc2 = 1.0 - std::pow(beta2, t);
    const T b1 = static_cast<T>(beta1), c1 = static_cast<T>(1.0 - beta1);
    const T b2 = static_cast<T>(beta2), c2 = static_cast<T>(1.0 - beta2);
    const T step_size = static_cast<T>(static_cast<double>(lr) / bc1);
    const T sqrt_bc2 = static_cast<T>(std::sqrt(bc2));
    // The SIMD body of the active set; the loop below is the scalar reference.
    const bool done = detail::dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        if constexpr (detail::is_scalar_v<A>) {
            return false;
        } else {
            detail::for_each_chunk(
                n, kOptimChunk, 8, [&](std::size_t, std::size_t b, std::size_t e) {
                    simd::adam_update<A, T>(e - b, b1, c1, b2, c2, eps, weight_decay, step_size,
                                            sqrt_bc2, grad + b, m + b, v + b, param + b);
                });
            return true;
        }
    });
    if (done) return;
    for (std::size_t i = 0; i < n; ++i) {
        const T g = weight_decay == T(0) ? grad[i] : grad[i] + weight_decay * param[i];
        const T mi = b1 * m[i] + c1 * g;
        const T vi = b2 * v[i] + c2 * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] -= step_size * mi / (std::sqrt(vi) / sqrt_bc2 + eps);
    }
}

#define FUSEGRAD_INSTANTIATE_OPTIM(T)                                                              \
    template void sgd_update<T>(std::size_t, T, T, T, bool, const T*, T*, T*);                     \
    template void adam_update<T>(std::size_t, T, double, double, T, T, std::int64_t, const T*, T*, \
                                 T*, T*);

FUSEGRAD_INSTANTIATE_OPTIM(float)
FUSEGRAD_INSTANTIATE_OPTIM(double)

#undef FUSEGRAD_INSTANTIATE_OPTIM

}  // namespace fusegrad::kernels
