#pragma once
// The law fixture of fg::embedding_linear (tests/check/test_op_laws.cpp runs the laws over it):
// repeated indices (the table's scatter-add accumulates), rows never picked, and both GEMM
// paths (few output columns, and more).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::embedding_linear> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M table = mat(7, 5, -1, 1, 201), w3 = mat(5, 3, -1, 1, 202), w20 = mat(5, 20, -1, 1, 203);
        V b3 = vec(3, -0.5, 0.5, 204), b20 = vec(20, -0.5, 0.5, 205);
        xt::xtensor<std::int32_t, 1> k32 = {2, 0, 2, 6};
        xt::xtensor<std::int64_t, 1> k64 = {1, 1, 1, 4, 5, 1, 0, 3, 2};
        auto T = fg::param<"t">(table);
        run("int32 indices, 3 outputs",
            fg::embedding_linear(T, fg::labels<"k">(k32), fg::param<"w">(w3), fg::param<"b">(b3)),
            fg::shape::matrix(4, 3));
        run("int64 indices, 20 outputs",
            fg::embedding_linear(T, fg::labels<"k">(k64), fg::param<"w">(w20), fg::param<"b">(b20)),
            fg::shape::matrix(9, 20));
    }
};

}  // namespace fusegrad_test
