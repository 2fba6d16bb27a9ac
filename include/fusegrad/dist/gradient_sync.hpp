#pragma once
/// @file
/// Data-parallel gradients (fusegrad/dist): after each rank's backward, every param gradient
/// of a graph becomes the gradient of the global batch, on every rank; then each rank takes
/// the same optimizer step and the weights stay the same everywhere.
///
/// Two modes:
/// - **fast** (`allreduce`): each rank runs the graph once on its share of the global batch;
///   the gradients, scaled by the rank's weight (its rows / the global rows, for a mean loss),
///   are summed across ranks through fusion buckets of `bucket_bytes`, one MPI_Allreduce per
///   bucket (as Horovod's fusion buffer and DDP's buckets). The sum's rounding depends on the
///   process count (MPI picks its algorithm by count and size; each rank's kernels also sum
///   over a different set of rows).
/// - **deterministic** (`begin`, `add_block`, `finish`): the global batch is cut into blocks of
///   a fixed number of rows, numbered in batch order; each rank runs the graph once per block
///   of its contiguous range and the gradient is the sum over blocks in one fixed binary tree
///   (fusegrad/dist/block_tree.hpp), keyed by block number, not by rank. Ranks sum their
///   subtrees locally; each rank finishes the tree on its slice of the values (the subtree
///   sums cut into slices by one MPI_Alltoallv) and the slices are gathered (one
///   MPI_Allgatherv). With fusegrad's kernels, whose sums do not depend on the thread count,
///   the weights after any number of steps are bitwise the same for any number of processes
///   and threads, given the same global batches, blocks and seed.
///
/// The graph's loss (a scalar graph's value) travels with the gradients, scaled the same way:
/// `loss()` is the global batch's loss on every rank.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fusegrad/dist/block_tree.hpp"
#include "fusegrad/dist/communicator.hpp"

namespace fusegrad::dist {

/// Settings of a gradient_sync.
struct sync_options {
    /// Fast mode: bytes per fusion bucket, one MPI_Allreduce each (PyTorch DDP's default
    /// bucket is 25 MB; Horovod's fusion buffer 64 MB). At least one element.
    std::size_t bucket_bytes = std::size_t(25) << 20;
};

/// Gradient synchronisation of every param of `graph` (a compiled graph) across the ranks of
/// `comm`. Both must outlive it.
template <class Graph>
class gradient_sync {
  public:
    using value_type = typename Graph::value_type;

    gradient_sync(communicator& comm, Graph& graph, sync_options options = {})
        : comm_(&comm), graph_(&graph), options_(options) {
        if (options_.bucket_bytes < sizeof(value_type))
            throw dist_error("gradient_sync: bucket_bytes " +
                             std::to_string(options_.bucket_bytes) + " is less than one element");
    }

    /// Fast mode, after `graph.run()` on this rank's rows: every gradient (and the loss)
    /// scaled by `weight`, then summed over the ranks in place. For a mean loss over a global
    /// batch of G rows of which this rank ran n, weight = n / G. Every rank must call it. A
    /// rank with no rows in this batch passes weight 0: it adds zeros, without reading its
    /// gradients (left from an earlier batch, possibly not finite).
    void allreduce(double weight) {
        const auto w = static_cast<value_type>(weight);
        const std::size_t total = flat_size();
        if (total == 0) return;
        // One MPI call counts at most 2³¹ − 1 elements.
        const std::size_t bucket =
            std::min({std::max<std::size_t>(options_.bucket_bytes / sizeof(value_type), 1), total,
                      std::size_t(2147483647)});
        bucket_.resize(bucket);
        // Walk the gradients (then the loss) as one stream cut into buckets: fill, reduce,
        // scatter back.
        std::size_t k = 0, offset = 0;    // the stream position: param k, element offset
        value_type loss = graph_value();  // scaled by w with the gradients
        while (k < Graph::num_params + has_loss) {
            // Fill.
            std::size_t filled = 0;
            const std::size_t k0 = k, off0 = offset;
            walk(
                k, offset, bucket,
                [&](value_type* p, std::size_t n) {
                    if (weight == 0)
                        std::fill_n(bucket_.data() + filled, n, value_type(0));
                    else
                        for (std::size_t i = 0; i < n; ++i) bucket_[filled + i] = p[i] * w;
                    filled += n;
                },
                &loss);
            comm_->allreduce_sum(bucket_.data(), filled);
            // Scatter back (the same walk again).
            std::size_t k1 = k0, off1 = off0, read = 0;
            walk(
                k1, off1, filled,
                [&](value_type* p, std::size_t n) {
                    std::copy_n(bucket_.data() + read, n, p);
                    read += n;
                },
                &loss);
        }
        loss_ = static_cast<double>(loss);
    }

