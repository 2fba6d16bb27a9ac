#pragma once
/// @file
/// Input specs for `fg::check::verify_rule`: what each placeholder of a rule's pattern stands
/// for (a real scalar, vector or matrix and its value range; class labels; probability
/// targets), so that the checker can build the pattern as a graph on random inputs.

#include <cstddef>
#include <cstdint>

#include <xtensor/xtensor.hpp>

#include "fusegrad/check/random.hpp"
#include "fusegrad/core/leaf.hpp"
#include "fusegrad/core/shape.hpp"
#include "fusegrad/core/tensor_ref.hpp"

namespace fusegrad::check {

/// A real-valued param of rank R with entries uniform in [lo, hi).
template <std::size_t R>
struct real_spec {
    shape dims{};
    double lo = -1, hi = 1;

    using array_type = xt::xtensor<double, R>;
    template <fixed_string Name>
    using leaf_type = leaf<Name, param_kind, double, R>;

    /// An array of the spec's shape.
    array_type make() const {
        if constexpr (R == 0)
            return array_type();
        else if constexpr (R == 1)
            return array_type::from_shape({dims.cols});
        else
            return array_type::from_shape({dims.rows, dims.cols});
    }
    /// Draws new values.
    void fill(array_type& a, random_stream& rng) const {
        for (auto& x : a) x = rng.uniform(lo, hi);
    }
};

/// Class indices for `rows` samples, uniform in [0, classes).
struct class_labels_spec {
    std::size_t rows = 1, classes = 1;

    using array_type = xt::xtensor<std::int64_t, 1>;
    template <fixed_string Name>
    using leaf_type = leaf<Name, labels_kind, std::int64_t, 1>;

    array_type make() const { return array_type::from_shape({rows}); }
    void fill(array_type& a, random_stream& rng) const {
        for (auto& x : a) x = static_cast<std::int64_t>(rng.below(classes));
    }
};

/// Probability targets: a rows × cols matrix of positive rows summing to 1 (labels, no
/// gradient).
struct targets_spec {
    std::size_t rows = 1, cols = 1;

    using array_type = xt::xtensor<double, 2>;
    template <fixed_string Name>
    using leaf_type = leaf<Name, labels_kind, double, 2>;

    array_type make() const { return array_type::from_shape({rows, cols}); }
    void fill(array_type& a, random_stream& rng) const {
        for (std::size_t i = 0; i < rows; ++i) {
            double s = 0;
            for (std::size_t j = 0; j < cols; ++j) s += a(i, j) = rng.uniform(0.05, 1.0);
            for (std::size_t j = 0; j < cols; ++j) a(i, j) /= s;
        }
    }
};

/// A real scalar param, uniform in [lo, hi).
inline real_spec<0> scalar(double lo = -1, double hi = 1) {
    return {shape::scalar(), lo, hi};
}
/// A real vector param of n entries, uniform in [lo, hi).
inline real_spec<1> vector(std::size_t n, double lo = -1, double hi = 1) {
    return {shape::vector(n), lo, hi};
}
/// A real rows × cols matrix param, uniform in [lo, hi).
inline real_spec<2> matrix(std::size_t rows, std::size_t cols, double lo = -1, double hi = 1) {
    return {shape::matrix(rows, cols), lo, hi};
}
/// Class-index labels (int64) for `rows` samples of `classes` classes.
inline class_labels_spec class_labels(std::size_t rows, std::size_t classes) {
    return {rows, classes};
}
/// Probability targets, rows × cols, each row positive and summing to 1.
inline targets_spec targets(std::size_t rows, std::size_t cols) {
    return {rows, cols};
}

}  // namespace fusegrad::check
