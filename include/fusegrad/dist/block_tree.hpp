#pragma once
/// @file
/// A sum over blocks in one fixed binary tree, whoever computes which part: what makes a
/// data-parallel gradient bitwise the same for any number of processes (fusegrad/dist).
///
/// The blocks of a global batch are numbered 0 … B−1. The tree is the dyadic one over those
/// numbers: node (level k, index i) covers blocks [i·2ᵏ, (i+1)·2ᵏ), its value is
/// left + right (its children (k−1, 2i) and (k−1, 2i+1)), and a node whose right child covers
/// no block (past B − 1) is its left child unchanged. The root is the node of the smallest
/// level whose first node covers every block. Floating-point addition is commutative but not
/// associative, so this fixes every rounding: the sum depends on the blocks' values and on B,
/// never on how the blocks were split among ranks or threads.
///
/// A rank holding the contiguous blocks [first, end) adds them in arrival order with a binary
/// counter (`block_sum::push`): two siblings on top of the stack merge into their parent. What
/// is left is the canonical cover of [first, end) by maximal tree nodes (`cover`), each summed
/// in the tree's order. The ranks' covers tile [0, B); `finish_tree` completes the tree above
/// them, the same on every rank. One process holding [0, B) runs the same arithmetic.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fusegrad/dist/communicator.hpp"

namespace fusegrad::dist {

/// A node of the dyadic tree over block numbers: blocks [index·2^level, (index+1)·2^level).
struct tree_node {
    std::uint32_t level = 0;
    std::uint64_t index = 0;

    constexpr std::uint64_t first() const noexcept { return index << level; }
    constexpr std::uint64_t end() const noexcept { return (index + 1) << level; }
    friend constexpr bool operator==(tree_node, tree_node) = default;
    friend constexpr auto operator<=>(tree_node, tree_node) = default;
};

/// The maximal tree nodes that tile the blocks [first, end), in order: at most 2·log₂(end −
/// first) + 2 of them, one when [first, end) is itself a node (a power-of-two count of blocks
/// starting at a multiple of that count).
inline std::vector<tree_node> cover(std::uint64_t first, std::uint64_t end) {
    std::vector<tree_node> nodes;
    while (first < end) {
        std::uint32_t k = 0;
        // Grow while the node stays aligned at `first` and inside [first, end) (compared as
        // a length, so that nothing overflows near 2⁶⁴).
        while (k < 62 && (first & ((std::uint64_t(1) << (k + 1)) - 1)) == 0 &&
               (std::uint64_t(2) << k) <= end - first)
            ++k;
        nodes.push_back({k, first >> k});
        first += std::uint64_t(1) << k;
    }
    return nodes;
}

/// The level of the root of the tree over `num_blocks` blocks (0 for one block).
inline std::uint32_t root_level(std::uint64_t num_blocks) noexcept {
    std::uint32_t k = 0;
    while (k < 63 && (std::uint64_t(1) << k) < num_blocks) ++k;
    return k;
}

/// One summed tree node: its place and its n values.
template <class T>
struct tree_partial {
    tree_node node;
    std::vector<T> values;
};

/// The sum of a rank's blocks [first, end) in the tree's order: push each block's n values in
/// increasing block order, then `take()` the canonical cover of [first, end), each node summed.
template <class T>
class block_sum {
  public:
    /// Sums vectors of `n` elements over the blocks [first, end).
    block_sum(std::size_t n, std::uint64_t first, std::uint64_t end)
        : n_(n), first_(first), end_(end), next_(first) {
        if (first > end)
            throw dist_error("block_sum: blocks [" + std::to_string(first) + ", " +
                             std::to_string(end) + ") are not a range");
    }

    /// The number of values per block.
    std::size_t size() const noexcept { return n_; }
    /// The block the next push() is for.
    std::uint64_t next_block() const noexcept { return next_; }

    /// Adds block next_block(): its n values are `values`.
    void push(const T* values) {
        std::copy_n(values, n_, slot());
        commit();
    }