    /// Deterministic mode: starts a global batch of `num_blocks` blocks, of which this rank
    /// will add [first, end) (empty on a rank with no block of this batch).
    void begin(std::uint64_t first, std::uint64_t end, std::uint64_t num_blocks) {
        if (first > end || end > num_blocks || num_blocks == 0)
            throw dist_error("gradient_sync::begin: blocks [" + std::to_string(first) + ", " +
                             std::to_string(end) + ") of a batch of " + std::to_string(num_blocks) +
                             " blocks");
        num_blocks_ = num_blocks;
        first_block_ = first;
        end_block_ = end;
        if (sum_) sum_->reset(first, end);
        open_ = true;
    }

    /// Deterministic mode, after `graph.run()` on block `next_block()`: adds its gradients
    /// (and loss) scaled by `weight` (for a mean loss: the block's rows / the global batch's).
    void add_block(double weight) {
        require_open("add_block");
        const auto w = static_cast<value_type>(weight);
        const std::size_t n = flat_size();
        if (!sum_) sum_.emplace(n, first_block_, end_block_);
        if (sum_->size() != n)
            throw dist_error("gradient_sync::add_block: the params have " + std::to_string(n) +
                             " elements now, " + std::to_string(sum_->size()) +
                             " before (was a param array resized during training?)");
        value_type* out = sum_->slot();
        std::size_t at = 0;
        for (auto name : Graph::param_names) {
            const auto g = graph_->param_grad_buffer(name);
            for (std::size_t i = 0; i < g.size(); ++i) out[at + i] = g.data[i] * w;
            at += g.size();
        }
        if (has_loss) out[at] = graph_value() * w;
        sum_->commit();
    }

    /// The block the next add_block() is for.
    std::uint64_t next_block() const noexcept { return sum_ ? sum_->next_block() : first_block_; }

