#pragma once
/// @file
/// `comparison`: the running worst case of analytic against numeric values under the criterion
/// |a − n| ≤ atol + rtol·|n|. Shared by gradcheck, jacobian and verify_rule.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace fusegrad::check {

/// Compares pairs (analytic, numeric) one at a time and keeps the worst. The worst pair is the
/// one furthest beyond its allowance atol + rtol·|n| (a NaN on either side is worst of all).
struct comparison {
    double atol = 0, rtol = 0;
    std::size_t count = 0;        ///< pairs compared
    std::size_t failures = 0;     ///< pairs outside the allowance
    double max_abs_error = 0;     ///< max |a − n|
    double max_rel_error = 0;     ///< max |a − n| / |n| (inf where n = 0 and a ≠ 0)
    std::size_t worst_index = 0;  ///< the index given with the worst pair
    double worst_analytic = 0, worst_numeric = 0;
    double worst_ratio = -1;  ///< |a − n| / allowance of the worst pair
    bool saw_nan = false;     ///< some pair held a NaN (the maxima are then NaN)

    /// Adds one pair, tagged with `index` (a flat entry index or a projection number).
    void add(std::size_t index, double a, double n) {
        ++count;
        const double err = std::abs(a - n);
        const double allowance = atol + rtol * std::abs(n);
        double ratio;
        if (std::isnan(err)) {  // a NaN on either side (or inf - inf)
            ratio = std::numeric_limits<double>::infinity();
            saw_nan = true;
            max_abs_error = max_rel_error = std::numeric_limits<double>::quiet_NaN();
        } else {
            ratio = allowance > 0 ? err / allowance
                                  : (err > 0 ? std::numeric_limits<double>::infinity() : 0.0);
            const double rel = err == 0 ? 0.0
                               : n == 0 ? std::numeric_limits<double>::infinity()
                                        : err / std::abs(n);
            if (!saw_nan) {
                max_abs_error = std::max(max_abs_error, err);
                max_rel_error = std::max(max_rel_error, rel);
            }
        }
        if (!(err <= allowance)) ++failures;
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            worst_index = index;
            worst_analytic = a;
            worst_numeric = n;
        }
    }
    /// True when every pair was within its allowance.
    bool passed() const noexcept { return failures == 0; }
};

}  // namespace fusegrad::check
