#pragma once
/// @file
/// fg::embedding(table, indices): the rows of a V×D table picked by an integer vector of N
/// indices (fg::labels), N×D, as PyTorch's nn.functional.embedding. The gradient of the table
/// is a scatter-add of the upstream rows, done in index order on one thread: bitwise the same
/// for any thread count. An index outside [0, V) is a label_error naming it. With padding_idx
/// (PyTorch's option; negative counts from the end), the rows picked by that index get no
/// gradient: the table's row padding_idx is never updated by it. With scale_grad_by_freq
/// (PyTorch's option), each upstream row is divided by how many times its index occurs in the
/// batch before it is added (the counts in the op's workspace, one per table row).

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad {
namespace op {
struct embedding {
    static constexpr std::string_view name = "embedding";
    static constexpr keeps kept = keeps::operand(1);  // the indices; the table is not read back
    template <std::size_t W, std::size_t I>
    static constexpr std::size_t result_rank = 2;
    /// Rows picked by this index get no gradient (PyTorch's padding_idx; negative counts from
    /// the end of the table). Must lie in [-V, V).
    std::optional<std::int64_t> padding_idx;
    /// PyTorch's scale_grad_by_freq: row i of the upstream gradient is added to the table's
    /// gradient times 1 / (the number of times idx[i] occurs among the indices).
    bool scale_grad_by_freq = false;

    std::string describe() const {
        std::string d = padding_idx ? "padding_idx=" + std::to_string(*padding_idx) : std::string();
        if (scale_grad_by_freq) d.append(d.empty() ? "" : ", ").append("scale_grad_by_freq");
        return d;
    }
    /// The workspace: with scale_grad_by_freq, a count per table row (only the rows picked are
    /// written and read); none without.
    std::size_t workspace_size(const shape&, const shape& table, const shape&) const {
        return count_slots(table);
    }
    std::size_t count_slots(const shape& table) const {
        return scale_grad_by_freq ? table.rows : 0;
    }
    /// The padding row in [0, rows), or -1 without one; a value_error when outside [-V, V), as
    /// PyTorch's.
    std::int64_t padding_row(std::size_t rows, std::string_view op_name) const {
        if (!padding_idx) return -1;
        const auto v = static_cast<std::int64_t>(rows);
        if (*padding_idx < -v || *padding_idx >= v)
            throw value_error(std::string(op_name) + ": padding_idx " +
                              std::to_string(*padding_idx) + " is outside [-" + std::to_string(v) +
                              ", " + std::to_string(v) + ") for a table of " +
                              std::to_string(rows) + " rows");
        return *padding_idx < 0 ? *padding_idx + v : *padding_idx;
    }

    shape infer(const shape& table, const shape& idx) const {
        if (table.rank != 2)
            throw shape_error("embedding: the table must be a matrix (one row per index), got " +
                              table.str());
        return shape::matrix(idx.cols, table.cols);
    }

    /// A label_error naming the first index outside [0, rows), and a value_error for a
    /// padding_idx outside [-rows, rows) (the ops that read rows by index: embedding_linear and
    /// embedding_linear_xent too).
    template <class I>
    void check_indices(std::size_t rows, cview<I> idx) const {
        const std::size_t n = idx.size();
        const std::size_t bad = kernels::first_label_out_of_range<I>(n, idx.data, rows);
        if (bad < n)
            throw_label_outside(name, "index idx", bad, static_cast<long long>(idx.data[bad]),
                                rows);
        (void)padding_row(rows, name);
    }

    /// The rows table[idx[i]] as an array of n row pointers created at `slots` (room for n
    /// pointers, aligned for them), made afresh on every call, so that nothing is read back
    /// from a pointer stored by an earlier call; null for no index. The indices must have been
    /// checked (check_indices).
    template <class T, class I>
    static const T* const* row_pointers(void* slots, cview<T> table, cview<I> idx) {
        const std::size_t n = idx.size(), d = table.dims.cols;
        if (n == 0) return nullptr;
        const T** rows = ::new (slots) const T*[n];
        for (std::size_t i = 0; i < n; ++i)
            rows[i] = table.data + static_cast<std::size_t>(idx.data[i]) * d;
        return rows;
    }

    /// With scale_grad_by_freq: counts[v] = how many times v occurs in idx, for every v in idx
    /// (counts has room for the table's rows; a count is exact in T below 2^24 indices in
    /// float), and returns counts; null without (no scaling). Indices must have been checked.
    template <class T, class I>
    const T* index_counts(cview<I> idx, T* counts) const {
        if (!scale_grad_by_freq) return nullptr;
        const std::size_t n = idx.size();
        for (std::size_t i = 0; i < n; ++i) counts[static_cast<std::size_t>(idx.data[i])] = T(0);
        for (std::size_t i = 0; i < n; ++i) counts[static_cast<std::size_t>(idx.data[i])] += T(1);
        return counts;
    }
    /// dtable[idx[i], :] += s_i · rows[r, :] for i = first + r, r in [0, count), in order, with
    /// s_i = 1 / counts[idx[i]] (null counts: 1), skipping the padding row `pad` (-1: none).
    template <class T, class I>
    static void scatter_rows(T* dtable, std::size_t d, const I* idx, std::size_t first,
                             std::size_t count, const T* rows, std::int64_t pad, const T* counts) {
        for (std::size_t r = 0; r < count; ++r) {
            const auto k = static_cast<std::int64_t>(idx[first + r]);
            if (k == pad) continue;
            const auto row = static_cast<std::size_t>(k);
            const T s = counts ? T(1.0 / double(counts[row])) : T(1);
            kernels::axpby<T>(d, s, rows + r * d, T(1), dtable + row * d);
        }
    }

    template <class T, class I>
    void forward(mview<T> out, cview<T> table, cview<I> idx, workspace<T>) const {
        const std::size_t n = idx.size(), d = table.dims.cols;
        check_indices(table.dims.rows, idx);
        for (std::size_t i = 0; i < n; ++i)
            kernels::axpby<T>(d, T(1), table.data + std::size_t(idx.data[i]) * d, T(0),
                              out.data + i * d);
    }
    // dtable[idx[i], :] += s_i g[i, :] for i in order, s_i = 1, or 1 / (idx[i]'s count) with
    // scale_grad_by_freq (rows never picked get 0, nor padding_idx)
    template <class T, class I>
    void vjp(grad_sink<T> dtable, grad_sink<T>, cview<T> g, cview<T>, cview<T>, cview<I> idx,
             workspace<T> ws) const {
        if (!dtable) return;
        // Again: the indices are the caller's array, which may have changed since the forward.
        check_indices(dtable.dims.rows, idx);
        const std::int64_t pad = padding_row(dtable.dims.rows, name);
        if (!dtable.accumulate) kernels::fill<T>(dtable.size(), T(0), dtable.data);
        scatter_rows<T, I>(dtable.data, dtable.dims.cols, idx.data, 0, idx.size(), g.data, pad,
                           index_counts<T, I>(idx, ws.data));
    }
};
}  // namespace op

/// fg::embedding's options, PyTorch's names (max_norm and sparse are not offered).
struct embedding_options {
    /// Rows picked by this index get no gradient; in [-V, V), negative from the end.
    std::optional<std::int64_t> padding_idx = std::nullopt;
    /// Each upstream row is divided by how often its index occurs in the batch.
    bool scale_grad_by_freq = false;
};

/// The rows of `table` (V×D) at `indices` (fg::labels of an integer vector of N): N×D. With
/// padding_idx (in [-V, V), checked when the graph runs), the rows it picks get no gradient.
template <expression W, expression I>
auto embedding(W&& table, I&& indices, std::optional<std::int64_t> padding_idx = std::nullopt) {
    return embedding(static_cast<W&&>(table), static_cast<I&&>(indices),
                     embedding_options{.padding_idx = padding_idx});
}
/// With the options: `fg::embedding(table, idx, {.padding_idx = 0, .scale_grad_by_freq = true})`.
template <expression W, expression I>
auto embedding(W&& table, I&& indices, const embedding_options& options) {
    using WE = std::remove_cvref_t<W>;
    using IE = std::remove_cvref_t<I>;
    static_assert(!is_index_leaf_v<WE> && WE::rank == 2,
                  "fg::embedding(table, indices) takes the table (a matrix, one row per index) "
                  "first");
    static_assert(is_index_leaf_v<IE>,
                  "fg::embedding(table, indices) needs the indices as fg::labels of an integer "
                  "vector");
    op::embedding o;
    o.padding_idx = options.padding_idx;
    o.scale_grad_by_freq = options.scale_grad_by_freq;
    return node<op::embedding, WE, IE>{o, {static_cast<W&&>(table), static_cast<I&&>(indices)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using embedding = fusegrad::detail::type_list<fusegrad::op::embedding>;
}  // namespace fusegrad::op::header_ops
