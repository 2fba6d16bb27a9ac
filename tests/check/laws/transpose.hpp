#pragma once
// The law fixture of fg::transpose (tests/check/test_op_laws.cpp runs the laws over it).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::transpose> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(5, 37, -1, 1, 161), r = mat(1, 4, -1, 1, 162);
        run("5x37 (more than one 32x32 tile)", fg::transpose(fg::param<"a">(a)),
            fg::shape::matrix(37, 5));
        run("one row", fg::transpose(fg::param<"r">(r)), fg::shape::matrix(4, 1));
    }
};

}  // namespace fusegrad_test
