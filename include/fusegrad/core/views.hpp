#pragma once
/// @file
/// What an op's forward and vjp receive: pointers with shapes, never expressions.

#include <cstddef>
#include <cstdint>

#include "fusegrad/core/shape.hpp"

namespace fusegrad {

/// A read-only value: contiguous, row-major.
template <class T>
struct cview {
    const T* data = nullptr;
    shape dims{};
    constexpr std::size_t size() const noexcept { return dims.size(); }
};

/// A value an op writes: contiguous, row-major.
template <class T>
struct mview {
    T* data = nullptr;
    shape dims{};
    constexpr std::size_t size() const noexcept { return dims.size(); }
};

/// Where an op's vjp puts the gradient of one operand. Null when that operand needs no
/// gradient (an input, labels, a constant): the op must then skip it. When `accumulate` is
/// set the gradient is added to what is there (another use of the same value wrote first);
/// otherwise it overwrites, and the old contents must not be read.
template <class T>
struct grad_sink {
    T* data = nullptr;
    shape dims{};
    bool accumulate = false;

    constexpr explicit operator bool() const noexcept { return data != nullptr; }
    /// The BLAS-style beta for kernels: 1 to accumulate, 0 to overwrite.
    constexpr T beta() const noexcept { return accumulate ? T(1) : T(0); }
    constexpr std::size_t size() const noexcept { return dims.size(); }
};

/// The trailing argument of an op's optional `forward(out, operands..., ws, backward_follows)`:
/// graph::run() calls that overload instead of the plain forward, because the backward follows
/// at once. The op computes the same value and may leave in its workspace what its vjp will
/// reuse (linear_xent: the gradient tile for an upstream of one). See docs/design.md.
struct backward_follows {};

/// What an op that declares `static constexpr bool uses_run_context = true;` receives as the
/// last argument of its forward and vjp: whether the graph is training (graph::train(),
/// graph::eval()) and the graph's step, the number of run() calls so far. dropout draws its
/// mask from (seed, step, element); run() advances the step after its backward, so each run()
/// draws a new mask, and forward() and backward() on their own keep it (what a gradient check
/// needs). `first_row` is the index, in a larger batch, of the graph's row 0 when the graph runs
/// one part of that batch (graph::set_batch_offset, fg::nn::data_parallel): dropout keys its
/// draws by the element's index in the whole batch, so the parts draw the whole batch's mask.
struct run_context {
    bool training = true;
    std::uint64_t step = 0;
    std::uint64_t first_row = 0;
};

/// An op's own scratch memory, when the op declares `workspace_size` (see core/keeps.hpp): the
/// same buffer is passed to the forward and to the vjp of the same value, and holds what the
/// forward wrote there until that vjp has run. Not initialised: the op writes before it reads.
template <class T>
struct workspace {
    T* data = nullptr;
    std::size_t size = 0;
};

}  // namespace fusegrad
