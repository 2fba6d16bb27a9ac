#pragma once
// The law fixture of fg::abs (tests/check/test_op_laws.cpp runs the laws over it).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::abs> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = away_from_zero(mat(3, 4, -1, 1, 111));
        run("matrix", fg::abs(fg::param<"a">(a)), fg::shape::matrix(3, 4));
    }
};

}  // namespace fusegrad_test
