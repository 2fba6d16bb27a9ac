// mul, div and sub (ops/binary.hpp): what a user sees besides the values, which the law fixtures
// (tests/check/laws/mul.hpp, div.hpp, sub.hpp) and libtorch (tests/torch/test_torch_binary.cpp)
// check.

#include <catch2/catch.hpp>

#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;

TEST_CASE("mul, div and sub name both shapes when they cannot broadcast", "[binary]") {
    xt::xtensor<double, 2> a = xt::zeros<double>({3, 4}), b = xt::zeros<double>({2, 4});
    xt::xtensor<double, 1> v = xt::zeros<double>({5});
    auto g1 = fg::compile(fg::param<"a">(a) * fg::param<"b">(b));
    CHECK_THROWS_WITH(g1.forward(),
                      Catch::Matchers::Contains("mul: cannot broadcast a (3, 4) with b (2, 4)"));
    auto g2 = fg::compile(fg::param<"a">(a) / fg::param<"v">(v));
    CHECK_THROWS_WITH(g2.forward(),
                      Catch::Matchers::Contains("div: cannot broadcast a (3, 4) with b (5)"));
    // a - b is its own op: the message names sub, not the add(a, neg(b)) it once was.
    auto g3 = fg::compile(fg::param<"a">(a) - fg::param<"b">(b));
    CHECK_THROWS_WITH(g3.forward(),
                      Catch::Matchers::Contains("sub: cannot broadcast a (3, 4) with b (2, 4)"));
}