    /// The n-element buffer to write block next_block()'s values into, then commit(): push()
    /// without the copy.
    T* slot() {
        if (next_ >= end_)
            throw dist_error("block_sum: block " + std::to_string(next_) +
                             " is past this rank's blocks [" + std::to_string(first_) + ", " +
                             std::to_string(end_) + ")");
        if (slot_.size() != n_) slot_ = spare();
        return slot_.data();
    }

    /// Adds the block written into slot().
    void commit() {
        if (slot_.size() != n_) throw dist_error("block_sum: commit() without a slot()");
        stack_.push_back({{0, next_}, std::move(slot_)});
        slot_.clear();
        ++next_;
        // Two siblings on top: the left one becomes their parent, left + right.
        while (stack_.size() >= 2) {
            auto& right = stack_[stack_.size() - 1];
            auto& left = stack_[stack_.size() - 2];
            if (left.node.level != right.node.level || (left.node.index & 1) != 0 ||
                left.node.index + 1 != right.node.index)
                break;
            add_into(left.values.data(), right.values.data(), n_);
            left.node = {left.node.level + 1, left.node.index >> 1};
            free_.push_back(std::move(right.values));
            stack_.pop_back();
        }
    }

    /// The cover of [first, end), each node summed; throws unless every block was pushed.
    /// Leaves the sum empty, ready for another batch through reset().
    std::vector<tree_partial<T>> take() {
        if (next_ != end_)
            throw dist_error("block_sum: " + std::to_string(next_ - first_) + " of the " +
                             std::to_string(end_ - first_) + " blocks [" + std::to_string(first_) +
                             ", " + std::to_string(end_) + ") were pushed");
        std::vector<tree_partial<T>> out = std::move(stack_);
        stack_.clear();
        return out;
    }

    /// Starts over on the blocks [first, end).
    void reset(std::uint64_t first, std::uint64_t end) {
        for (auto& p : stack_) free_.push_back(std::move(p.values));
        stack_.clear();
        first_ = next_ = first;
        end_ = end;
    }

    /// Returns partials' buffers for reuse.
    void recycle(std::vector<tree_partial<T>>& parts) {
        for (auto& p : parts) free_.push_back(std::move(p.values));
        parts.clear();
    }

    /// a[i] += b[i]: elementwise, so the same for any vector width the compiler picks.
    static void add_into(T* a, const T* b, std::size_t n) noexcept {
        for (std::size_t i = 0; i < n; ++i) a[i] += b[i];
    }

  private:
    std::size_t n_;
    std::uint64_t first_, end_, next_;
    std::vector<tree_partial<T>> stack_;
    std::vector<std::vector<T>> free_;  // buffers of merged nodes, reused
    std::vector<T> slot_;               // the block being written (slot(), commit())