    /// Deterministic mode: gathers every rank's subtree sums, finishes the tree and writes the
    /// global batch's gradients into the graph (every rank the same). Every rank must call it,
    /// also one with no block in this batch (its graph must have run once before, so that its
    /// gradient buffers exist).
    void finish() {
        require_open("finish");
        open_ = false;
        if (!sum_) sum_.emplace(flat_size(), first_block_, end_block_);
        auto mine = sum_->take();
        const std::size_t n = sum_->size(), ranks = static_cast<std::size_t>(comm_->size());
        // Errors from here on may hit some ranks only, between collectives: fail() ends every
        // rank rather than leave the others waiting.
        if (n != flat_size())
            comm_->fail("gradient_sync::finish: the params have " + std::to_string(flat_size()) +
                        " elements now, " + std::to_string(n) +
                        " before (was a param array resized during training?)");
        const std::size_t me = static_cast<std::size_t>(comm_->rank());
        // Reduce-scatter that keeps the tree: the tree is elementwise, so rank c can finish it
        // for its slice [n·c/P, n·(c+1)/P) of the values alone. Each rank sends every other
        // its subtree sums cut to that rank's slice (one MPI_Alltoallv), finishes the tree on
        // its own slice, and the finished slices are gathered (one MPI_Allgatherv). With one
        // subtree per rank this moves what a ring allreduce moves, 2(P−1)/P of the values.
        std::vector<std::vector<std::byte>> to(ranks);
        for (std::size_t c = 0; c < ranks; ++c)
            append_partials(mine, to[c], n * c / ranks, n * (c + 1) / ranks);
        sum_->recycle(mine);
        std::vector<std::byte> received, all;
        std::vector<std::size_t> sizes;
        comm_->alltoall(to, received, sizes);
        const std::size_t lo = n * me / ranks, hi = n * (me + 1) / ranks;
        std::vector<value_type> slice(hi - lo);
        try {
            finish_tree(num_blocks_, read_partials<value_type>(received), hi - lo, slice.data());
        } catch (const dist_error& e) {  // ranks disagree on the blocks or the graph
            comm_->fail(std::string(e.what()) +
                        " (do all ranks run the same graph on the same "
                        "blocks?)");
        }
        std::vector<std::byte> bytes(slice.size() * sizeof(value_type));
        if (!bytes.empty()) std::memcpy(bytes.data(), slice.data(), bytes.size());
        comm_->allgather(bytes, all, sizes);
        if (all.size() != n * sizeof(value_type))
            comm_->fail("gradient_sync::finish: gathered " + std::to_string(all.size()) +
                        " bytes, expected " + std::to_string(n * sizeof(value_type)) +
                        " (do all ranks run the same graph?)");
        // The gathered values, in rank order, are the gradients in the graph's order, then
        // the loss.
        std::size_t at = 0;
        for (auto name : Graph::param_names) {
            const auto g = graph_->param_grad_buffer(name);
            if (g.size()) std::memcpy(g.data, all.data() + at, g.size() * sizeof(value_type));
            at += g.size() * sizeof(value_type);
        }
        value_type loss{};
        if (has_loss) std::memcpy(&loss, all.data() + at, sizeof loss);
        loss_ = static_cast<double>(loss);
    }

    /// The global batch's loss (Σ over ranks or blocks of weight × the graph's value) after
    /// the last allreduce() or finish(); 0 for a graph whose value is not a scalar.
    double loss() const noexcept { return loss_; }

    /// Values per rank exchanged per step: every param gradient, plus the loss.
    std::size_t flat_size() {
        std::size_t n = 0;
        for (auto name : Graph::param_names) n += graph_->param_grad_buffer(name).size();
        return n + has_loss;
    }

    const sync_options& options() const noexcept { return options_; }

  private:
    static constexpr std::size_t has_loss = Graph::rank == 0 ? 1 : 0;
    communicator* comm_;
    Graph* graph_;
    sync_options options_;
    std::vector<value_type> bucket_;
    std::optional<block_sum<value_type>> sum_;  // made at the first block
    std::uint64_t num_blocks_ = 0, first_block_ = 0, end_block_ = 0;
    bool open_ = false;
    double loss_ = 0;

    value_type graph_value() const {
        if constexpr (Graph::rank == 0)
            return graph_->value();
        else
            return value_type(0);
    }

    void require_open(const char* who) const {
        if (!open_)
            throw dist_error(std::string("gradient_sync::") + who +
                             ": no batch was begun (call begin(first, end, num_blocks) first)");
    }

    // Calls f(pointer, count) on up to `budget` elements of the stream (param gradients in
    // order, then the loss at *loss), from param k, element offset; advances k and offset.
    template <class F>
    void walk(std::size_t& k, std::size_t& offset, std::size_t budget, F&& f, value_type* loss) {
        while (budget > 0 && k < Graph::num_params + has_loss) {
            value_type* p;
            std::size_t size;
            if (k < Graph::num_params) {
                const auto g = graph_->param_grad_buffer(Graph::param_names[k]);
                p = g.data;
                size = g.size();
            } else {
                p = loss;
                size = 1;
            }
            const std::size_t n = std::min(budget, size - offset);
            f(p + offset, n);
            budget -= n;
            offset += n;
            if (offset == size) ++k, offset = 0;
        }
    }
};

}  // namespace fusegrad::dist
