#pragma once
// The law fixtures of fg::reshape (as a vector and as a matrix) and fg::flatten (tests/check/
// test_op_laws.cpp runs the laws over them).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::reshape<2>> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -1, 1, 181);
        V v = vec(12, -1, 1, 182);
        run("3x4 to 6x2", fg::reshape(fg::param<"a">(a), 6, 2), fg::shape::matrix(6, 2));
        run("vector to 4x3", fg::reshape(fg::param<"v">(v), 4, 3), fg::shape::matrix(4, 3));
    }
};

template <>
struct law_fixture<fg::op::reshape<1>> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -1, 1, 183);
        run("3x4 to 12", fg::reshape(fg::param<"a">(a), 12), fg::shape::vector(12));
    }
};

template <>
struct law_fixture<fg::op::flatten> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -1, 1, 184);
        run("3x4", fg::flatten(fg::param<"a">(a)), fg::shape::vector(12));
    }
};

}  // namespace fusegrad_test
