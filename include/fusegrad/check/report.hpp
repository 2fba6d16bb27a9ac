#pragma once
/// @file
/// `gradcheck_report`: what `fg::check::gradcheck` found, one `leaf_report` per param leaf. A
/// struct for code to inspect, and a table for people (`std::cout << report`).

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fusegrad/check/comparison.hpp"
#include "fusegrad/check/text_table.hpp"
#include "fusegrad/core/shape.hpp"

namespace fusegrad::check {

/// The check of one param leaf.
struct leaf_report {
    std::string name;     ///< the leaf's name
    shape dims{};         ///< its shape
    bool fast = false;    ///< true: `result` compares random projections, not entries
    comparison result{};  ///< errors, the worst entry (or projection) and pass/fail
    /// Fast mode: projections that failed at eps and passed at a smaller step (a kink crossed).
    std::size_t kink_retries = 0;

    /// True when every entry (projection) was within atol + rtol·|numeric|.
    bool passed() const noexcept { return result.passed(); }
    /// Where the worst error is: `(i, j)` for a matrix, `(i)` for a vector, `()` for a scalar,
    /// `u·Jv #k` for projection k in fast mode.
    std::string worst_position() const;
};

/// The result of a gradient check of a scalar loss.
struct gradcheck_report {
    std::string expression;                ///< the loss as written (`fg::to_string`)
    std::vector<std::string> rules_fired;  ///< the rewrites of the checked graph
    double value = 0;                      ///< the loss, at double
    double eps = 0, atol = 0, rtol = 0;    ///< as used
    bool fast = false;                     ///< fast mode (projections) or every entry
    std::uint64_t seed = 0;                ///< the seed of the random directions
    std::vector<leaf_report> leaves;       ///< one per checked param leaf
    bool reentrancy_checked = false;       ///< whether the reentrancy check ran
    bool reentrant = true;                 ///< repeated backward runs agreed bitwise
    double seconds = 0;                    ///< wall time of the whole check

    /// True when every leaf passed and, if checked, the graph is reentrant.
    bool passed() const noexcept {
        for (const auto& l : leaves)
            if (!l.passed()) return false;
        return reentrant;
    }
    /// The report of the leaf called `name`; throws std::out_of_range if it was not checked.
    const leaf_report& leaf(std::string_view name) const {
        for (const auto& l : leaves)
            if (l.name == name) return l;
        throw std::out_of_range("gradcheck_report: no checked leaf named \"" + std::string(name) +
                                "\"");
    }
};

/// The report as an aligned table, one row per param leaf, with a header and a verdict line.
std::ostream& operator<<(std::ostream& os, const gradcheck_report& r);

/// Thrown by a check run with `throw_on_failure`; holds the report, and its table as what().
class gradcheck_error : public std::runtime_error {
  public:
    explicit gradcheck_error(gradcheck_report r)
        : std::runtime_error(table_of(r)), report_(std::move(r)) {}
    /// The failing report.
    const gradcheck_report& report() const noexcept { return report_; }

  private:
    gradcheck_report report_;
    static std::string table_of(const gradcheck_report& r);
};

}  // namespace fusegrad::check
