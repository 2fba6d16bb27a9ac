// The printers behind fg::to_string and fg::to_dot (fusegrad/io/print.hpp), over a print_view
// of a plan's tables: compiled once here, not once per expression type.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fusegrad/io/print.hpp"

namespace fusegrad::detail {

namespace {

// The plan's value, its last entry.
std::size_t root(const print_view& v) {
    return v.plan.n - 1;
}

std::string_view leaf_label(const print_view& v, std::size_t i) {
    return v.plan.names[i].empty() ? std::string_view("const") : v.plan.names[i];
}

struct text_printer {
    const print_view& v;
    bool name_shared = false;
    std::vector<bool> printed;

    static constexpr std::size_t limit = std::size_t{1} << 16;

    std::size_t child(std::size_t i, std::size_t c) const { return v.plan.operands_of(i)[c]; }

    void append(std::string& out, std::size_t i) {
        if (v.plan.is_leaf[i]) {
            out.append(leaf_label(v, i)).append(" ").append(v.leaves[i].dims.str());
            return;
        }
        const bool shared = name_shared && v.consumers[i] > 1;
        if (shared && printed[i]) {
            out.append("v").append(std::to_string(i));
            return;
        }
        if (shared) {
            printed[i] = true;
            out.append("v").append(std::to_string(i)).append("=");
        }
        out.append(v.plan.op_names[i]).append("(");
        for (std::size_t c = 0; c < v.plan.arity[i]; ++c) {
            if (c > 0) out.append(", ");
            append(out, child(i, c));
        }
        if (auto details = v.details[i](v.ops[i]); !details.empty()) {
            if (v.plan.arity[i] > 0) out.append(", ");
            out.append(details);
        }
        out.append(")");
    }

    // The length of the tree as written, saturating at the limit: a value's text is at most its
    // own and its operands', each counted once per use (a bound, not the exact length).
    bool tree_fits() const {
        std::vector<std::size_t> len(v.plan.n);
        for (std::size_t i = 0; i < v.plan.n; ++i) {
            std::size_t n = 32 + leaf_label(v, i).size() + v.plan.op_names[i].size();
            for (std::size_t c = 0; c < v.plan.arity[i]; ++c)
                n = std::min(limit, n + len[child(i, c)]);
            len[i] = n;
        }
        return len[root(v)] < limit;
    }
};

/// Appends `s` as the inside of a DOT double-quoted string: quotes and backslashes escaped,
/// line breaks as DOT's `\n`, other control characters as spaces.
void append_dot_escaped(std::string& out, std::string_view s) {
    for (const char ch : s) {
        if (ch == '"' || ch == '\\') {
            out.push_back('\\');
            out.push_back(ch);
        } else if (ch == '\n') {
            out.append("\\n");
        } else if (static_cast<unsigned char>(ch) < 0x20) {
            out.push_back(' ');
        } else {
            out.push_back(ch);
        }
    }
}

std::string_view dot_fill_colour(std::string_view kind) {
    if (kind == "param") return "#fdd0a2";   // orange: what training changes
    if (kind == "input") return "#c6dbef";   // blue
    if (kind == "labels") return "#c7e9c0";  // green
    return "#d9d9d9";                        // grey: constants
}

// Value i: a box for a leaf, an ellipse for an op; the root (the result) is drawn with a double
// outline.
void append_dot_node(std::string& out, const print_view& v, std::size_t i) {
    out.append("  v").append(std::to_string(i)).append(" [label=\"");
    if (v.plan.is_leaf[i]) {
        const std::string_view kind = v.kinds[i];
        append_dot_escaped(out, leaf_label(v, i));
        out.append("\\n");
        append_dot_escaped(out, v.leaves[i].dims.str());
        out.append("\", shape=box, style=filled, fillcolor=\"")
            .append(dot_fill_colour(kind))
            .append("\", tooltip=\"")
            .append(kind)
            .append("\"");
    } else {
        append_dot_escaped(out, v.plan.op_names[i]);
        if (auto details = v.details[i](v.ops[i]); !details.empty()) {
            out.append("\\n");
            append_dot_escaped(out, details);
        }
        out.append("\", shape=ellipse");
    }
    if (i == root(v)) out.append(", peripheries=2");
    out.append("];\n");
}

// The edges into value i: one per operand, from the operand's value, so a value used twice
// (CSE, or `add(x, x)`) has an edge to each use. Labelled with the operand index when the op
// has more than one operand.
void append_dot_edges(std::string& out, const print_view& v, std::size_t i) {
    const std::size_t arity = v.plan.arity[i];
    for (std::size_t c = 0; c < arity; ++c) {
        out.append("  v")
            .append(std::to_string(v.plan.operands_of(i)[c]))
            .append(" -> v")
            .append(std::to_string(i));
        if (arity > 1) out.append(" [label=\"").append(std::to_string(c)).append("\"]");
        out.append(";\n");
    }
}

}  // namespace

std::string print_text(const print_view& v) {
    text_printer printer{v, false, std::vector<bool>(v.plan.n)};
    printer.name_shared = !printer.tree_fits();
    std::string out;
    printer.append(out, root(v));
    return out;
}

std::string print_dot(const print_view& v, std::string_view graph_name) {
    std::string out = "digraph \"";
    append_dot_escaped(out, graph_name);
    out.append("\" {\n");
    out.append("  node [fontname=\"Helvetica\"];\n");
    out.append("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for (std::size_t i = 0; i < v.plan.n; ++i) append_dot_node(out, v, i);
    for (std::size_t i = 0; i < v.plan.n; ++i) append_dot_edges(out, v, i);
    out.append("}\n");
    return out;
}

}  // namespace fusegrad::detail
