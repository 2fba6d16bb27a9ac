// The printed forms of the checker's reports and tables (fusegrad/check/report.hpp,
// text_table.hpp, jacobian.hpp, verify_rule.hpp): compiled once
// here, not in every program that runs a check.

#include <algorithm>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "fusegrad/check/jacobian.hpp"
#include "fusegrad/check/report.hpp"
#include "fusegrad/check/text_table.hpp"
#include "fusegrad/check/verify_rule.hpp"

namespace fusegrad::check {

void text_table::print(std::ostream& os, const std::string& indent) const {
    std::vector<std::size_t> width;
    for (const auto& r : rows_) {
        if (width.size() < r.size()) width.resize(r.size(), 0);
        for (std::size_t c = 0; c < r.size(); ++c)
            width[c] = std::max(width[c], display_width(r[c]));
    }
    for (const auto& r : rows_) {
        std::string line = indent;
        for (std::size_t c = 0; c < r.size(); ++c) {
            line += r[c];
            if (c + 1 < r.size()) line.append(width[c] - display_width(r[c]) + 2, ' ');
        }
        os << line << '\n';
    }
}

std::string leaf_report::worst_position() const {
    if (fast) return "u·Jv #" + std::to_string(result.worst_index);
    const std::size_t i = result.worst_index;
    if (dims.rank == 0) return "()";
    if (dims.rank == 1) return "(" + std::to_string(i) + ")";
    return "(" + std::to_string(i / dims.cols) + ", " + std::to_string(i % dims.cols) + ")";
}

std::ostream& operator<<(std::ostream& os, const gradcheck_report& r) {
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

std::string gradcheck_error::table_of(const gradcheck_report& r) {
    std::ostringstream s;
    s << r;
    return s.str();
}

void print_matrix(std::ostream& os, const xt::xtensor<double, 2>& m, const std::string& indent,
                  int digits) {
    text_table t;
    for (std::size_t i = 0; i < m.shape()[0]; ++i) {
        std::vector<std::string> row;
        for (std::size_t j = 0; j < m.shape()[1]; ++j) row.push_back(format_value(m(i, j), digits));
        t.add_row(std::move(row));
    }
    t.print(os, indent);
}

std::ostream& operator<<(std::ostream& os, const jacobian_report& r) {
    const auto& c = r.leaf.result;
    os << "jacobian of " << r.expression << " with respect to " << r.leaf.name << ": "
       << r.value_shape.str() << " by " << r.leaf.dims.str() << '\n';
    text_table t;
    t.add_row({"entries", "max abs err", "max rel err", "worst at (value, leaf)", "analytic",
               "numeric", "result"});
    const std::size_t cols = r.leaf.dims.size();
    t.add_row({std::to_string(c.count), format_value(c.max_abs_error),
               format_value(c.max_rel_error),
               "(" + std::to_string(cols ? c.worst_index / cols : 0) + ", " +
                   std::to_string(cols ? c.worst_index % cols : 0) + ")",
               format_value(c.worst_analytic, 8), format_value(c.worst_numeric, 8),
               r.passed() ? "pass" : "FAIL (" + std::to_string(c.failures) + ")"});
    t.print(os, "  ");
    if (r.numeric.shape()[0] <= 16 && r.numeric.shape()[1] <= 16) {
        os << "  numeric J:\n";
        print_matrix(os, r.numeric, "    ");
        os << "  analytic J:\n";
        print_matrix(os, r.analytic, "    ");
    }
    return os;
}

std::string rule_error::text(const rule_report& r) {
    std::ostringstream s;
    s << r;
    return s.str();
}

std::ostream& operator<<(std::ostream& os, const rule_report& r) {
    os << "verify_rule:";
    for (const auto& f : r.rules_fired) os << " " << f << ";";
    os << "\n  pattern:     " << r.pattern << "\n  replacement: " << r.replacement << '\n';
    text_table t;
    t.add_row({"trial", "comparison", "entries", "max abs err", "max rel err", "result"});
    for (const auto& row : r.rows)
        t.add_row(
            {std::to_string(row.trial), row.what, std::to_string(row.result.count),
             format_value(row.result.max_abs_error), format_value(row.result.max_rel_error),
             row.result.passed() ? "pass" : "FAIL (" + std::to_string(row.result.failures) + ")"});
    t.print(os, "  ");
    os << "  " << (r.passed() ? "passed" : "FAILED") << '\n';
    return os;
}

}  // namespace fusegrad::check
