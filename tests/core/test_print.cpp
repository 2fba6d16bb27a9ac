// Printing graphs: to_string, to_dot (against the plan), write_dot / render_svg, and the
// compile-time inspection contains_op / count_op.

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

// ---- ops defined only here, to exercise the printer's hooks ---------------------------------
// (In a named namespace: clang flags an unused result_rank in an anonymous one.)
namespace print_test {

// An op with state and a describe() hook.
struct clip {
    static constexpr std::string_view name = "clip";
    template <std::size_t R>
    static constexpr std::size_t result_rank = R;
    double lo = 0.0, hi = 1.0;
    std::string describe() const {
        return "lo=" + fg::detail::format_number(lo) + ", hi=" + fg::detail::format_number(hi);
    }
};

// A stateless two-operand op whose description holds characters DOT must escape.
struct tagged {
    static constexpr std::string_view name = "tagged";
    template <std::size_t A, std::size_t B>
    static constexpr std::size_t result_rank = 0;
    std::string describe() const { return R"(reduction="mean")"; }
};

// An op with state the printer does not know about and no describe(): name and operands only.
struct opaque {
    static constexpr std::string_view name = "opaque";
    template <std::size_t R>
    static constexpr std::size_t result_rank = R;
    double k = 3.0;
};

}  // namespace print_test

namespace {

using print_test::clip;
using print_test::opaque;
using print_test::tagged;

template <class Op, class... C>
auto make(Op op, const C&... c) {
    return fg::node<Op, C...>{op, {c...}};
}

// ---- reading DOT back -----------------------------------------------------------------------

struct dot_edge {
    std::size_t from, to;
    std::string label;  // empty when the edge has none
};

struct dot_graph {
    std::vector<std::string> node_attrs;  // node_attrs[i]: the attribute list of node "vi"
    std::vector<dot_edge> edges;

    std::size_t uses_of(std::size_t v) const {
        std::size_t n = 0;
        for (const auto& e : edges) n += e.from == v;
        return n;
    }
    std::size_t operands_of(std::size_t v) const {
        std::size_t n = 0;
        for (const auto& e : edges) n += e.to == v;
        return n;
    }
    // The node whose label is exactly `label` (as written in the DOT text), if there is one.
    std::optional<std::size_t> find(std::string_view label) const {
        const std::string needle = "label=\"" + std::string(label) + "\"";
        for (std::size_t i = 0; i < node_attrs.size(); ++i)
            if (node_attrs[i].find(needle) != std::string::npos) return i;
        return std::nullopt;
    }
};

// Parses the statements to_dot writes, one per line, and checks that nodes are v0, v1, ... in
// order and every edge joins two declared nodes.
dot_graph parse_dot(const std::string& dot) {
    static const std::regex node_re(R"(^  v(\d+) \[(.*)\];$)");
    static const std::regex edge_re(R"re(^  v(\d+) -> v(\d+)(?: \[label="(\d+)"\])?;$)re");
    dot_graph g;
    std::istringstream in(dot);
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_match(line, m, edge_re)) {
            g.edges.push_back({std::stoul(m[1]), std::stoul(m[2]), m[3]});
        } else if (std::regex_match(line, m, node_re)) {
            REQUIRE(std::stoul(m[1]) == g.node_attrs.size());
            g.node_attrs.push_back(m[2]);
        }
    }
    for (const auto& e : g.edges) {
        REQUIRE(e.from < g.node_attrs.size());
        REQUIRE(e.to < g.node_attrs.size());
    }
    return g;
}

template <class E>
std::size_t plan_edges() {
    using tables = typename fg::detail::plan<E>::tables;
    std::size_t n = 0;
    for (auto a : tables::columns.arity) n += a;
    return n;
}

// ---- files ----------------------------------------------------------------------------------

bool have_dot() {
    return std::system("command -v dot >/dev/null 2>&1") == 0;
}

