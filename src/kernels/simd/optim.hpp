#pragma once
/// @file
/// Internal: SGD and Adam updates written once against xsimd::batch<T, A>, in the reference's
/// (PyTorch's) order of operations. Included only by src/kernels/arch/optim.*.cpp.

#include <cstddef>

#include "batch_io.hpp"
#include "optim_decl.hpp"

namespace fusegrad::kernels::simd {

template <class A, class T>
void sgd_update(std::size_t n, T lr, T momentum, T weight_decay, bool nesterov, const T* grad,
                T* velocity, T* param) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B vlr(lr), vmu(momentum), vwd(weight_decay);
    for (std::size_t j = 0; j < n; j += L::size) {
        const std::size_t c = n - j < L::size ? n - j : L::size;
        const B p = L::load(param + j, c, T(0));
        B g = L::load(grad + j, c, T(0));
        if (weight_decay != T(0)) g = g + vwd * p;
        if (momentum == T(0)) {  // velocity is neither read nor written
            L::store(param + j, c, p - vlr * g);
            continue;
        }
        const B v = vmu * L::load(velocity + j, c, T(0)) + g;
        L::store(velocity + j, c, v);
        L::store(param + j, c, p - vlr * (nesterov ? g + vmu * v : v));
    }
}

template <class A, class T>
void adam_update(std::size_t n, T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, T eps,
                 T weight_decay, T step_size, T sqrt_bc2, const T* grad, T* m, T* v, T* param) {
    using L = lanes<A, T>;
    using B = typename L::batch;
    const B b1(beta1), b2(beta2), c1(one_minus_beta1), c2(one_minus_beta2), ve(eps),
        vwd(weight_decay), vs(step_size), vbc(sqrt_bc2);
    for (std::size_t j = 0; j < n; j += L::size) {
        const std::size_t c = n - j < L::size ? n - j : L::size;
        const B p = L::load(param + j, c, T(0));
        B g = L::load(grad + j, c, T(0));
        if (weight_decay != T(0)) g = g + vwd * p;
        const B mi = b1 * L::load(m + j, c, T(0)) + c1 * g;
        const B vi = b2 * L::load(v + j, c, T(0)) + c2 * g * g;
        L::store(m + j, c, mi);
        L::store(v + j, c, vi);
        L::store(param + j, c, p - vs * mi / (xsimd::sqrt(vi) / vbc + ve));
    }
}

}  // namespace fusegrad::kernels::simd

#define FUSEGRAD_INSTANTIATE_OPTIM_T(A, T)                                                        \
    template void fusegrad::kernels::simd::sgd_update<A, T>(std::size_t, T, T, T, bool, const T*, \
                                                            T*, T*);                              \
    template void fusegrad::kernels::simd::adam_update<A, T>(std::size_t, T, T, T, T, T, T, T, T, \
                                                             const T*, T*, T*, T*);
#define FUSEGRAD_INSTANTIATE_OPTIM(A)      \
    FUSEGRAD_INSTANTIATE_OPTIM_T(A, float) \
    FUSEGRAD_INSTANTIATE_OPTIM_T(A, double)
