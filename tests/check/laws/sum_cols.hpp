#pragma once
// The law fixture of fg::sum_cols (tests/check/test_op_laws.cpp runs the laws over it): a wide and
// tall matrix and a single row (no ties: distinct values, so max_rows is differentiable there).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::sum_cols> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(5, 7, -3, 3, 151), r = mat(1, 7, -3, 3, 152);
        run("5x7", fg::sum_cols(fg::param<"a">(a)), fg::shape::vector(7));
        run("one row", fg::sum_cols(fg::param<"r">(r)), fg::shape::vector(7));
    }
};

}  // namespace fusegrad_test
