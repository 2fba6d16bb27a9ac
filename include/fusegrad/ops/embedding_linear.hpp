#pragma once
/// @file
/// fg::embedding_linear(table, indices, W, b) = linear(embedding(table, indices), W, b) in one
/// op, without the gathered N×D copy: the product reads each picked row of the table where it
/// lies, as its packing needs it (kernels::gemm_rows), in the forward and for dW. This is how a
/// batch of shuffled training rows reaches the first layer straight from the dataset (a
/// constant or input table and the batch's indices), and how an embedding feeds a linear layer.
/// The rewriter builds it from linear(embedding(table, indices), W, b). The table's gradient,
/// when it has one, is embedding's: a scatter-add of the rows of g·Wᵀ in index order (none for
/// padding_idx's rows), the same bits for any thread count.

#include <algorithm>
#include <cstddef>
#include <cstdint>
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
#include "fusegrad/ops/embedding.hpp"

namespace fusegrad {
namespace op {
struct embedding_linear {
    static constexpr std::string_view name = "embedding_linear";
    /// The vjp reads the table's rows (dW), the indices and W (the table's gradient).
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1) | keeps::operand(2);
    template <std::size_t Table, std::size_t I, std::size_t W, std::size_t B>
    static constexpr std::size_t result_rank = 2;
    /// Rows of g·Wᵀ computed at a time for the table's gradient (each then scatter-added).
    static constexpr std::size_t kScatterRows = 64;
    /// As fg::embedding's: rows picked by this index add nothing to the table's gradient.
    std::optional<std::int64_t> padding_idx;
    /// As fg::embedding's: each row of g·Wᵀ is divided by how often its index occurs.
    bool scale_grad_by_freq = false;

    /// The embedding this op reads through (its options).
    embedding as_embedding() const { return {padding_idx, scale_grad_by_freq}; }
    std::string describe() const { return as_embedding().describe(); }

    shape infer(const shape& table, const shape& idx, const shape& w, const shape& b) const {
        if (table.rank != 2 || w.rank != 2 || b.rank != 1)
            throw shape_error(
                "embedding_linear: expects a matrix table, a matrix W and a vector b, got table " +
                table.str() + ", W " + w.str() + ", b " + b.str());
        if (table.cols != w.rows)
            throw shape_error("embedding_linear: the table's rows have " +
                              std::to_string(table.cols) + " entries but W has " +
                              std::to_string(w.rows) + " rows (table is " + table.str() +
                              ", W is " + w.str() + ")");
        if (b.cols != w.cols)
            throw shape_error("embedding_linear: b has " + std::to_string(b.cols) +
                              " entries but W has " + std::to_string(w.cols) + " columns (b is " +
                              b.str() + ", W is " + w.str() + ")");
        return shape::matrix(idx.cols, w.cols);
    }
    /// One pointer per picked row (two elements each, enough for a pointer in float or
    /// double), then room for kScatterRows rows of g·Wᵀ, then embedding's counts.
    std::size_t workspace_size(const shape&, const shape& table, const shape& idx, const shape&,
                               const shape&) const {
        return scatter_end(table, idx) + as_embedding().count_slots(table);
    }

    template <class T, class I>
    void forward(mview<T> out, cview<T> table, cview<I> idx, cview<T> w, cview<T> b,
                 workspace<T> ws) const {
        static_assert(2 * sizeof(T) >= sizeof(const T*), "two elements hold a row pointer");
        const std::size_t n = idx.size(), d = table.dims.cols, c = w.dims.cols;
        as_embedding().check_indices(table.dims.rows, idx);
        const T* const* rows = embedding::row_pointers(ws.data, table, idx);
        kernels::broadcast_row<T>(n, c, b.data, out.data);
        kernels::gemm_rows<T>(false, false, n, c, d, T(1), rows, w.data, c, T(1), out.data, c);
    }

