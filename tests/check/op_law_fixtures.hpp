#pragma once
// Law fixtures: for every op in the registry (fusegrad/ops/registry.hpp), the instances the
// gradient laws run on. The fixtures of the first ops are below; every later op has its own file,
// tests/check/laws/<op>.hpp, collected by CMake (fusegrad_law_fixtures.hpp, generated): adding
// an op's fixture is adding its file.

#include "op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::add> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -1, 1, 1), b = mat(3, 4, -1, 1, 2);
        V r = vec(4, -1, 1, 3), v1 = vec(5, -1, 1, 4), v2 = vec(5, -1, 1, 5);
        S s = sca(0.7), t = sca(-0.2);
        auto A = fg::param<"a">(a);
        run("matrix + matrix", A + fg::param<"b">(b), fg::shape::matrix(3, 4));
        run("matrix + row vector", A + fg::param<"r">(r), fg::shape::matrix(3, 4));
        run("matrix + scalar", A + fg::param<"s">(s), fg::shape::matrix(3, 4));
        run("vector + vector", fg::param<"u">(v1) + fg::param<"v">(v2), fg::shape::vector(5));
        run("scalar + scalar", fg::param<"s">(s) + fg::param<"t">(t), fg::shape::scalar());
        run("a + a (one operand twice)", A + A, fg::shape::matrix(3, 4));
        M col = mat(3, 1, -1, 1, 6), row = mat(1, 4, -1, 1, 7);
        run("matrix + column", A + fg::param<"c">(col), fg::shape::matrix(3, 4));
        run("column + 1xC row (both broadcast)", fg::param<"c">(col) + fg::param<"w">(row),
            fg::shape::matrix(3, 4));
    }
};

template <>
struct law_fixture<fg::op::exp> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -2, 2, 6);
        V v = vec(5, -2, 2, 7);
        run("matrix", fg::exp(fg::param<"a">(a)), fg::shape::matrix(3, 4));
        run("vector", fg::exp(fg::param<"v">(v)), fg::shape::vector(5));
    }
};

template <>
struct law_fixture<fg::op::linear> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M x = mat(4, 3, -1, 1, 8), w = mat(3, 5, -1, 1, 9);
        V b = vec(5, -1, 1, 10);
        run("x (4, 3), W (3, 5), b (5)",
            fg::linear(fg::param<"x">(x), fg::param<"W">(w), fg::param<"b">(b)),
            fg::shape::matrix(4, 5));
        M sq = mat(3, 3, -1, 1, 11);
        V c = vec(3, -1, 1, 12);
        auto Q = fg::param<"Q">(sq);
        run("linear(Q, Q, c): one param as x and W", fg::linear(Q, Q, fg::param<"c">(c)),
            fg::shape::matrix(3, 3));
    }
};

template <>
struct law_fixture<fg::op::log> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, 0.5, 2, 13);
        run("matrix in [0.5, 2)", fg::log(fg::param<"a">(a)), fg::shape::matrix(3, 4));
    }
};

template <>
struct law_fixture<fg::op::log_softmax> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 5, -3, 3, 14);
        V v = vec(6, -3, 3, 15);
        run("matrix, per row", fg::log_softmax(fg::param<"a">(a)), fg::shape::matrix(3, 5));
        run("vector", fg::log_softmax(fg::param<"v">(v)), fg::shape::vector(6));
    }
};

template <>
struct law_fixture<fg::op::matmul> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -1, 1, 16), b = mat(4, 2, -1, 1, 17), q = mat(3, 3, -1, 1, 18);
        run("(3, 4)·(4, 2)", fg::matmul(fg::param<"a">(a), fg::param<"b">(b)),
            fg::shape::matrix(3, 2));
        auto Q = fg::param<"q">(q);
        run("q·q", fg::matmul(Q, Q), fg::shape::matrix(3, 3));
    }
};

template <>
struct law_fixture<fg::op::neg> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(2, 3, -1, 1, 19);
        S s = sca(0.4);
        run("matrix", fg::neg(fg::param<"a">(a)), fg::shape::matrix(2, 3));
        run("scalar", -fg::param<"s">(s), fg::shape::scalar());
    }
};

template <>
struct law_fixture<fg::op::nll> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M p = mat(4, 3, 0.2, 1, 20), y = mat(4, 3, 0, 1, 21);
        xt::xtensor<std::int32_t, 1> k32 = {2, 0, 1, 1};
        xt::xtensor<std::int64_t, 1> k64 = {0, 0, 2, 1};
        auto P = fg::param<"p">(p);
        run("int32 class indices", fg::nll(P, fg::labels<"k">(k32)), fg::shape::vector(4));
        run("int64 class indices", fg::nll(P, fg::labels<"k">(k64)), fg::shape::vector(4));
        run("target matrix, a param (dy too)", fg::nll(P, fg::param<"y">(y)), fg::shape::vector(4));
    }
};

