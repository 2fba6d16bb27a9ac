// The op registry against the files: every struct defined in include/fusegrad/ops/*.hpp is a
// registered op (or a known non-op), and every registered op's header exists. With the law
// test's check that every registered op has a law fixture, an op added without its laws fails.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fusegrad/ops/registry.hpp>

namespace fg = fusegrad;

namespace {
// The names of the structs defined (not just declared) in C++ source text: `struct NAME {` or
// `struct NAME : base {`.
std::vector<std::string> defined_structs(const std::string& s) {
    std::vector<std::string> out;
    const std::string kw = "struct";
    auto is_ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    for (std::size_t at = s.find(kw); at != std::string::npos; at = s.find(kw, at + kw.size())) {
        if (at > 0 && is_ident(s[at - 1])) continue;
        std::size_t i = at + kw.size();
        if (i >= s.size() || !std::isspace(static_cast<unsigned char>(s[i]))) continue;
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        const std::size_t start = i;
        while (i < s.size() && is_ident(s[i])) ++i;
        if (i == start) continue;
        const std::string name = s.substr(start, i - start);
        const std::size_t brace = s.find('{', i), semi = s.find(';', i);
        if (brace == std::string::npos || (semi != std::string::npos && semi < brace)) continue;
        const std::string between = s.substr(i, brace - i);
        const bool only_space_or_base =
            std::all_of(between.begin(), between.end(),
                        [](char c) { return std::isspace(static_cast<unsigned char>(c)); }) ||
            between.find_first_not_of(" \t\n") == between.find(':');
        if (only_space_or_base) out.push_back(name);
    }
    return out;
}

std::filesystem::path ops_dir() {
    // This file is tests/check/test_op_registry.cpp; the build passes it by absolute path.
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "include" /
           "fusegrad" / "ops";
}
}  // namespace

TEST_CASE("every op header's structs are in the op registry", "[check][registry]") {
    const auto dir = ops_dir();
    INFO("ops directory: " << dir.string());
    REQUIRE(std::filesystem::is_directory(dir));

    std::set<std::string> headers_on_disk;
    std::size_t structs_seen = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
        if (f.path().extension() != ".hpp") continue;
        const std::string stem = f.path().stem().string();
        headers_on_disk.insert(stem);
        const bool known_non_op_header =
            std::find(fg::op::non_op_headers.begin(), fg::op::non_op_headers.end(), stem) !=
            fg::op::non_op_headers.end();
        if (known_non_op_header) continue;  // the base of the unary ops; this registry
        std::ifstream in(f.path());
        std::stringstream text;
        text << in.rdbuf();
        const std::string s = text.str();
        bool header_has_op = false;
        for (const auto& name : defined_structs(s)) {
            ++structs_seen;
            const bool non_op =
                std::find(fg::op::non_op_structs.begin(), fg::op::non_op_structs.end(), name) !=
                fg::op::non_op_structs.end();
            if (non_op) continue;
            const bool registered = std::any_of(
                fg::op::op_sources.begin(), fg::op::op_sources.end(),
                [&](const auto& e) { return e.struct_name == name && e.header == stem; });
            INFO("struct " << name << " in ops/" << stem << ".hpp");
            CHECK(registered);  // add it to fg::op::all_ops and op_sources in ops/registry.hpp
            header_has_op = true;
        }
        INFO("ops/" << stem << ".hpp defines no op and is not listed as a non-op header");
        CHECK(header_has_op);
    }
    CHECK(structs_seen >= fg::op::op_sources.size());
    for (const auto& e : fg::op::op_sources) {
        INFO("registered op " << e.struct_name << " names header ops/" << e.header << ".hpp");
        CHECK(headers_on_disk.count(std::string(e.header)) == 1);
    }
}

namespace {
template <class List>
struct names_of;
template <class... Ops>
struct names_of<fg::detail::type_list<Ops...>> {
    static std::set<std::string> get() { return {std::string(Ops::name)...}; }
};
}  // namespace

TEST_CASE("the registry's op types and its op structs name the same ops", "[check][registry]") {
    const auto from_types = names_of<fg::op::all_ops>::get();
    std::set<std::string> from_sources;
    for (const auto& e : fg::op::op_sources) from_sources.insert(std::string(e.struct_name));
    CHECK(from_types == from_sources);
}
