#pragma once
/// @file
/// `gradcheck_report`: what `fg::check::gradcheck` found, one `leaf_report` per param leaf. A
/// struct for code to inspect, and a table for people (`std::cout << report`).

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <sstream>
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
    std::string worst_position() const {
        if (fast) return "u·Jv #" + std::to_string(result.worst_index);
        const std::size_t i = result.worst_index;
        if (dims.rank == 0) return "()";
        if (dims.rank == 1) return "(" + std::to_string(i) + ")";
        return "(" + std::to_string(i / dims.cols) + ", " + std::to_string(i % dims.cols) + ")";
    }
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
inline std::ostream& operator<<(std::ostream& os, const gradcheck_report& r) {
    os << "gradcheck of " << r.expression << '\n';
    if (!r.rules_fired.empty()) {
        os << "  rewritten by:";
        for (const auto& f : r.rules_fired) os << "  " << f << ";";
        os << '\n';
    }
    os << "  " << (r.fast ? "fast mode (random projections u·Jv)" : "full mode (every entry)")
       << ", eps " << format_value(r.eps) << ", pass if |a - n| <= " << format_value(r.atol)
       << " + " << format_value(r.rtol) << "·|n|, loss " << format_value(r.value, 6) << '\n';
    text_table t;
    t.add_row({"leaf", "shape", r.fast ? "projections" : "entries", "max abs err", "max rel err",
               "worst at", "analytic", "numeric", "result"});
    for (const auto& l : r.leaves) {
        const auto& c = l.result;
        t.add_row({l.name, l.dims.str(), std::to_string(c.count), format_value(c.max_abs_error),
                   format_value(c.max_rel_error), l.worst_position(),
                   format_value(c.worst_analytic, 8), format_value(c.worst_numeric, 8),
                   l.passed() ? "pass"
                              : "FAIL (" + std::to_string(c.failures) + " of " +
                                    std::to_string(c.count) + ")"});
    }
    t.print(os, "  ");
    std::size_t retried = 0;
    for (const auto& l : r.leaves) retried += l.kink_retries;
    if (retried)
        os << "  kinks: " << retried
           << " projection(s) failed at eps and agreed at eps/100 or eps/1e4 (a kink crossed)\n";
    if (r.reentrancy_checked)
        os << "  reentrancy: "
           << (r.reentrant ? "ok (repeated backward runs agree bitwise)"
                           : "FAIL (repeated backward runs differ)")
           << '\n';
    os << "  " << (r.passed() ? "passed" : "FAILED") << " in " << format_value(r.seconds)
       << " s (seed " << r.seed << ")\n";
    return os;
}

/// Thrown by a check run with `throw_on_failure`; holds the report, and its table as what().
class gradcheck_error : public std::runtime_error {
  public:
    explicit gradcheck_error(gradcheck_report r)
        : std::runtime_error(table_of(r)), report_(std::move(r)) {}
    /// The failing report.
    const gradcheck_report& report() const noexcept { return report_; }

  private:
    gradcheck_report report_;
    static std::string table_of(const gradcheck_report& r) {
        std::ostringstream s;
        s << r;
        return s.str();
    }
};

}  // namespace fusegrad::check
