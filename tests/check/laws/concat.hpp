#pragma once
// The law fixture of fg::concat (tests/check/test_op_laws.cpp runs the laws over it).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::concat> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -1, 1, 171), b = mat(3, 2, -1, 1, 172);
        V u = vec(3, -1, 1, 173), v = vec(5, -1, 1, 174);
        run("3x4 and 3x2", fg::concat(fg::param<"a">(a), fg::param<"b">(b)),
            fg::shape::matrix(3, 6));
        run("vectors", fg::concat(fg::param<"u">(u), fg::param<"v">(v)), fg::shape::vector(8));
        run("a with itself", fg::concat(fg::param<"a">(a), fg::param<"a">(a)),
            fg::shape::matrix(3, 8));
    }
};

}  // namespace fusegrad_test
