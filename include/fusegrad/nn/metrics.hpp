#pragma once
/// @file
/// Classification metrics: the predicted class of a score row, accuracy, a confusion matrix.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "fusegrad/core/errors.hpp"

namespace fusegrad::nn {

/// The index of the largest of n scores (the first one on ties; NaN never wins).
template <class T>
std::size_t argmax(const T* scores, std::size_t n) noexcept {
    std::size_t best = 0;
    for (std::size_t j = 1; j < n; ++j)
        if (scores[j] > scores[best] || (scores[best] != scores[best] && scores[j] == scores[j]))
            best = j;
    return best;
}

/// A classes × classes count of (true label, predicted class) pairs.
class confusion_matrix {
  public:
    /// An all-zero matrix for `classes` classes.
    explicit confusion_matrix(std::size_t classes) : n_(classes), counts_(classes * classes, 0) {}

    /// Counts one prediction. Throws label_error for a label or prediction out of range.
    void add(std::int64_t label, std::int64_t predicted) {
        if (label < 0 || static_cast<std::size_t>(label) >= n_ || predicted < 0 ||
            static_cast<std::size_t>(predicted) >= n_)
            throw label_error("confusion_matrix: label " + std::to_string(label) +
                              " or prediction " + std::to_string(predicted) + " is outside [0, " +
                              std::to_string(n_) + ")");
        ++counts_[static_cast<std::size_t>(label) * n_ + static_cast<std::size_t>(predicted)];
    }
    /// Counts the predictions of an m × classes score matrix (row-major) against m labels.
    template <class T, class I>
    void add_scores(std::size_t m, const T* scores, const I* labels) {
        for (std::size_t i = 0; i < m; ++i)
            add(static_cast<std::int64_t>(labels[i]),
                static_cast<std::int64_t>(argmax(scores + i * n_, n_)));
    }

    /// How many samples of class `label` were predicted as `predicted`.
    std::size_t count(std::size_t label, std::size_t predicted) const {
        return counts_.at(label * n_ + predicted);
    }
    /// The number of classes.
    std::size_t classes() const noexcept { return n_; }
    /// All samples counted.
    std::size_t total() const noexcept {
        std::size_t t = 0;
        for (auto c : counts_) t += c;
        return t;
    }
    /// The share of samples on the diagonal (0 when nothing was counted).
    double accuracy() const noexcept {
        std::size_t right = 0;
        for (std::size_t k = 0; k < n_; ++k) right += counts_[k * n_ + k];
        const std::size_t t = total();
        return t == 0 ? 0.0 : static_cast<double>(right) / static_cast<double>(t);
    }
    /// The share of class `label`'s samples predicted right (its recall; 0 for an absent class).
    double recall(std::size_t label) const {
        std::size_t row = 0;
        for (std::size_t k = 0; k < n_; ++k) row += count(label, k);
        return row == 0 ? 0.0 : static_cast<double>(count(label, label)) / static_cast<double>(row);
    }

    /// A table with one row per true class, one column per prediction, and each class's recall.
    /// `names` (optional, one per class) label the rows.
    std::string str(const std::vector<std::string>& names = {}) const {
        std::ostringstream os;
        std::size_t w = 5;
        for (const auto& s : names) w = std::max(w, s.size());
        os << std::setw(static_cast<int>(w)) << "true\\pred";
        for (std::size_t k = 0; k < n_; ++k) os << std::setw(6) << k;
        os << "  recall\n";
        for (std::size_t r = 0; r < n_; ++r) {
            os << std::setw(static_cast<int>(w))
               << (r < names.size() ? names[r] : std::to_string(r));
            for (std::size_t k = 0; k < n_; ++k) os << std::setw(6) << count(r, k);
            os << "  " << std::fixed << std::setprecision(3) << recall(r) << "\n";
        }
        return os.str();
    }

  private:
    std::size_t n_;
    std::vector<std::size_t> counts_;
};

/// The share of the m rows of an m × n score matrix whose largest score is at the label.
/// Throws label_error for a label outside [0, n).
template <class T, class I>
double accuracy(std::size_t m, std::size_t n, const T* scores, const I* labels) {
    confusion_matrix cm(n);
    cm.add_scores(m, scores, labels);
    return cm.accuracy();
}

/// accuracy() for xtensor-like arrays: an m × n score matrix and m labels.
template <class S, class L>
double accuracy(const S& scores, const L& labels) {
    if (scores.shape()[0] != labels.shape()[0])
        throw shape_error("accuracy: scores have " + std::to_string(scores.shape()[0]) +
                          " rows but there are " + std::to_string(labels.shape()[0]) + " labels");
    return accuracy(scores.shape()[0], scores.shape()[1], scores.data(), labels.data());
}

}  // namespace fusegrad::nn
