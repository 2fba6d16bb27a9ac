#pragma once
/// @file
/// Mini-batches over a labelled dataset, with a reproducible per-epoch shuffle.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

namespace fusegrad::nn {

/// Yields (x, y) mini-batches of a dataset: rows of `x` (samples × features) and the matching
/// entries of `y`. The batch arrays are owned here and keep their buffers between batches, so a
/// graph can be built on them once (`fg::input<"x">(data.x())`) and sees every new batch.
///
/// With shuffling, epoch e visits the samples in the order of a Fisher–Yates shuffle seeded by
/// (seed, e): reproducible, different every epoch, and the same for any number of threads.
template <class T = float, class Label = std::int32_t>
class dataset {
  public:
    /// `x` and `y` must outlive the dataset. Throws std::invalid_argument when their counts
    /// differ or batch_size is 0.
    dataset(const xt::xtensor<T, 2>& x, const xt::xtensor<Label, 1>& y, std::size_t batch_size,
            bool shuffle = true, std::uint64_t seed = 0, bool drop_last = false)
        : x_(&x),
          y_(&y),
          batch_(batch_size),
          shuffle_(shuffle),
          seed_(seed),
          drop_last_(drop_last) {
        if (x.shape()[0] != y.shape()[0])
            throw std::invalid_argument("dataset: x has " + std::to_string(x.shape()[0]) +
                                        " rows but y has " + std::to_string(y.shape()[0]) +
                                        " labels");
        if (batch_size == 0) throw std::invalid_argument("dataset: batch size must be positive");
        order_.resize(x.shape()[0]);
        std::iota(order_.begin(), order_.end(), std::size_t(0));
    }

    /// The number of samples.
    std::size_t size() const noexcept { return order_.size(); }
    /// The batch size (the last batch of an epoch may be smaller unless drop_last).
    std::size_t batch_size() const noexcept { return batch_; }
    /// Batches per epoch.
    std::size_t num_batches() const noexcept {
        return drop_last_ ? size() / batch_ : (size() + batch_ - 1) / batch_;
    }

    /// Starts epoch `epoch`: rewinds and, when shuffling, draws that epoch's order.
    void start_epoch(std::size_t epoch) {
        next_ = batch_first_ = batch_rows_ = 0;
        std::iota(order_.begin(), order_.end(), std::size_t(0));
        if (!shuffle_) return;
        std::mt19937_64 rng(seed_ ^ (0x9E3779B97F4A7C15ull * (epoch + 1)));
        for (std::size_t i = order_.size(); i > 1; --i) {
            // Unbiased index in [0, i): rejection on the top of the 64-bit range.
            const std::uint64_t bound = i, limit = ~std::uint64_t(0) - (~std::uint64_t(0) % bound);
            std::uint64_t r;
            do r = rng();
            while (r >= limit);
            std::swap(order_[i - 1], order_[static_cast<std::size_t>(r % bound)]);
        }
    }

    /// Copies the next batch into x() and y(); false when the epoch is over.
    bool next() { return next(0, batch_); }

    /// The rows of the batch the next call to next() takes: the batch size, fewer for the last
    /// batch of an epoch, 0 when the epoch is over.
    std::size_t next_rows() const noexcept {
        const std::size_t n = size();
        if (next_ >= n || (drop_last_ && next_ + batch_ > n)) return 0;
        return std::min(batch_, n - next_);
    }

    /// Takes the next batch but copies only its rows [first, first + count) (clamped to the
    /// batch) into x() and y(): one process's share of a global batch in data-parallel
    /// training, where every process draws the same order. False when the epoch is over.
    bool next(std::size_t first, std::size_t count) {
        if (take_batch() == 0) return false;
        copy_rows(first, count);
        return true;
    }

    /// Copies rows [first, first + count) (clamped) of the batch the last next() took into x()
    /// and y() again: one block of it after another.
    void copy_rows(std::size_t first, std::size_t count) {
        first = std::min(first, batch_rows_);
        count = std::min(count, batch_rows_ - first);
        size_arrays(count);
        gather(first, count, 0);
    }

    /// Takes the next batch and sizes x() and y() for all of its rows, but copies none: each
    /// part of the batch is then copied by fill_rows, possibly on several threads at once (the
    /// loader of fg::nn::data_parallel, so that each thread gathers the rows it trains on).
    /// False when the epoch is over. The rows not yet filled hold whatever they held before.
    bool advance() {
        const std::size_t rows = take_batch();
        if (rows == 0) return false;
        size_arrays(rows);
        return true;
    }

