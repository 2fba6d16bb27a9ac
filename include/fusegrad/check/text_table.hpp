#pragma once
/// @file
/// `text_table`: rows of cells printed with aligned columns; how every check report prints.

#include <cstddef>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

namespace fusegrad::check {

/// The columns a UTF-8 string takes (one per code point: "·" and "ᵀ" are one column each).
inline std::size_t display_width(const std::string& s) {
    std::size_t n = 0;
    for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

/// A table of text cells, printed left-aligned with two spaces between columns.
class text_table {
  public:
    /// Appends a row; rows may have different lengths.
    void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

    /// Writes every row, each line starting with `indent`.
    void print(std::ostream& os, const std::string& indent = "") const;

  private:
    std::vector<std::vector<std::string>> rows_;
};

/// A number in the shortest of %.3g-style forms that still reads clearly in a table.
inline std::string format_value(double v, int digits = 3) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    return buf;
}

}  // namespace fusegrad::check