template <>
struct law_fixture<fg::op::nll_logp> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M lp = mat(4, 3, -3, 0, 22), y = mat(4, 3, 0, 1, 23);
        xt::xtensor<std::int32_t, 1> k = {1, 2, 0, 2};
        auto L = fg::param<"logp">(lp);
        run("class indices", fg::nll_logp(L, fg::labels<"k">(k)), fg::shape::vector(4));
        run("target matrix, a param (dy too)", fg::nll_logp(L, fg::param<"y">(y)),
            fg::shape::vector(4));
    }
};

template <>
struct law_fixture<fg::op::sum> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -1, 1, 24);
        V v = vec(5, -1, 1, 25);
        S s = sca(1.5);
        run("matrix", fg::sum(fg::param<"a">(a)), fg::shape::scalar());
        run("vector", fg::sum(fg::param<"v">(v)), fg::shape::scalar());
        run("scalar", fg::sum(fg::param<"s">(s)), fg::shape::scalar());
    }
};

template <>
struct law_fixture<fg::op::mean> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -1, 1, 26);
        V v = vec(5, -1, 1, 27);
        run("matrix", fg::mean(fg::param<"a">(a)), fg::shape::scalar());
        run("vector", fg::mean(fg::param<"v">(v)), fg::shape::scalar());
    }
};

template <>
struct law_fixture<fg::op::relu> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = away_from_zero(mat(3, 4, -1, 1, 28));
        V v = away_from_zero(vec(6, -1, 1, 29));
        run("matrix, kept 0.2 away from the kink", fg::relu(fg::param<"a">(a)),
            fg::shape::matrix(3, 4));
        run("vector", fg::relu(fg::param<"v">(v)), fg::shape::vector(6));
    }
};

template <>
struct law_fixture<fg::op::scale> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -1, 1, 30);
        V v = vec(5, -1, 1, 31);
        run("2.5 · matrix", 2.5 * fg::param<"a">(a), fg::shape::matrix(3, 4));
        run("-0.5 · vector", fg::scale(fg::param<"v">(v), -0.5), fg::shape::vector(5));
    }
};

template <>
struct law_fixture<fg::op::softmax> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 5, -3, 3, 32);
        V v = vec(6, -3, 3, 33);
        run("matrix, per row", fg::softmax(fg::param<"a">(a)), fg::shape::matrix(3, 5));
        run("vector", fg::softmax(fg::param<"v">(v)), fg::shape::vector(6));
    }
};

/// softmax_xent<R>: class indices, ignore_index, label smoothing, class weights, probability
/// targets (a param, so dy is checked) and their combinations.
template <fg::reduction R>
struct law_fixture<fg::op::softmax_xent<R>> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        const auto out = R == fg::reduction::none ? fg::shape::vector(5) : fg::shape::scalar();
        M s = mat(5, 4, -3, 3, 34), t = mat(5, 4, 0, 1, 35);
        V w = vec(4, 0.5, 2, 36);
        xt::xtensor<std::int32_t, 1> k = {3, 0, 1, 3, 2};
        auto Sx = fg::param<"s">(s);
        auto K = fg::labels<"k">(k);
        auto W = fg::constant(w);
        fg::xent_options ignore;
        ignore.ignore_index = 3;
        fg::xent_options smooth;
        smooth.label_smoothing = 0.2;
        fg::xent_options both = ignore;
        both.label_smoothing = 0.1;
        run("class indices", fg::cross_entropy<R>(Sx, K), out);
        run("ignore_index = 3", fg::cross_entropy<R>(Sx, K, ignore), out);
        run("label_smoothing = 0.2", fg::cross_entropy<R>(Sx, K, smooth), out);
        run("class weights", fg::cross_entropy<R>(Sx, K, W), out);
        run("class weights, ignore_index, smoothing", fg::cross_entropy<R>(Sx, K, W, both), out);
        run("probability targets, a param (dy too)", fg::cross_entropy<R>(Sx, fg::param<"t">(t)),
            out);
        run("targets, weights, smoothing", fg::cross_entropy<R>(Sx, fg::param<"t">(t), W, smooth),
            out);
        if constexpr (R == fg::reduction::mean) {
            fg::xent_options all_rows = ignore;
            all_rows.mean_over_all_rows = true;
            run("mean over all rows, ignore_index", fg::cross_entropy<R>(Sx, K, all_rows), out);
        }
    }
};

}  // namespace fusegrad_test

#include "fusegrad_law_fixtures.hpp"  // generated: every tests/check/laws/*.hpp
