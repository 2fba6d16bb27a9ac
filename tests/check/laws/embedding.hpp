#pragma once
// The law fixture of fg::embedding (tests/check/test_op_laws.cpp runs the laws over it): indices
// repeated (the scatter-add accumulates) and rows never picked (their gradient is 0).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::embedding> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M table = mat(6, 5, -1, 1, 191);
        xt::xtensor<std::int32_t, 1> k32 = {2, 0, 2, 5};
        xt::xtensor<std::int64_t, 1> k64 = {1, 1, 1};
        auto W = fg::param<"w">(table);
        run("int32 indices, one repeated", fg::embedding(W, fg::labels<"k">(k32)),
            fg::shape::matrix(4, 5));
        run("int64 indices, all the same", fg::embedding(W, fg::labels<"k">(k64)),
            fg::shape::matrix(3, 5));
    }
};

}  // namespace fusegrad_test
