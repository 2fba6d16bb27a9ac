// The op registry against the files. The registry collects itself (fusegrad/ops/all.hpp is
// generated from include/fusegrad/ops/*.hpp, each header listing the ops it defines), so what
// is left to check is that no op slipped through: every header on disk made it into the
// registry, and every op name written in an op header or an op body header
// (include/fusegrad/kernels/bodies/) belongs to a registered op. With the law test's check that
// every registered op has a law fixture, an op added without its laws fails.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <fusegrad/ops/registry.hpp>

namespace fg = fusegrad;

namespace {
std::filesystem::path include_dir() {
    // This file is tests/check/test_op_registry.cpp; the build passes it by absolute path.
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "include" /
           "fusegrad";
}

// Every `name = "..."` written in the headers of a directory.
std::set<std::string> written_names(const std::filesystem::path& dir) {
    std::set<std::string> out;
    const std::string key = "std::string_view name = \"";
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
        if (f.path().extension() != ".hpp") continue;
        std::ifstream in(f.path());
        std::stringstream text;
        text << in.rdbuf();
        const std::string s = text.str();
        for (std::size_t at = s.find(key); at != std::string::npos; at = s.find(key, at + 1)) {
            const std::size_t b = at + key.size(), e = s.find('"', b);
            out.insert(s.substr(b, e - b));
        }
    }
    return out;
}

template <class List>
struct names_of;
template <class... Ops>
struct names_of<fg::detail::type_list<Ops...>> {
    static std::set<std::string> get() { return {std::string(Ops::name)...}; }
};
}  // namespace

TEST_CASE("every op header on disk is in the registry", "[check][registry]") {
    const auto dir = include_dir() / "ops";
    INFO("ops directory: " << dir.string());
    REQUIRE(std::filesystem::is_directory(dir));
    std::set<std::string> on_disk, registered(fg::op::op_headers.begin(), fg::op::op_headers.end());
    for (const auto& f : std::filesystem::directory_iterator(dir))
        if (f.path().extension() == ".hpp" && f.path().stem() != "registry")
            on_disk.insert(f.path().stem().string());
    CHECK(on_disk == registered);  // else: re-run cmake (the registry is generated)
}

TEST_CASE("every op name written in an op header or body is a registered op", "[check][registry]") {
    auto written = written_names(include_dir() / "ops");
    for (const auto& n : written_names(include_dir() / "kernels" / "bodies")) written.insert(n);
    const auto registered = names_of<fg::op::all_ops>::get();
    for (const auto& n : written) {
        INFO("op name \"" << n
                          << "\" is written in a header but no registered op has it: add "
                             "its type to its header's header_ops list");
        CHECK(registered.count(n) == 1);
    }
    CHECK(registered.size() >= 15);
}