    std::vector<T> spare() {
        if (free_.empty()) return std::vector<T>(n_);
        std::vector<T> v = std::move(free_.back());
        free_.pop_back();
        v.resize(n_);
        return v;
    }
};

/// The root of the tree over `num_blocks` blocks from partials that tile [0, num_blocks)
/// (every rank's `block_sum::take()`, in any order), written to out[0, n). Throws dist_error
/// when the partials do not tile the blocks (a block missing or given twice) or differ in size.
template <class T>
void finish_tree(std::uint64_t num_blocks, const std::vector<tree_partial<T>>& parts, std::size_t n,
                 T* out) {
    if (num_blocks == 0) throw dist_error("finish_tree: a batch of no blocks");
    std::map<tree_node, const T*> at;
    std::uint64_t covered = 0;
    for (const auto& p : parts) {
        if (p.node.level > 62 || p.node.index >= (std::uint64_t(1) << (63 - p.node.level)))
            throw dist_error("finish_tree: partial (level " + std::to_string(p.node.level) +
                             ", index " + std::to_string(p.node.index) + ") lies past any batch");
        if (p.values.size() != n)
            throw dist_error("finish_tree: a partial of " + std::to_string(p.values.size()) +
                             " values, expected " + std::to_string(n));
        if (p.node.end() > num_blocks || !at.emplace(p.node, p.values.data()).second)
            throw dist_error("finish_tree: partial (level " + std::to_string(p.node.level) +
                             ", index " + std::to_string(p.node.index) +
                             ") is given twice or lies past block " +
                             std::to_string(num_blocks - 1));
        covered += p.node.end() - p.node.first();
    }
    if (covered != num_blocks)
        throw dist_error("finish_tree: the partials cover " + std::to_string(covered) + " of " +
                         std::to_string(num_blocks) + " blocks");
    const std::uint32_t top = root_level(num_blocks);
    std::vector<std::vector<T>> scratch(top + 1);  // one right-child buffer per level
    // value(node) into dst: a partial, or left + right (right absent past the last block).
    auto value = [&](auto&& self, tree_node node, T* dst) -> void {
        if (auto it = at.find(node); it != at.end()) {
            std::copy_n(it->second, n, dst);
            return;
        }
        if (node.level == 0)
            throw dist_error("finish_tree: block " + std::to_string(node.index) +
                             " is in no partial (overlapping partials)");
        const tree_node left{node.level - 1, node.index * 2},
            right{node.level - 1, node.index * 2 + 1};
        self(self, left, dst);
        if (right.first() >= num_blocks) return;
        auto& buf = scratch[node.level];
        buf.resize(n);
        self(self, right, buf.data());
        block_sum<T>::add_into(dst, buf.data(), n);
    };
    value(value, tree_node{top, 0}, out);
}

/// Partials as bytes (level, index, count, values; native byte order: every rank of a run is
/// the same build on the same kind of machine), and back.
/// Appends `parts` as bytes, each cut to its values [lo, hi) (all of them by default): what
/// one rank sends another for that rank's slice of the values.
template <class T>
void append_partials(const std::vector<tree_partial<T>>& parts, std::vector<std::byte>& out,
                     std::size_t lo = 0, std::size_t hi = std::size_t(-1)) {
    for (const auto& p : parts) {
        const std::size_t end = std::min(hi, p.values.size()), first = std::min(lo, end);
        const std::uint64_t head[3] = {p.node.level, p.node.index, end - first};
        const auto* h = reinterpret_cast<const std::byte*>(head);
        out.insert(out.end(), h, h + sizeof head);
        const auto* v = reinterpret_cast<const std::byte*>(p.values.data() + first);
        out.insert(out.end(), v, v + (end - first) * sizeof(T));
    }
}

template <class T>
std::vector<tree_partial<T>> read_partials(const std::vector<std::byte>& bytes) {
    std::vector<tree_partial<T>> parts;
    std::size_t at = 0;
    while (at < bytes.size()) {
        std::uint64_t head[3];
        if (bytes.size() - at < sizeof head)
            throw dist_error("read_partials: " + std::to_string(bytes.size() - at) +
                             " stray bytes at the end");
        std::memcpy(head, bytes.data() + at, sizeof head);
        at += sizeof head;
        if (head[0] > 62 || head[1] >= (std::uint64_t(1) << (63 - head[0])) ||
            head[2] > (bytes.size() - at) / sizeof(T))
            throw dist_error("read_partials: a partial of level " + std::to_string(head[0]) +
                             ", index " + std::to_string(head[1]) + " and " +
                             std::to_string(head[2]) + " values does not fit in " +
                             std::to_string(bytes.size() - at) + " bytes or past any batch");
        tree_partial<T> p{{static_cast<std::uint32_t>(head[0]), head[1]},
                          std::vector<T>(static_cast<std::size_t>(head[2]))};
        if (!p.values.empty())
            std::memcpy(p.values.data(), bytes.data() + at, p.values.size() * sizeof(T));
        at += p.values.size() * sizeof(T);
        parts.push_back(std::move(p));
    }
    return parts;
}

}  // namespace fusegrad::dist