    // dW = (table[idx])ᵀ·g (the rows read in place), db = Σ_rows g,
    // dtable[idx_i, :] += (g·Wᵀ)_i in index order (rows never picked get 0)
    template <class T, class I>
    void vjp(grad_sink<T> dtable, grad_sink<T>, grad_sink<T> dw, grad_sink<T> db, cview<T> g,
             cview<T>, cview<T> table, cview<I> idx, cview<T> w, cview<T>, workspace<T> ws) const {
        const std::size_t n = idx.size(), d = table.dims.cols, c = w.dims.cols;
        // The indices again (the arrays are read at every call), then the row pointers made
        // afresh: nothing is read back from the forward's.
        const embedding emb = as_embedding();
        emb.check_indices(table.dims.rows, idx);
        if (dw)
            kernels::gemm_rows<T>(true, false, d, c, n, T(1),
                                  embedding::row_pointers(ws.data, table, idx), g.data, c,
                                  dw.beta(), dw.data, c);
        if (db) kernels::col_sums<T>(n, c, g.data, db.beta(), db.data);
        if (!dtable) return;
        const std::int64_t pad = emb.padding_row(table.dims.rows, "embedding");
        if (!dtable.accumulate) kernels::fill<T>(dtable.size(), T(0), dtable.data);
        T* block = ws.data + 2 * n;
        const T* counts = emb.index_counts<T, I>(idx, ws.data + scatter_end(table.dims, idx.dims));
        for (std::size_t i0 = 0; i0 < n; i0 += kScatterRows) {
            const std::size_t rows = std::min(kScatterRows, n - i0);
            kernels::gemm<T>(false, true, rows, d, c, T(1), g.data + i0 * c, c, w.data, c, T(0),
                             block, d);
            embedding::scatter_rows<T, I>(dtable.data, d, idx.data, i0, rows, block, pad, counts);
        }
    }

  private:
    // Where the workspace's g·Wᵀ block ends (the counts start).
    static std::size_t scatter_end(const shape& table, const shape& idx) {
        return 2 * idx.cols + std::min(idx.cols, kScatterRows) * table.cols;
    }
};
}  // namespace op

/// linear(embedding(table, indices, padding_idx), W, b) without the gathered copy: table V×D,
/// indices fg::labels of an integer vector of N, W D×C, b C; N×C. An index outside [0, V) is a
/// label_error naming it, as for fg::embedding.
template <expression Table, expression I, expression W, expression B>
auto embedding_linear(Table&& table, I&& indices, W&& w, B&& b,
                      std::optional<std::int64_t> padding_idx = std::nullopt) {
    return embedding_linear(static_cast<Table&&>(table), static_cast<I&&>(indices),
                            static_cast<W&&>(w), static_cast<B&&>(b),
                            embedding_options{.padding_idx = padding_idx});
}
/// With fg::embedding's options (padding_idx, scale_grad_by_freq).
template <expression Table, expression I, expression W, expression B>
auto embedding_linear(Table&& table, I&& indices, W&& w, B&& b, const embedding_options& options) {
    using TE = std::remove_cvref_t<Table>;
    using IE = std::remove_cvref_t<I>;
    static_assert(!is_index_leaf_v<TE> && TE::rank == 2,
                  "fg::embedding_linear(table, indices, W, b) takes the table (a matrix, one row "
                  "per index) first");
    static_assert(is_index_leaf_v<IE>,
                  "fg::embedding_linear(table, indices, W, b) needs the indices as fg::labels of "
                  "an integer vector");
    static_assert(std::remove_cvref_t<W>::rank == 2 && std::remove_cvref_t<B>::rank == 1,
                  "fg::embedding_linear(table, indices, W, b) takes a matrix W (D × out) and a "
                  "vector b");
    op::embedding_linear o;
    o.padding_idx = options.padding_idx;
    o.scale_grad_by_freq = options.scale_grad_by_freq;
    return node<op::embedding_linear, TE, IE, std::remove_cvref_t<W>, std::remove_cvref_t<B>>{
        o,
        {static_cast<Table&&>(table), static_cast<I&&>(indices), static_cast<W&&>(w),
         static_cast<B&&>(b)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using embedding_linear = fusegrad::detail::type_list<fusegrad::op::embedding_linear>;
}  // namespace fusegrad::op::header_ops
