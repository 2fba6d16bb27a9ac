#pragma once
/// @file
/// The run-time half of a compiled graph. `graph<Expr>` (grad/graph.hpp) knows its plan at
/// compile time: the tables of grad/plan.hpp and each value's step functions. What it does with
/// them — sizing and placing its buffers, running the steps in order, the anomaly checks and
/// their messages — does not depend on the expression, so it is written once here, over the
/// plan's tables seen as run-time arrays (`plan_view`), and compiled once in the library
/// (src/grad/runtime.cpp) for float and double. A graph type compiles to a few calls instead of
/// its own copy of every loop: with the loops in the header the optimizer unrolled and
/// specialised each of them per graph type, and in the gradient-law tests they were half of the
/// object code and a third of the compile time (docs/rewrite-rules.md, "Compile cost").

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fusegrad/core/shape.hpp"
#include "fusegrad/core/tensor_ref.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/grad/memory.hpp"

namespace fusegrad::detail {

/// The graph's per-value arrays, as the steps see them.
template <class T>
struct value_table {
    const void* const* src;  // every value's data (leaves: the caller's)
    shape* shapes;
    T* const* out;           // computed values
    T* const* grads;         // gradients, null where none is needed
    T* const* ws;            // workspaces, null where an op has none
    std::size_t* ws_sizes;   // their sizes in elements
    const run_context* ctx;  // training or evaluation, and the step (core/views.hpp)
};

// The entries of a graph's step tables (grad/graph.hpp, "the step tables").

/// The forward step of one value: `op` points at its op object (its state).
template <class T>
using forward_fn = void (*)(const void* op, const value_table<T>& v, std::size_t self,
                            const std::size_t* ch, bool& fused);
/// The backward step of one value.
template <class T>
using backward_fn = void (*)(const void* op, const value_table<T>& v, std::size_t self,
                             const std::size_t* ch, const bool* accumulate, bool& fused);
/// The shape (and workspace) inference of one value.
template <class T>
using infer_fn = void (*)(const void* op, value_table<T>& v, std::size_t self,
                          const std::size_t* ch);
/// An op's own check of its operands in anomaly mode: empty when they are fine, else why not.
template <class T>
using check_fn = std::string (*)(const void* op, const value_table<T>& v, const std::size_t* ch);

/// The schedule of a plan of n values (grad/memory.hpp): the forward of value i at step i, its
/// backward at step 2n − 1 − i, 2n steps in all. One definition for the graph's constexpr
/// lifetimes (grad/graph.hpp) and the buffer planner here, which must agree.
constexpr std::size_t schedule_end(std::size_t n) noexcept {
    return 2 * n;
}
constexpr std::size_t schedule_backward_step(std::size_t n, std::size_t i) noexcept {
    return 2 * n - 1 - i;
}

/// output_last[i]: the last step that reads value i's output (end_step when a backward or the
/// caller reads it: `kept`). M is the operand table's row length.
template <std::size_t N, std::size_t M>
constexpr std::array<std::size_t, N> output_last_steps(
    const std::array<bool, N>& kept, const std::array<std::size_t, N>& arity,
    const std::array<std::size_t, N * M>& operands) noexcept {
    std::array<std::size_t, N> last{};
    for (std::size_t i = 0; i < N; ++i) {
        last[i] = i;
        if (kept[i]) last[i] = schedule_end(N);
        for (std::size_t c = 0; c < arity[i]; ++c) {
            auto& l = last[operands[i * M + c]];
            if (l < i) l = i;
        }
    }
    return last;
}
/// grad_first[i]: the first step that writes value i's gradient (a consumer's vjp, or its own
/// fused forward where may_fuse allows it; the root's is the seed).
template <std::size_t N, std::size_t M>
constexpr std::array<std::size_t, N> grad_first_steps(
    const std::array<bool, N>& is_leaf, const std::array<bool, N>& requires_grad,
    const std::array<std::size_t, N>& arity, const std::array<std::size_t, N * M>& operands,
    const std::array<bool, N>& may_fuse) noexcept {
    std::array<std::size_t, N> first{};
    first.fill(schedule_end(N));
    first[N - 1] = schedule_backward_step(N, N - 1);  // the seed
    for (std::size_t i = 0; i < N; ++i) {
        if (is_leaf[i] || !requires_grad[i]) continue;  // no vjp
        for (std::size_t c = 0; c < arity[i]; ++c) {
            const auto s = operands[i * M + c];
            const auto at = may_fuse[i] && c == 0 ? i : schedule_backward_step(N, i);
            if (at < first[s]) first[s] = at;
        }
    }
    return first;
}

/// A plan's tables (grad/plan.hpp, `plan_tables`) and the graph's schedule, as run-time arrays
/// of `n` entries each; the two operand tables are `n × max_arity`, row-major. Every pointer is
/// to a constexpr array of the graph's type.
struct plan_view {
    std::size_t n;
    std::size_t max_arity;
    const bool* is_leaf;
    const bool* requires_grad;
    const bool* labels;         // a leaf of class indices
    const bool* refuses_empty;  // the op averages over its operands
    const bool* kept;           // a backward reads the value's output
    const std::size_t* arity;
    const std::size_t* operands;  // value i's operand c: operands[i * max_arity + c]
    const bool* accumulate;       // whether value i's vjp adds into operand c's gradient
    const std::string_view* names;
    const std::string_view* op_names;
    const std::size_t* output_last;  // the last step that reads value i's output
    const std::size_t* grad_first;   // the first step that writes value i's gradient

