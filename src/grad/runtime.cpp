/// @file
/// The run-time half of a compiled graph (grad/runtime.hpp): the loops every graph type shares,
/// compiled once.

#include "fusegrad/grad/runtime.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/finite.hpp"

namespace fusegrad {

void array_binding::refresh() noexcept {
    if (read) read(source, data, dims);
    window_fits = true;
    if (first_row == 0 && row_count == all_rows) return;
    // Rank 2: rows of cols elements; rank 1: single elements (a vector's length is cols).
    const std::size_t rows = dims.rank == 2 ? dims.rows : dims.cols;
    const std::size_t stride = dims.rank == 2 ? dims.cols : 1;
    const std::size_t count = row_count != all_rows ? row_count
                              : first_row <= rows   ? rows - first_row
                                                    : 0;
    window_fits = dims.rank >= 1 && first_row <= rows && count <= rows - first_row;
    if (!window_fits) {
        data = nullptr;
        return;
    }
    if (data) data = static_cast<const char*>(data) + first_row * stride * elem_bytes;
    (dims.rank == 2 ? dims.rows : dims.cols) = count;
}

}  // namespace fusegrad

namespace fusegrad::detail {

namespace {

/// "nan", "inf" or "-inf" and where: the tail of every check_finite message.
std::string non_finite_at(double v, std::size_t k, const shape& s) {
    return std::string(non_finite_name(v)) + " at element " + std::to_string(k) + " of " + s.str();
}

/// How a check_finite message names value i: `leaf "x"` or `softmax (value 3)`.
std::string label(const plan_view& p, std::size_t i) {
    if (p.is_leaf[i])
        return p.names[i].empty() ? "a constant leaf" : "leaf \"" + std::string(p.names[i]) + "\"";
    return std::string(p.op_names[i]) + " (value " + std::to_string(i) + ")";
}

template <class T>
void check_leaves_finite(const plan_view& p, const array_binding* leaves) {
    for (std::size_t i = 0; i < p.n; ++i) {
        if (!p.is_leaf[i] || p.labels[i]) continue;
        const auto& l = leaves[i];
        const auto* d = static_cast<const T*>(l.data);
        const std::size_t k = first_non_finite(d, l.dims.size());
        if (k < l.dims.size())
            throw value_error("check_finite: " + label(p, i) + " holds " +
                              non_finite_at(double(d[k]), k, l.dims));
    }
}

template <class T>
void check_value_finite(const plan_view& p, const graph_state<T>& s, std::size_t i) {
    const std::size_t n = s.shapes[i].size();
    const std::size_t k = first_non_finite(s.out[i], n);
    if (k == n) return;
    std::string from;
    for (std::size_t c = 0; c < p.arity[i]; ++c) {
        const std::size_t o = p.operands_of(i)[c];
        from += (c ? ", " : "") + label(p, o) + " " + s.shapes[o].str();
    }
    throw value_error("check_finite: " + label(p, i) + " produced " +
                      non_finite_at(double(s.out[i][k]), k, s.shapes[i]) +
                      " from finite operands (" + from + ")");
}

template <class T>
void check_grads_finite(const plan_view& p, const graph_state<T>& s, std::size_t i) {
    for (std::size_t c = 0; c < p.arity[i]; ++c) {
        const std::size_t o = p.operands_of(i)[c];
        if (!s.grads[o]) continue;
        const std::size_t n = s.shapes[o].size();
        const std::size_t k = first_non_finite(s.grads[o], n);
        if (k < n)
            throw value_error(
                "check_finite: the backward of " + label(p, i) + " wrote a gradient of " +
                non_finite_at(double(s.grads[o][k]), k, s.shapes[o]) + " for its operand " +
                std::to_string(c) + ", " + label(p, o) + ", from a finite upstream gradient");
    }
}

}  // namespace

bool refresh_leaves(const plan_view& p, array_binding* leaves, const void** src) {
    bool changed = false;
    for (std::size_t i = 0; i < p.n; ++i) {
        if (!p.is_leaf[i]) continue;
        const shape before = leaves[i].dims;
        leaves[i].refresh();
        if (!leaves[i].window_fits) {
            array_binding& b = leaves[i];
            const bool matrix = b.dims.rank == 2;
            const std::size_t rows = matrix ? b.dims.rows : b.dims.cols;
            const std::string end = b.row_count == array_binding::all_rows
                                        ? std::string("the end")
                                        : std::to_string(b.first_row + b.row_count);
            std::string what = "leaf \"" + std::string(p.names[i]) + "\": bind_rows asks for " +
                               (matrix ? "rows [" : "elements [") + std::to_string(b.first_row) +
                               ", " + end + ") of an array " + b.dims.str() + " of " +
                               std::to_string(rows) + (matrix ? " rows" : " elements");
            // A shape no container has (rank 3): whatever the next refresh reads differs from
            // it, so the next forward plans the buffers again.
            b.dims = shape{3, 0, 0};
            src[i] = nullptr;
            throw shape_error(what);
        }
        src[i] = leaves[i].data;
        if (leaves[i].dims != before) changed = true;
    }
    return changed;
}

template <class T>
void plan_buffers(const plan_view& p, const graph_state<T>& s, const infer_fn<T>* infer,
                  const void* const* ops) {
    for (std::size_t i = 0; i < p.n; ++i)
        if (p.is_leaf[i]) s.shapes[i] = s.leaves[i].dims;
    for (std::size_t i = 0; i < p.n; ++i) s.ws_sizes[i] = 0;
    auto v = s.table();
    for (std::size_t i = 0; i < p.n; ++i)
        if (infer[i]) infer[i](ops[i], v, i, p.operands_of(i));
    // An op that averages (it declares refuses_empty) over an empty operand, an empty batch
    // say, would give 0/0: refused, naming the op and the operand.
    for (std::size_t i = 0; i < p.n; ++i) {
        if (!p.refuses_empty[i]) continue;
        for (std::size_t c = 0; c < p.arity[i]; ++c) {
            const std::size_t o = p.operands_of(i)[c];
            if (s.shapes[o].size() == 0)
                throw shape_error(std::string(p.op_names[i]) + ": operand " + std::to_string(c) +
                                  ", " + label(p, o) + ", is empty " + s.shapes[o].str() +
                                  ": an average over nothing (an empty batch?)");
        }
    }

    // One buffer per computed value, gradient and workspace, placed by lifetime.
    constexpr std::size_t align = 64;
    const auto bytes = [](std::size_t n) { return (n * sizeof(T) + align - 1) / align * align; };
    auto& buffers = *s.buffers;
    buffers.clear();
    std::size_t unshared = 0, kept = 0, workspace_bytes = 0, kept_values = 0, values = 0;
    for (std::size_t i = 0; i < p.n; ++i) {
        if (p.is_leaf[i]) continue;
        ++values;
        const std::size_t n = bytes(s.shapes[i].size());
        buffers.push_back({n, i, p.output_last[i], 0});
        if (p.kept[i]) kept += n, ++kept_values;
        if (p.requires_grad[i]) buffers.push_back({n, p.grad_first[i], p.backward_step(i), 0});
        if (s.ws_sizes[i] > 0) {
            const std::size_t w = bytes(s.ws_sizes[i]);
            buffers.push_back({w, i, p.has_vjp(i) ? p.end_step() : i, 0});
            workspace_bytes += w;
            if (p.has_vjp(i)) kept += w;
        }
    }
    for (const auto& b : buffers) unshared += b.bytes;
    const std::size_t arena_bytes = place_buffers(buffers);

    auto& arena = *s.arena;
    const std::size_t elems = arena_bytes / sizeof(T) + align / sizeof(T);
    if (arena.size() < elems) arena.assign(elems, T(0));
    const auto addr = reinterpret_cast<std::uintptr_t>(arena.data());
    std::byte* base = reinterpret_cast<std::byte*>(arena.data()) + (align - addr % align) % align;
    const auto at = [&](std::size_t b) { return reinterpret_cast<T*>(base + buffers[b].offset); };
    std::size_t b = 0;
    for (std::size_t i = 0; i < p.n; ++i) {
        if (p.is_leaf[i]) continue;
        s.out[i] = at(b++);
        s.src[i] = s.out[i];
        if (p.requires_grad[i]) s.grads[i] = at(b++);
        s.ws[i] = s.ws_sizes[i] > 0 ? at(b++) : nullptr;
    }

    auto& m = *s.memory;
    m = {};
    m.arena_bytes = arena_bytes;
    m.unshared_bytes = unshared;
    m.peak_live_bytes = peak_live_bytes(buffers, p.end_step());
    m.kept_bytes = kept;
    m.workspace_bytes = workspace_bytes;
    m.values = values;
    m.kept_values = kept_values;
    for (std::size_t i = 0; i < p.n; ++i)
        if (p.is_leaf[i] && p.requires_grad[i])
            m.param_grad_bytes += s.shapes[i].size() * sizeof(T);
}

template <class T>
void run_forward(const plan_view& p, const graph_state<T>& s, const forward_fn<T>* steps,
                 const check_fn<T>* checks, const void* const* ops, bool* fused,
                 bool check_finite) {
    const auto v = s.table();
    if (check_finite) check_leaves_finite<T>(p, s.leaves);
    for (std::size_t i = 0; i < p.n; ++i) {
        if (!steps[i]) continue;
        if (check_finite && checks[i]) {
            const std::string why = checks[i](ops[i], v, p.operands_of(i));
            if (!why.empty()) throw value_error("check_finite: " + label(p, i) + ": " + why);
        }
        steps[i](ops[i], v, i, p.operands_of(i), fused[i]);
        if (check_finite) check_value_finite(p, s, i);
    }
}

template <class T>
void run_backward(const plan_view& p, const graph_state<T>& s, const backward_fn<T>* steps,
                  const void* const* ops, bool* fused, bool check_finite) {
    const auto v = s.table();
    for (std::size_t i = p.n; i-- > 0;)
        if (steps[i]) {
            steps[i](ops[i], v, i, p.operands_of(i), p.accumulate + i * p.max_arity, fused[i]);
            if (check_finite) check_grads_finite(p, s, i);
        }
}

#define FUSEGRAD_RUNTIME_INSTANTIATE(T)                                                           \
    template void plan_buffers<T>(const plan_view&, const graph_state<T>&, const infer_fn<T>*,    \
                                  const void* const*);                                            \
    template void run_forward<T>(const plan_view&, const graph_state<T>&, const forward_fn<T>*,   \
                                 const check_fn<T>*, const void* const*, bool*, bool);            \
    template void run_backward<T>(const plan_view&, const graph_state<T>&, const backward_fn<T>*, \
                                  const void* const*, bool*, bool);
FUSEGRAD_RUNTIME_INSTANTIATE(float)
FUSEGRAD_RUNTIME_INSTANTIATE(double)
#undef FUSEGRAD_RUNTIME_INSTANTIATE

}  // namespace fusegrad::detail