// A fresh directory for one test case; ctest runs test cases in parallel processes.
struct scratch_dir {
    fs::path path;
    explicit scratch_dir(std::string_view tag)
        : path(fs::temp_directory_path() /
               ("fusegrad_print_" + std::string(tag) + "_" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~scratch_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string operator/(std::string_view name) const { return (path / name).string(); }
};

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Graphviz reads the text without error (checked only where dot is installed).
void check_dot_parses(const std::string& dot, std::string_view tag) {
    if (!have_dot()) {
        WARN("Graphviz dot is not installed: DOT syntax not checked");
        return;
    }
    scratch_dir dir(tag);
    { std::ofstream(dir / "g.dot") << dot; }
    const std::string cmd = "dot -Tsvg '" + (dir / "g.dot") + "' -o '" + (dir / "g.svg") + "'";
    INFO(dot);
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK_THAT(slurp(dir / "g.svg"), Contains("<svg"));
}

// Sets an environment variable for one scope.
struct env_guard {
    std::string name;
    std::optional<std::string> old;
    env_guard(std::string n, const char* value) : name(std::move(n)) {
        if (const char* v = std::getenv(name.c_str())) old = v;
        ::setenv(name.c_str(), value, 1);
    }
    ~env_guard() {
        if (old)
            ::setenv(name.c_str(), old->c_str(), 1);
        else
            ::unsetenv(name.c_str());
    }
};

// The textbook model at MNIST shapes; nothing is computed, so the arrays stay uninitialised.
struct mnist_arrays {
    xt::xtensor<float, 2> X = xt::xtensor<float, 2>::from_shape({64, 784});
    xt::xtensor<float, 2> W = xt::xtensor<float, 2>::from_shape({784, 10});
    xt::xtensor<float, 1> b = xt::xtensor<float, 1>::from_shape({10});
    xt::xtensor<std::int32_t, 1> y = xt::xtensor<std::int32_t, 1>::from_shape({64});

    auto loss() const {
        auto x = fg::input<"x">(X);
        auto w = fg::param<"W">(W);
        auto c = fg::param<"b">(b);
        auto t = fg::labels<"y">(y);
        return fg::mean(fg::nll(fg::softmax(fg::linear(x, w, c)), t));
    }
};

}  // namespace

// ---- to_string ------------------------------------------------------------------------------

TEST_CASE("to_string prints the textbook model with names and bound shapes", "[io][print]") {
    mnist_arrays a;
    CHECK(fg::to_string(a.loss()) ==
          "mean(nll(softmax(linear(x (64, 784), W (784, 10), b (10))), y (64)))");
}

TEST_CASE("to_string prints every op, operators as the ops they build, and shapes of each rank",
          "[io][print]") {
    auto X = xt::xtensor<double, 2>::from_shape({5, 4});
    auto W1 = xt::xtensor<double, 2>::from_shape({4, 8});
    auto W2 = xt::xtensor<double, 2>::from_shape({8, 3});
    auto b1 = xt::xtensor<double, 1>::from_shape({8});
    auto b2 = xt::xtensor<double, 1>::from_shape({3});
    auto T = xt::xtensor<double, 2>::from_shape({5, 3});
    xt::xtensor<double, 0> s = 1.0;
    auto x = fg::input<"x">(X);
    auto t = fg::labels<"t">(T);

    const auto mlp = fg::sum(fg::nll(
        fg::softmax(fg::linear(fg::relu(fg::linear(x, fg::param<"W1">(W1), fg::param<"b1">(b1))),
                               fg::param<"W2">(W2), fg::param<"b2">(b2))),
        t));
    CHECK(fg::to_string(mlp) ==
          "sum(nll(softmax(linear(relu(linear(x (5, 4), W1 (4, 8), b1 (8))), W2 (8, 3), b2 (3))), "
          "t (5, 3)))");

    // a - b is sub(a, b); -e is neg(e); add puts the wider operand first.
    const auto logs = fg::mean(fg::log(fg::softmax(fg::matmul(x, fg::param<"W1">(W1))))) -
                      fg::sum(fg::log_softmax(fg::exp(-fg::matmul(x, fg::param<"W1">(W1)))));
    CHECK(fg::to_string(logs) ==
          "sub(mean(log(softmax(matmul(x (5, 4), W1 (4, 8))))), "
          "sum(log_softmax(exp(neg(matmul(x (5, 4), W1 (4, 8)))))))");

    const auto bias = fg::param<"s">(s) + fg::param<"b1">(b1);
    CHECK(fg::to_string(bias) == "add(b1 (8), s ())");
}

TEST_CASE("to_string prints scale factors and constants, and repeats shared subexpressions",
          "[io][print]") {
    xt::xtensor<double, 1> v = {1.0, 2.0, 3.0}, c = {0.0, 0.0, 0.0};
    xt::xtensor<double, 2> C = xt::xtensor<double, 2>::from_shape({3, 4});
    auto p = fg::param<"v">(v);

    CHECK(fg::to_string(2.5 * p) == "scale(v (3), 2.5)");
    CHECK(fg::to_string(p * 0.1) == "scale(v (3), 0.1)");
    CHECK(fg::to_string(fg::scale(p, -1.0)) == "scale(v (3), -1)");
    CHECK(fg::to_string(fg::scale(p, 1e-5)) == "scale(v (3), 1e-05)");
    CHECK(fg::to_string(fg::constant(C)) == "const (3, 4)");
    CHECK(fg::to_string(fg::sum(p + fg::constant(c)) + fg::mean(fg::constant(C))) ==
          "add(sum(add(v (3), const (3))), mean(const (3, 4)))");
    // The plan evaluates exp(v) once; the text is the tree as written.
    CHECK(fg::to_string(fg::sum(fg::exp(p)) + fg::sum(fg::exp(p))) ==
          "add(sum(exp(v (3))), sum(exp(v (3))))");
}

TEST_CASE("to_string appends an op's describe() and prints unknown ops by name and operands",
          "[io][print]") {
    xt::xtensor<double, 1> v = {1.0, 2.0, 3.0};
    auto p = fg::param<"v">(v);
    STATIC_REQUIRE(fg::describable_op<clip>);
    STATIC_REQUIRE(fg::describable_op<tagged>);
    STATIC_REQUIRE_FALSE(fg::describable_op<opaque>);
    STATIC_REQUIRE_FALSE(fg::describable_op<fg::op::scale>);

    CHECK(fg::to_string(make(clip{-0.5, 2.0}, p)) == "clip(v (3), lo=-0.5, hi=2)");
    CHECK(fg::to_string(make(tagged{}, fg::exp(p), p)) ==
          R"(tagged(exp(v (3)), v (3), reduction="mean"))");
    CHECK(fg::to_string(fg::sum(make(opaque{}, p))) == "sum(opaque(v (3)))");
}

// ---- to_dot ---------------------------------------------------------------------------------

TEST_CASE("to_dot writes one node per value in plan order and one edge per operand", "[io][dot]") {
    xt::xtensor<double, 1> v = {1.0, 2.0};
    const auto e = fg::sum(fg::exp(fg::param<"v">(v)));
    CHECK(fg::to_dot(e) == R"x(digraph "fusegrad" {
  node [fontname="Helvetica"];
  edge [fontname="Helvetica", fontsize=10];
  v0 [label="v\n(2)", shape=box, style=filled, fillcolor="#fdd0a2", tooltip="param"];
  v1 [label="exp", shape=ellipse];
  v2 [label="sum", shape=ellipse, peripheries=2];
  v0 -> v1;
  v1 -> v2;
}
)x");
    check_dot_parses(fg::to_dot(e), "simple");
}

