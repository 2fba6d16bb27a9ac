#pragma once
/// @file
/// Printing a graph: one line of text (`to_string`) or Graphviz DOT (`to_dot`), written to a
/// file atomically (`write_dot`) and rendered to SVG when Graphviz is installed (`render_svg`).
///
/// Ops print by their `name`. An op with state prints it as a last argument: `scale(x, 2.5)`.
/// An op struct may add its own by defining `std::string describe() const`; the text goes
/// inside the parentheses after the operands (`softmax_xent(s, y, reduction=mean)`).

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include "fusegrad/core/fixed_string.hpp"
#include "fusegrad/core/inspect.hpp"
#include "fusegrad/core/leaf.hpp"
#include "fusegrad/core/node.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/grad/plan.hpp"
#include "fusegrad/io/atomic_file.hpp"
#include "fusegrad/ops/scale.hpp"

namespace fusegrad {

/// An op struct that describes its own state for printing: `describe()` returns e.g.
/// `"reduction=mean"`.
template <class Op>
concept describable_op = requires(const Op& op) {
    { op.describe() } -> std::convertible_to<std::string>;
};

namespace detail {

/// The shortest text that reads back as `v`: `2.5`, `0.1`, `1e-05`.
inline std::string format_number(double v) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc{} ? std::string(buf, end) : std::string("?");
}

/// An op's state as printed after its operands; empty for a stateless op or one this header
/// does not know.
template <class Op>
std::string op_details(const Op& op) {
    if constexpr (describable_op<Op>)
        return std::string(op.describe());
    else if constexpr (std::is_same_v<Op, op::scale>)
        return format_number(op.alpha);
    else
        return {};
}

/// What a leaf is, for colouring: "param", "input", "labels" or "constant".
template <class E>
inline constexpr std::string_view leaf_kind_name = "constant";
template <fixed_string Name, class T, std::size_t R>
inline constexpr std::string_view leaf_kind_name<leaf<Name, param_kind, T, R>> = "param";
template <fixed_string Name, class T, std::size_t R>
inline constexpr std::string_view leaf_kind_name<leaf<Name, input_kind, T, R>> = "input";
template <fixed_string Name, class T, std::size_t R>
inline constexpr std::string_view leaf_kind_name<leaf<Name, labels_kind, T, R>> = "labels";

/// A leaf's name; a constant prints as "const".
template <class E>
inline constexpr std::string_view leaf_name = "const";
template <fixed_string Name, class Kind, class T, std::size_t R>
inline constexpr std::string_view leaf_name<leaf<Name, Kind, T, R>> = Name.view();

template <class E>
void append_expr(std::string& out, const E& e) {
    if constexpr (is_leaf_v<E>) {
        // The shape the leaf's container had when it was bound (or last refreshed).
        out.append(leaf_name<E>).append(" ").append(e.ref.dims.str());
    } else {
        out.append(E::op_type::name).append("(");
        bool first = true;
        const auto separate = [&] {
            if (!first) out.append(", ");
            first = false;
        };
        apply_operands([&](const auto&... c) { ((separate(), append_expr(out, c)), ...); }, e);
        if (auto details = op_details(e.op); !details.empty()) {
            separate();
            out.append(details);
        }
        out.append(")");
    }
}

/// Appends `s` as the inside of a DOT double-quoted string: quotes and backslashes escaped,
/// line breaks as DOT's `\n`, other control characters as spaces.
inline void append_dot_escaped(std::string& out, std::string_view s) {
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

inline std::string_view dot_fill_colour(std::string_view kind) {
    if (kind == "param") return "#fdd0a2";   // orange: what training changes
    if (kind == "input") return "#c6dbef";   // blue
    if (kind == "labels") return "#c7e9c0";  // green
    return "#d9d9d9";                        // grey: constants
}

// Value I of plan P: a box for a leaf, an ellipse for an op; the root (the result) is drawn with
// a double outline.
template <class P, std::size_t I>
void append_dot_node(std::string& out, const bound_values<P>& values) {
    using V = typename P::template expr_at<I>;
    out.append("  v").append(std::to_string(I)).append(" [label=\"");
    if constexpr (is_leaf_v<V>) {
        constexpr std::string_view kind = leaf_kind_name<V>;
        append_dot_escaped(out, leaf_name<V>);
        out.append("\\n");
        append_dot_escaped(out, values.leaves[I].dims.str());
        out.append("\", shape=box, style=filled, fillcolor=\"")
            .append(dot_fill_colour(kind))
            .append("\", tooltip=\"")
            .append(kind)
            .append("\"");
    } else {
        append_dot_escaped(out, V::op_type::name);
        if (auto details = op_details(values.template op<I>()); !details.empty()) {
            out.append("\\n");
            append_dot_escaped(out, details);
        }
        out.append("\", shape=ellipse");
    }
    if constexpr (I == P::root) out.append(", peripheries=2");
    out.append("];\n");
}

// The edges into value I: one per operand, from the operand's value, so a value used twice
// (CSE, or `add(x, x)`) has an edge to each use. Labelled with the operand index when the op
// has more than one operand.
template <class P, std::size_t I>
void append_dot_edges(std::string& out) {
    using tables = typename P::tables;
    constexpr std::size_t arity = tables::arity[I];
    if constexpr (arity > 0) {  // not a leaf
        for (std::size_t c = 0; c < arity; ++c) {
            out.append("  v")
                .append(std::to_string(tables::children[I][c]))
                .append(" -> v")
                .append(std::to_string(I));
            if (arity > 1) out.append(" [label=\"").append(std::to_string(c)).append("\"]");
            out.append(";\n");
        }
    }
}

/// `path` as one single-quoted shell word, or empty when it cannot be quoted safely (it holds
/// a single quote or a NUL). A path that starts with '-' gets "./" so that it is not an option.
inline std::string shell_quote_path(const std::string& path) {
    if (path.empty() || path.find_first_of(std::string_view("'\0", 2)) != std::string::npos)
        return {};
    return "'" + std::string(path.front() == '-' ? "./" : "") + path + "'";
}

}  // namespace detail

/// The expression as one line of functional notation:
/// `mean(nll(softmax(linear(x (64, 784), W (784, 10), b (10))), y (64)))`. Leaves print their
/// name and the shape their container had when the leaf was built; constants print as
/// `const (3, 4)`. This is the tree as written: a subexpression used twice prints twice.
template <expression E>
std::string to_string(const E& expr) {
    std::string out;
    detail::append_expr(out, expr);
    return out;
}

/// The expression as a Graphviz DOT digraph. There is one node per distinct value of the
/// expression's evaluation plan (`detail::plan<E>`: identical pure subexpressions are drawn
/// once), numbered `v0`, `v1`, … in plan order, so the output is deterministic. The expression
/// is drawn as given; `to_dot(fg::rewrite(expr))` draws what `fg::compile` runs after fusion.
/// Leaves are boxes labelled with their name and shape and filled by kind (param orange, input
/// blue, labels green, constant grey); ops are ellipses labelled with their name and state. Edges
/// run from operand to result, labelled with the operand index when the op has several. The result
/// has a double outline.
template <expression E>
std::string to_dot(const E& expr, std::string_view graph_name = "fusegrad") {
    using P = detail::plan<E>;
    detail::bound_values<P> values;
    (void)values.bind(expr);  // a name bound to two arrays still draws (as its first array)
    std::string out = "digraph \"";
    detail::append_dot_escaped(out, graph_name);
    out.append("\" {\n");
    out.append("  node [fontname=\"Helvetica\"];\n");
    out.append("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (detail::append_dot_node<P, I>(out, values), ...);
        (detail::append_dot_edges<P, I>(out), ...);
    }
    (std::make_index_sequence<P::size>{});
    out.append("}\n");
    return out;
}

/// Writes `to_dot(expr, graph_name)` to `path`, atomically (io::write_file_atomically). Returns
/// false when the file could not be written.
template <expression E>
bool write_dot(const std::string& path, const E& expr, std::string_view graph_name = "fusegrad") {
    return io::write_file_atomically(path, to_dot(expr, graph_name));
}

/// True when Graphviz's `dot` is on the PATH.
inline bool graphviz_available() noexcept {
    if (std::system(nullptr) == 0) return false;  // no shell to run it with
    return std::system("command -v dot >/dev/null 2>&1") == 0;
}

/// Renders the DOT file `dot_path` to `svg_path` with Graphviz (`dot -Tsvg`, read from its
/// standard output) and writes it with io::write_file_atomically (a unique temporary, fsync,
/// rename). Returns false, without throwing, when Graphviz is not installed, when `dot_path`
/// contains a single quote (it is never passed to the shell), or when `dot` fails or prints
/// nothing.
inline bool render_svg(const std::string& dot_path, const std::string& svg_path) noexcept {
    try {
        const std::string in = detail::shell_quote_path(dot_path);
        if (svg_path.empty() || in.empty() || !graphviz_available()) return false;
        const std::string command = "dot -Tsvg " + in;
        FILE* pipe = ::popen(command.c_str(), "r");
        if (pipe == nullptr) return false;
        std::string svg;
        try {  // close the pipe even when appending throws
            char buf[8192];
            for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, pipe)) > 0;)
                svg.append(buf, got);
        } catch (...) {
            ::pclose(pipe);
            throw;
        }
        if (::pclose(pipe) != 0 || svg.empty()) return false;
        return io::write_file_atomically(svg_path, svg);
    } catch (...) {  // std::bad_alloc building the command or the text
        return false;
    }
}

}  // namespace fusegrad