    /// Copies rows [first, first + count) (clamped) of the batch the last next() or advance()
    /// took into the same rows of x() and y(), which must hold the whole batch (advance() sizes
    /// them so). Calls for disjoint ranges may run at the same time on different threads.
    /// Throws std::logic_error when x() does not hold the whole batch.
    void fill_rows(std::size_t first, std::size_t count) {
        const std::size_t rows = batch_rows_;
        if (xb_.shape()[0] != rows || yb_.shape()[0] != rows)
            throw std::logic_error("dataset::fill_rows: x() holds " +
                                   std::to_string(xb_.shape()[0]) + " rows, not the batch's " +
                                   std::to_string(rows) + " (call advance() first)");
        first = std::min(first, rows);
        count = std::min(count, rows - first);
        gather(first, count, first);
    }

    /// Takes the next batch and copies no sample: indices() gets the batch's rows as indices
    /// into the whole dataset, y() their labels. For a graph that reads the rows where they lie:
    /// `fg::linear(fg::embedding(fg::input<"X">(images), fg::labels<"i">(data.indices())), W,
    /// b)`, which the rewriter turns into fg::op::embedding_linear, whose GEMM packs the rows
    /// straight from `images` (no gathered copy of the batch). x() is left as it was. False when
    /// the epoch is over.
    bool next_indices() {
        const std::size_t rows = take_batch();
        if (rows == 0) return false;
        if (idx_.shape()[0] != rows) idx_.resize({rows});
        if (yb_.shape()[0] != rows) yb_.resize({rows});
        for (std::size_t r = 0; r < rows; ++r) {
            const std::size_t i = order_[batch_first_ + r];
            idx_(r) = static_cast<std::int64_t>(i);
            yb_(r) = (*y_)(i);
        }
        return true;
    }
    /// The current batch's rows as indices into the dataset (filled by next_indices()).
    xt::xtensor<std::int64_t, 1>& indices() noexcept { return idx_; }

    /// The rows of the batch the last next() took (all of them, whatever it copied).
    std::size_t batch_rows() const noexcept { return batch_rows_; }

    /// The current batch's samples (rows × features).
    xt::xtensor<T, 2>& x() noexcept { return xb_; }
    /// The current batch's labels.
    xt::xtensor<Label, 1>& y() noexcept { return yb_; }
    /// The sample order of the current epoch (indices into the full dataset).
    const std::vector<std::size_t>& order() const noexcept { return order_; }

  private:
    // Takes the next batch (its rows; 0 when the epoch is over) without copying anything.
    std::size_t take_batch() noexcept {
        const std::size_t rows = next_rows();
        if (rows == 0) return 0;
        batch_first_ = next_;
        batch_rows_ = rows;
        next_ += rows;
        return rows;
    }

    // x() and y() sized for `rows` rows (each kept when it already is: next_indices() sizes y()
    // alone).
    void size_arrays(std::size_t rows) {
        const std::size_t features = x_->shape()[1];
        if (xb_.shape()[0] != rows || xb_.shape()[1] != features) xb_.resize({rows, features});
        if (yb_.shape()[0] != rows) yb_.resize({rows});
    }

    // Rows [first, first + count) of the current batch into rows [to, to + count) of x(), y().
    void gather(std::size_t first, std::size_t count, std::size_t to) {
        const std::size_t features = x_->shape()[1];
        const T* src = x_->data();
        for (std::size_t r = 0; r < count; ++r) {
            const std::size_t i = order_[batch_first_ + first + r];
            std::copy_n(src + i * features, features, xb_.data() + (to + r) * features);
            yb_(to + r) = (*y_)(i);
        }
    }

    const xt::xtensor<T, 2>* x_;
    const xt::xtensor<Label, 1>* y_;
    std::size_t batch_;
    bool shuffle_;
    std::uint64_t seed_;
    bool drop_last_;
    std::vector<std::size_t> order_;
    std::size_t next_ = 0;
    std::size_t batch_first_ = 0, batch_rows_ = 0;  // the batch the last next() took
    xt::xtensor<T, 2> xb_ = xt::xtensor<T, 2>::from_shape({0, 0});
    xt::xtensor<Label, 1> yb_ = xt::xtensor<Label, 1>::from_shape({0});
    xt::xtensor<std::int64_t, 1> idx_ = xt::xtensor<std::int64_t, 1>::from_shape({0});
};

}  // namespace fusegrad::nn