TEST_CASE("to_dot draws the textbook model: labels, shapes, kinds, operand indices", "[io][dot]") {
    mnist_arrays a;
    const auto loss = a.loss();
    using E = std::remove_cvref_t<decltype(loss)>;
    const std::string dot = fg::to_dot(loss, "softmax regression");
    CHECK_THAT(dot, Contains(R"(digraph "softmax regression" {)"));

    const auto g = parse_dot(dot);
    // x, W, b, linear, softmax, y, nll, mean; edges 3 + 1 + 2 + 1.
    CHECK(g.node_attrs.size() == 8);
    CHECK(g.node_attrs.size() == fg::detail::plan<E>::size);
    CHECK(g.node_attrs.size() == fg::graph<E>::num_values);
    CHECK(g.edges.size() == 7);
    CHECK(g.edges.size() == plan_edges<E>());

    // Leaves: name and shape, box, coloured by kind.
    const auto x = g.find(R"(x\n(64, 784))"), w = g.find(R"(W\n(784, 10))"),
               b = g.find(R"(b\n(10))"), y = g.find(R"(y\n(64))");
    REQUIRE(x);
    REQUIRE(w);
    REQUIRE(b);
    REQUIRE(y);
    CHECK_THAT(g.node_attrs[*x], Contains("shape=box") && Contains(R"(tooltip="input")") &&
                                     Contains(R"(fillcolor="#c6dbef")"));
    CHECK_THAT(g.node_attrs[*w], Contains(R"(tooltip="param")") && Contains("#fdd0a2"));
    CHECK_THAT(g.node_attrs[*b], Contains(R"(tooltip="param")") && Contains("#fdd0a2"));
    CHECK_THAT(g.node_attrs[*y], Contains(R"(tooltip="labels")") && Contains("#c7e9c0"));

    // Ops: ellipses; the edges into linear are labelled with the operand index.
    const auto lin = g.find("linear"), sm = g.find("softmax"), nll = g.find("nll"),
               mean = g.find("mean");
    REQUIRE(lin);
    REQUIRE(sm);
    REQUIRE(nll);
    REQUIRE(mean);
    CHECK_THAT(g.node_attrs[*lin], Contains("shape=ellipse"));
    std::vector<std::pair<std::size_t, std::string>> into_linear, into_nll;
    for (const auto& e : g.edges) {
        if (e.to == *lin) into_linear.emplace_back(e.from, e.label);
        if (e.to == *nll) into_nll.emplace_back(e.from, e.label);
        if (e.to == *sm || e.to == *mean) CHECK(e.label.empty());  // one operand: no index
    }
    using uses = std::vector<std::pair<std::size_t, std::string>>;
    CHECK(into_linear == uses{{*x, "0"}, {*w, "1"}, {*b, "2"}});
    CHECK(into_nll == uses{{*sm, "0"}, {*y, "1"}});

    // Only the result has a double outline.
    CHECK_THAT(g.node_attrs[*mean], Contains("peripheries=2"));
    std::size_t outlined = 0;
    for (const auto& attrs : g.node_attrs)
        outlined += attrs.find("peripheries") != std::string::npos;
    CHECK(outlined == 1);

    // Deterministic: a copy of the expression prints the same.
    const auto copy = loss;
    CHECK(fg::to_dot(copy, "softmax regression") == dot);
    check_dot_parses(dot, "textbook");
}

TEST_CASE("to_dot draws a common subexpression once, with an edge to each use", "[io][dot]") {
    xt::xtensor<double, 2> A = {{0.5, -1.0}, {2.0, 0.25}};
    auto a = fg::param<"A">(A);

    SECTION("one value used by two ops") {
        const auto e = fg::sum(fg::exp(a)) + fg::mean(fg::exp(a));
        using E = std::remove_cvref_t<decltype(e)>;
        const auto g = parse_dot(fg::to_dot(e));
        // A, exp, sum, mean, add: exp(A) is one node although the tree holds it twice.
        CHECK(g.node_attrs.size() == 5);
        CHECK(g.node_attrs.size() == fg::graph<E>::num_values);
        CHECK(g.edges.size() == 5);
        CHECK(g.edges.size() == plan_edges<E>());
        const auto ex = g.find("exp");
        REQUIRE(ex);
        CHECK(g.uses_of(*ex) == 2);
        CHECK(g.uses_of(*g.find(R"(A\n(2, 2))")) == 1);
        check_dot_parses(fg::to_dot(e), "cse1");
    }
    SECTION("one value used twice by one op") {
        const auto e = fg::sum(fg::exp(a)) + fg::sum(fg::exp(a));
        using E = std::remove_cvref_t<decltype(e)>;
        const auto g = parse_dot(fg::to_dot(e));
        CHECK(g.node_attrs.size() == 4);  // A, exp, sum, add
        CHECK(g.node_attrs.size() == fg::graph<E>::num_values);
        const auto s = g.find("sum"), add = g.find("add");
        REQUIRE(s);
        REQUIRE(add);
        CHECK(g.uses_of(*s) == 2);
        CHECK(g.operands_of(*add) == 2);
        std::vector<std::string> labels;
        for (const auto& edge : g.edges)
            if (edge.to == *add) {
                CHECK(edge.from == *s);
                labels.push_back(edge.label);
            }
        CHECK(labels == std::vector<std::string>{"0", "1"});
        check_dot_parses(fg::to_dot(e), "cse2");
    }
    SECTION("one name built twice is one leaf") {
        xt::xtensor<double, 1> v = {1.0, 2.0, 3.0};
        const auto e = fg::sum(fg::param<"v">(v)) + fg::mean(fg::param<"v">(v));
        const auto g = parse_dot(fg::to_dot(e));
        CHECK(g.node_attrs.size() == 4);  // v, sum, mean, add
        const auto leaf = g.find(R"(v\n(3))");
        REQUIRE(leaf);
        CHECK(g.uses_of(*leaf) == 2);
    }
}

TEST_CASE("to_dot keeps stateful ops and constants apart and prints their state", "[io][dot]") {
    xt::xtensor<double, 1> v = {1.0, 2.0}, c1 = {10.0, 20.0}, c2 = {100.0, 200.0};
    auto p = fg::param<"v">(v);
    // Same types twice each, but different state: never merged.
    const auto e = fg::sum(2.0 * p) + fg::sum(3.0 * p) + fg::sum(p + fg::constant(c1)) +
                   fg::sum(p + fg::constant(c2));
    using E = std::remove_cvref_t<decltype(e)>;
    const std::string dot = fg::to_dot(e);
    const auto g = parse_dot(dot);
    CHECK(g.node_attrs.size() == fg::detail::plan<E>::size);
    CHECK(g.node_attrs.size() == fg::graph<E>::num_values);
    CHECK(g.edges.size() == plan_edges<E>());
    CHECK(g.find(R"(scale\n2)"));
    CHECK(g.find(R"(scale\n3)"));
    std::size_t constants = 0;
    for (const auto& attrs : g.node_attrs)
        if (attrs.find(R"x(label="const\n(2)")x") != std::string::npos) {
            CHECK_THAT(attrs, Contains(R"(tooltip="constant")") && Contains("#d9d9d9"));
            ++constants;
        }
    CHECK(constants == 2);
    CHECK(g.uses_of(*g.find(R"(v\n(2))")) == 4);
    check_dot_parses(dot, "state");
}

TEST_CASE("to_dot prints describe() and escapes quotes and backslashes", "[io][dot]") {
    xt::xtensor<double, 1> v = {1.0, 2.0};
    auto q = fg::param<"say \"hi\"\\">(v);  // the name is: say "hi"\  .
    const auto e = make(tagged{}, make(clip{0.0, 6.0}, q), q);
    const std::string dot = fg::to_dot(e, R"(my "graph")");
    CHECK_THAT(dot, Contains(R"(digraph "my \"graph\"" {)"));
    const auto g = parse_dot(dot);
    REQUIRE(g.node_attrs.size() == 3);
    CHECK(g.node_attrs[0].starts_with(R"x(label="say \"hi\"\\\n(2)")x"));
    CHECK(g.node_attrs[1].starts_with(R"(label="clip\nlo=0, hi=6")"));
    CHECK(g.node_attrs[2].starts_with(R"(label="tagged\nreduction=\"mean\"")"));
    check_dot_parses(dot, "escape");
}

// ---- files ----------------------------------------------------------------------------------

TEST_CASE("write_dot writes the DOT text atomically and reports failure", "[io][file]") {
    mnist_arrays a;
    scratch_dir dir("write");
    const std::string path = dir / "model.dot";
    REQUIRE(fg::write_dot(path, a.loss()));
    CHECK(slurp(path) == fg::to_dot(a.loss()));
    CHECK_FALSE(fs::exists(path + ".tmp"));

    // Overwrites a file that is there.
    REQUIRE(fg::write_dot(path, a.loss(), "second"));
    CHECK(slurp(path) == fg::to_dot(a.loss(), "second"));

    CHECK_FALSE(fg::write_dot(dir / "no/such/dir/model.dot", a.loss()));
    CHECK_FALSE(fs::exists(dir / "no"));
    CHECK_FALSE(fg::write_dot("", a.loss()));
}

TEST_CASE("render_svg runs Graphviz when it is installed and never throws", "[io][file]") {
    mnist_arrays a;
    scratch_dir dir("svg");
    const std::string dot = dir / "model.dot", svg = dir / "model.svg";
    REQUIRE(fg::write_dot(dot, a.loss()));
    CHECK(fg::graphviz_available() == have_dot());

    if (have_dot()) {
        REQUIRE(fg::render_svg(dot, svg));
        const std::string text = slurp(svg);
        CHECK_THAT(text, Contains("<svg") && Contains("softmax") && Contains("784, 10"));
        CHECK_FALSE(fs::exists(svg + ".tmp"));

        // A path with spaces and shell characters is one quoted word.
        const std::string odd = dir / "a b;$(touch x)&.dot";
        REQUIRE(fg::write_dot(odd, a.loss()));
        CHECK(fg::render_svg(odd, dir / "a b.svg"));
        CHECK(fs::exists(dir / "a b.svg"));
        CHECK_FALSE(fs::exists("x"));

        // dot fails on a missing input: false, nothing left behind.
        CHECK_FALSE(fg::render_svg(dir / "missing.dot", dir / "missing.svg"));
        CHECK_FALSE(fs::exists(dir / "missing.svg"));
        CHECK_FALSE(fs::exists(dir / "missing.svg.tmp"));
    } else {
        WARN("Graphviz dot is not installed: rendering not checked");
        CHECK_FALSE(fg::render_svg(dot, svg));
    }

    // A single quote in the input path is refused rather than passed to the shell; the output
    // path never reaches the shell (the SVG is read from dot's standard output).
    CHECK_FALSE(fg::render_svg(dir / "it's.dot", svg + "2"));
    CHECK_FALSE(fs::exists(svg + "2"));
    CHECK(fg::render_svg(dot, dir / "it's.svg") == have_dot());
    CHECK(fs::exists(dir / "it's.svg") == have_dot());

    // No temporary is left behind by any of the calls above.
    for (const auto& entry : fs::directory_iterator(dir.path))
        CHECK(entry.path().extension() != ".tmp");

    // Without dot on the PATH: false, no throw.
    {
        env_guard no_path("PATH", "");
        CHECK_FALSE(fg::graphviz_available());
        bool rendered = true;
        CHECK_NOTHROW(rendered = fg::render_svg(dot, dir / "none.svg"));
        CHECK_FALSE(rendered);
        CHECK_FALSE(fs::exists(dir / "none.svg"));
    }
}

// ---- contains_op / count_op -----------------------------------------------------------------

TEST_CASE("contains_op and count_op look at every node of the tree", "[core][inspect]") {
    mnist_arrays a;
    using L = decltype(a.loss());
    STATIC_REQUIRE(fg::contains_op<L, fg::op::softmax>);
    STATIC_REQUIRE(fg::contains_op<L, fg::op::linear>);
    STATIC_REQUIRE(fg::contains_op<L, fg::op::mean>);
    STATIC_REQUIRE_FALSE(fg::contains_op<L, fg::op::log_softmax>);
    STATIC_REQUIRE_FALSE(fg::contains_op<L, fg::op::sum>);
    STATIC_REQUIRE(fg::count_op<L, fg::op::nll> == 1);
    STATIC_REQUIRE(fg::count_op<L, fg::op::exp> == 0);
    // cv and reference qualifiers on either argument do not matter.
    STATIC_REQUIRE(fg::contains_op<const L&, const fg::op::softmax>);

    xt::xtensor<double, 2> A = {{1.0}};
    auto p = fg::param<"A">(A);
    // Counts tree nodes, not plan values: exp(A) is one value but appears twice.
    using Twice = decltype(fg::sum(fg::exp(p)) + fg::sum(fg::exp(p)));
    STATIC_REQUIRE(fg::count_op<Twice, fg::op::exp> == 2);
    STATIC_REQUIRE(fg::count_op<Twice, fg::op::sum> == 2);
    STATIC_REQUIRE(fg::count_op<Twice, fg::op::add> == 1);
    STATIC_REQUIRE(fg::detail::plan<Twice>::size == 4);

    using Diff = decltype(p - 2.0 * p);  // sub(A, scale(A))
    STATIC_REQUIRE(fg::count_op<Diff, fg::op::sub> == 1);
    STATIC_REQUIRE(fg::count_op<Diff, fg::op::neg> == 0);
    STATIC_REQUIRE(fg::count_op<Diff, fg::op::scale> == 1);

    // A leaf has no ops; ops defined outside the library count like any other.
    STATIC_REQUIRE(fg::count_op<decltype(p), fg::op::exp> == 0);
    STATIC_REQUIRE_FALSE(fg::contains_op<decltype(p), fg::op::exp>);
    using Custom = decltype(make(tagged{}, make(clip{}, p), make(clip{}, fg::exp(p))));
    STATIC_REQUIRE(fg::count_op<Custom, clip> == 2);
    STATIC_REQUIRE(fg::count_op<Custom, tagged> == 1);
    STATIC_REQUIRE(fg::count_op<Custom, fg::op::exp> == 1);
}

namespace {
// h, h + h, (h + h) + (h + h), ...: every level reads the one below twice, so the tree as
// written doubles per level while the plan grows by one value.
template <int Levels, class H>
auto doubling(const H& h) {
    if constexpr (Levels == 0)
        return h;
    else
        return doubling<Levels - 1>(h + h);
}
}  // namespace

TEST_CASE("to_string names a shared value once when the tree as written would be too long",
          "[io][print]") {
    xt::xtensor<double, 1> v = {1.0, 2.0, 3.0};
    auto e = fg::exp(fg::param<"v">(v));
    // Short: the tree as written, each use spelled out.
    CHECK(fg::to_string(doubling<2>(e)) ==
          "add(add(exp(v (3)), exp(v (3))), add(exp(v (3)), exp(v (3))))");
    // 14 levels: 2^14 copies of exp(v (3)) as a tree (over 64 KiB). The exp and the 13 inner
    // adds are each read twice, so each prints once as vN=... and then as vN.
    const std::string s = fg::to_string(doubling<14>(e));
    CHECK(s.size() < 2048);
    std::size_t named = 0;
    for (std::size_t at = s.find('='); at != std::string::npos; at = s.find('=', at + 1)) ++named;
    CHECK(named == 14);
    CHECK(s.rfind("add(v14=add(v13=add(", 0) == 0);
    CHECK_THAT(s, Contains("v2=add(v1=exp(v (3)), v1), v2)"));
    CHECK_THAT(s, Contains("v14)"));
}
