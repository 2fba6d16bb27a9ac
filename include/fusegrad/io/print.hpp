#pragma once
/// @file
/// Printing a graph: one line of text (`to_string`) or Graphviz DOT (`to_dot`), written to a
/// file atomically (`write_dot`) and rendered to SVG when Graphviz is installed (`render_svg`).
///
/// Ops print by their `name`. An op with state prints it as a last argument: `scale(x, 2.5)`.
/// An op struct may add its own by defining `std::string describe() const`; the text goes
/// inside the parentheses after the operands (`softmax_xent(s, y, reduction=mean)`).

#include <algorithm>
#include <array>
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
#include "fusegrad/grad/runtime.hpp"
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

/// An op's printed state, for the print tables: `op` points at the op object.
using details_fn = std::string (*)(const void* op);
template <class Op>
std::string details_thunk(const void* op) {
    return op_details(*static_cast<const Op*>(op));
}

template <class E>
struct print_entry {  // a leaf
    static constexpr details_fn details = nullptr;
};
template <class Op, class... C>
struct print_entry<node<Op, C...>> {
    static constexpr details_fn details = &details_thunk<Op>;
};

/// What printing needs of each value of plan P beyond the plan's own tables, indexed by id: one
/// instantiation per plan, one function per op type, none per value (a function per value
/// would be named after the whole model).
template <class P, class List = typename P::entries>
struct print_tables;
template <class P, class... Es>
struct print_tables<P, type_list<Es...>> {
    static constexpr std::size_t N = sizeof...(Es);
    static constexpr std::array<std::string_view, N> kinds{leaf_kind_name<typename Es::expr>...};
    static constexpr std::array<details_fn, N> details{print_entry<typename Es::expr>::details...};
};

/// A plan and its bound values as the printers read them: the plan's `constexpr` tables as the
/// graph's run-time loops read them (`plan_view`, grad/runtime.hpp; the schedule's columns are
/// left null), and what only printing needs, so that the printers are compiled once, in the
/// library (src/io/print.cpp), not once per expression type.
struct print_view {
    plan_view plan{};
    const std::size_t* consumers = nullptr;   // how many operand slots read value i
    const std::string_view* kinds = nullptr;  // a leaf's kind: param, input, labels, constant
    const details_fn* details = nullptr;      // an op's printed state
    const array_binding* leaves = nullptr;    // the leaves' bindings (their shapes)
    const void* const* ops = nullptr;         // each value's op object (null for a leaf)
};

/// The view of plan P over `values` and its op addresses (which must outlive the view).
template <class P>
print_view print_view_of(const bound_values<P>& values,
                         const std::array<const void*, P::size>& ops) {
    using tables = typename P::tables;
    using print = print_tables<P>;
    print_view v;
    v.plan.n = P::size;
    v.plan.max_arity = tables::max_arity;
    v.plan.is_leaf = tables::columns.is_leaf.data();
    v.plan.arity = tables::columns.arity.data();
    v.plan.operands = tables::columns.operands.data();
    v.plan.names = tables::columns.names.data();
    v.plan.op_names = tables::columns.op_names.data();
    v.consumers = tables::columns.consumers.data();
    v.kinds = print::kinds.data();
    v.details = print::details.data();
    v.leaves = values.leaves.data();
    v.ops = ops.data();
    return v;
}

/// The text of the values as written: a value used twice prints twice, until the text would
/// grow past 64 KiB (a residual chain doubles it at every level); past that, a value that more
/// than one operand reads prints in full once, as `v7=relu(...)`, and as `v7` after.
std::string print_text(const print_view& v);
/// The values as a Graphviz DOT digraph named `graph_name` (see fg::to_dot).
std::string print_dot(const print_view& v, std::string_view graph_name);

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
    using P = detail::plan<E>;
    detail::bound_values<P> values;
    (void)values.bind(expr);  // a name bound to two arrays still prints (as its first array)
    const auto ops = values.op_addresses();
    return detail::print_text(detail::print_view_of<P>(values, ops));
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
    const auto ops = values.op_addresses();
    return detail::print_dot(detail::print_view_of<P>(values, ops), graph_name);
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
