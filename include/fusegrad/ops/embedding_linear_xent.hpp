#pragma once
/// @file
/// embedding_linear_xent<R>(table, indices, W, b, y[, w]) = linear_xent<R>(embedding(table,
/// indices), W, b, y[, w]) without the gathered N×D copy of the picked rows: the fused linear
/// cross-entropy's GEMMs read each picked row of the table where it lies, as they pack it
/// (kernels::linear_xent_problem::x_rows), in the forward and for dW. Every bit is the one of
/// linear_xent on the gathered copy. This is how a batch of shuffled training rows reaches a
/// softmax regression straight from the dataset: a constant or input table (the whole training
/// set) and the batch's indices (dataset::next_indices()).
///
/// The table gets no gradient here: the op is made only for a table that needs none
/// (fg::linear_cross_entropy on fg::embedding of such a table, and the rule xent_of_linear on
/// embedding_linear). A table that is trained keeps linear_xent(embedding(...)): its gradient,
/// a scatter-add of the N×D rows of G·Wᵀ, needs those rows held anyway.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
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
#include "fusegrad/ops/linear_xent.hpp"

namespace fusegrad {
namespace op {

template <reduction R>
struct embedding_linear_xent {
    static constexpr std::string_view name = "embedding_linear_xent";
    /// The mean over an empty batch is refused (shape_error), as linear_xent's.
    static constexpr bool refuses_empty = R == reduction::mean;
    /// The vjp recomputes the logits from the table's rows: it reads every operand.
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1) | keeps::operand(2) |
                                  keeps::operand(3) | keeps::operand(4) | keeps::operand(5);
    template <std::size_t... Ranks>
    static constexpr std::size_t result_rank = R == reduction::none ? 1 : 0;

    /// linear_xent's options (reduction aside: R).
    linear_xent_options options;
    /// The embedding's: checked to lie in [-V, V) as fg::embedding checks it; it changes
    /// nothing else, the table having no gradient here.
    std::optional<std::int64_t> padding_idx;

    shape infer(const shape& table, const shape& idx, const shape& w, const shape& b,
                const shape& y) const {
        return fused().infer(rows_of(table, idx), w, b, y);
    }
    shape infer(const shape& table, const shape& idx, const shape& w, const shape& b,
                const shape& y, const shape& cw) const {
        return fused().infer(rows_of(table, idx), w, b, y, cw);
    }

    /// One row pointer per index (two elements each, enough for a pointer in float or double,
    /// rounded up to 64 bytes), then linear_xent's workspace.
    template <class... Rest>
    std::size_t workspace_size(const shape&, const shape& table, const shape& idx, const shape& w,
                               const Rest&...) const {
        const shape x = shape::matrix(idx.cols, table.cols);
        return pointer_slots(idx.cols) + fused().tiles(x, w).workspace(x.rows);
    }

    template <class T, class I, class Y, class... F>
    void forward(mview<T> out, cview<T> table, cview<I> idx, cview<T> w, cview<T> b, cview<Y> y,
                 workspace<T> ws, F... follows) const
        requires(std::same_as<F, backward_follows>&&...) {
        fused().run_forward(out, problem(table, idx, w, b.data, nullptr, ws), y, rest_of(ws, idx),
                            sizeof...(follows) != 0);
    }
    template <class T, class I, class Y, class... F>
    void forward(mview<T> out, cview<T> table, cview<I> idx, cview<T> w, cview<T> b, cview<Y> y,
                 cview<T> cw, workspace<T> ws, F... follows) const
        requires(std::same_as<F, backward_follows>&&...) {
        fused().run_forward(out, problem(table, idx, w, b.data, cw.data, ws), y, rest_of(ws, idx),
                            sizeof...(follows) != 0);
    }

