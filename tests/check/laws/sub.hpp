#pragma once
// The law fixture of fg::sub (tests/check/test_op_laws.cpp runs the laws over it): every
// broadcast layout on either side (scalar, row, column, both at once), and rows wider than a
// SIMD batch so that the partial last batch is covered.

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::sub> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 19, -1, 1, 131), b = mat(3, 19, -1, 2, 132);
        M col = mat(3, 1, -1, 2, 133), row = mat(1, 19, -1, 2, 134), acol = mat(3, 1, -1, 1, 135);
        V r = vec(19, -1, 2, 136), v1 = vec(5, -1, 1, 137), v2 = vec(5, -1, 2, 138);
        S s = sca(0.7), t = sca(1.3);
        auto A = fg::param<"a">(a);
        const auto m = fg::shape::matrix(3, 19);
        run("matrix - matrix", A - fg::param<"b">(b), m);
        run("matrix - row vector", A - fg::param<"r">(r), m);
        run("matrix - 1xC row", A - fg::param<"row">(row), m);
        run("matrix - column", A - fg::param<"col">(col), m);
        run("matrix - scalar", A - fg::param<"s">(s), m);
        run("scalar - matrix", fg::param<"t">(t) - fg::param<"b">(b), m);
        run("row vector - matrix", fg::param<"r">(r) - fg::param<"b">(b), m);
        run("column - row (both broadcast)", fg::param<"ac">(acol) - fg::param<"row">(row), m);
        run("vector - vector", fg::param<"u">(v1) - fg::param<"v">(v2), fg::shape::vector(5));
        run("scalar - scalar", fg::param<"s">(s) - fg::param<"t">(t), fg::shape::scalar());
        run("b - b (one operand twice)", fg::param<"b">(b) - fg::param<"b">(b), m);
        run("fg::sub", fg::sub(A, fg::param<"b">(b)), m);
    }
};

}  // namespace fusegrad_test
