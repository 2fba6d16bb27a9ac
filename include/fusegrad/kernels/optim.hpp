#pragma once
/// @file
/// Optimizer update kernels on raw pointers: one SGD step and one Adam step over n contiguous
/// parameters, with the same arithmetic as PyTorch's torch.optim.SGD and torch.optim.Adam
/// (single-tensor, foreach=False). Defined in src/kernels/optim.cpp for `float` and `double`.
///
/// Every kernel updates `param` in place from `grad`, and its state buffers in place. `grad`
/// is only read; it must not alias `param` or a state buffer. A size of 0 is allowed.

#include <cstddef>
#include <cstdint>

namespace fusegrad::kernels {

/// One SGD step with momentum μ, weight decay λ and dampening 0 (torch.optim.SGD):
///   g' = g + λ p;   v = μ v + g';   p -= lr · (nesterov ? g' + μ v : v).
/// With μ == 0 the step is p -= lr · g' and `velocity` is neither read nor written (it may be
/// null). The velocity starts at 0, which makes the first step's v = g' as in PyTorch.
template <class T>
void sgd_update(std::size_t n, T lr, T momentum, T weight_decay, bool nesterov, const T* grad,
                T* velocity, T* param);

/// One Adam step (torch.optim.Adam, amsgrad off) at step number `step` (1 for the first):
///   g' = g + λ p;   m = β1 m + (1 − β1) g';   v = β2 v + (1 − β2) g'²;
///   p -= lr · (m / (1 − β1^step)) / (√(v / (1 − β2^step)) + ε).
/// `m` and `v` start at 0. The betas are doubles, as PyTorch's: 1 − β and the bias corrections
/// are computed in double before they meet T (in float, β2 = 0.99999999 rounds to 1, but
/// 1 − β2 = 1e-8 does not). Requires step >= 1.
template <class T>
void adam_update(std::size_t n, T lr, double beta1, double beta2, T eps, T weight_decay,
                 std::int64_t step, const T* grad, T* m, T* v, T* param);

}  // namespace fusegrad::kernels