    const std::size_t* operands_of(std::size_t i) const noexcept {
        return operands + i * max_arity;
    }
    std::size_t end_step() const noexcept { return schedule_end(n); }
    std::size_t backward_step(std::size_t i) const noexcept { return schedule_backward_step(n, i); }
    bool has_vjp(std::size_t i) const noexcept { return !is_leaf[i] && requires_grad[i]; }
};

/// A graph's run-time state: its arrays of `n` entries (the plan_view's) and its arena.
template <class T>
struct graph_state {
    array_binding* leaves;  // leaves: the caller's containers
    shape* shapes;
    const void** src;
    T** out;
    T** grads;
    T** ws;
    std::size_t* ws_sizes;
    run_context* ctx;
    std::vector<T>* arena;
    std::vector<buffer_request>* buffers;
    memory_report* memory;

    value_table<T> table() const noexcept { return {src, shapes, out, grads, ws, ws_sizes, ctx}; }
};

/// Re-reads every leaf's container (its buffer may have moved, its shape changed) into `src`;
/// true when a shape changed, so the buffers must be planned again. Throws shape_error for a
/// row window (graph::bind_rows) that does not fit its container.
bool refresh_leaves(const plan_view& p, array_binding* leaves, const void** src);

/// The buffers for the bound shapes: every value's shape and workspace (`infer`, in plan
/// order), then one arena holding every computed value, gradient and workspace, placed by
/// lifetime, and the memory report. Throws shape_error when a shape does not fit, or when an op
/// that averages gets an empty operand.
template <class T>
void plan_buffers(const plan_view& p, const graph_state<T>& s, const infer_fn<T>* infer,
                  const void* const* ops);

/// The forward steps in plan order (`steps[i]` null for a leaf). With `check_finite`, first
/// every real leaf, then each value after its step, are checked for NaN and ±inf (and `checks`
/// runs an op's check of its operands before its step): value_error at the first.
template <class T>
void run_forward(const plan_view& p, const graph_state<T>& s, const forward_fn<T>* steps,
                 const check_fn<T>* checks, const void* const* ops, bool* fused, bool check_finite);

/// The backward steps in reverse plan order (`steps[i]` null where none runs). With
/// `check_finite`, every gradient a step wrote is checked: value_error at the first NaN or ±inf.
template <class T>
void run_backward(const plan_view& p, const graph_state<T>& s, const backward_fn<T>* steps,
                  const void* const* ops, bool* fused, bool check_finite);

// plan_buffers, run_forward and run_backward are defined in src/grad/runtime.cpp for float and
// double, the element types a graph may have (graph_scalar in grad/graph.hpp).

}  // namespace fusegrad::detail