    // dW = (table[idx])ᵀ·G and db = Σ_rows G, tile by tile, the rows read in place. No gradient
    // for the table (see the file's comment), the indices, the labels or the class weights.
    template <class T, class I, class Y>
    void vjp(grad_sink<T> dtable, grad_sink<T>, grad_sink<T> dw, grad_sink<T> db, grad_sink<T>,
             cview<T> g, cview<T>, cview<T> table, cview<I> idx, cview<T> w, cview<T> b, cview<Y> y,
             workspace<T> ws) const {
        no_table_gradient(dtable);
        fused().run_vjp(grad_sink<T>{}, dw, db, g, problem(table, idx, w, b.data, nullptr, ws), y,
                        rest_of(ws, idx));
    }
    template <class T, class I, class Y>
    void vjp(grad_sink<T> dtable, grad_sink<T>, grad_sink<T> dw, grad_sink<T> db, grad_sink<T>,
             grad_sink<T>, cview<T> g, cview<T>, cview<T> table, cview<I> idx, cview<T> w,
             cview<T> b, cview<Y> y, cview<T> cw, workspace<T> ws) const {
        no_table_gradient(dtable);
        fused().run_vjp(grad_sink<T>{}, dw, db, g, problem(table, idx, w, b.data, cw.data, ws), y,
                        rest_of(ws, idx));
    }

    /// linear_xent's, then the embedding's padding_idx when set.
    std::string describe() const {
        std::string d = fused().describe();
        if (padding_idx) d.append(d.empty() ? "" : ", ").append(embedding{padding_idx}.describe());
        return d;
    }

  private:
    linear_xent<R, true> fused() const { return linear_xent<R, true>{options}; }

    static shape rows_of(const shape& table, const shape& idx) {
        if (table.rank != 2)
            throw shape_error(
                "embedding_linear_xent: the table must be a matrix (one row per index), got " +
                table.str());
        return shape::matrix(idx.cols, table.cols);
    }

    static std::size_t pointer_slots(std::size_t n) { return (2 * n + 15) / 16 * 16; }

    template <class T, class I>
    static workspace<T> rest_of(workspace<T> ws, cview<I> idx) {
        const std::size_t used = pointer_slots(idx.size());
        if (ws.data == nullptr || ws.size < used)
            throw std::invalid_argument("embedding_linear_xent: the workspace has " +
                                        std::to_string(ws.size) + " elements, it needs at least " +
                                        std::to_string(used) + " (see workspace_size)");
        return {ws.data + used, ws.size - used};
    }

    template <class T>
    static void no_table_gradient(grad_sink<T> dtable) {
        if (dtable)
            throw std::logic_error(
                "embedding_linear_xent: the table has no gradient here (the op is built only for "
                "a table that needs none; a trained table keeps linear_xent(embedding(...)))");
    }

    /// linear_xent's problem on the rows table[idx[i]], read in place: each index checked (a
    /// label_error naming it, as fg::embedding's), then its row's address written to the start
    /// of the workspace, made afresh on every call (as an array of pointers created there).
    template <class T, class I>
    kernels::linear_xent_problem<T> problem(cview<T> table, cview<I> idx, cview<T> w,
                                            std::type_identity_t<const T*> b,
                                            std::type_identity_t<const T*> cw,
                                            workspace<T> ws) const {
        static_assert(std::integral<I>, "embedding_linear_xent takes integer indices");
        static_assert(2 * sizeof(T) >= sizeof(const T*), "two elements hold a row pointer");
        const std::size_t n = idx.size(), d = table.dims.cols;
        embedding{padding_idx}.check_indices(table.dims.rows, idx);
        (void)rest_of(ws, idx);
        auto p = fused().problem(cview<T>{nullptr, shape::matrix(n, d)}, w, b, cw);
        p.x_rows = embedding::row_pointers(ws.data, table, idx);  // null for no rows
        return p;
    }
};

}  // namespace op

}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using embedding_linear_xent =
    fusegrad::detail::type_list<fusegrad::op::embedding_linear_xent<fusegrad::reduction::none>,
                                fusegrad::op::embedding_linear_xent<fusegrad::reduction::mean>,
                                fusegrad::op::embedding_linear_xent<fusegrad::reduction::sum>>;
}  // namespace fusegrad::op::header_ops
