#pragma once
// The law fixture of fg::logsumexp (tests/check/test_op_laws.cpp runs the laws over it): a wide and
// tall matrix and a single row (no ties: distinct values, so max_rows is differentiable there).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::logsumexp> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(5, 7, -3, 3, 151), r = mat(1, 7, -3, 3, 152);
        run("5x7", fg::logsumexp(fg::param<"a">(a)), fg::shape::matrix(5, 1));
        run("one row", fg::logsumexp(fg::param<"r">(r)), fg::shape::matrix(1, 1));
    }
};

}  // namespace fusegrad_test
