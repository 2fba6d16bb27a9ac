// Accuracy and the confusion matrix on hand-made cases.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <xtensor/xtensor.hpp>

#include <fusegrad/core/errors.hpp>
#include <fusegrad/nn/metrics.hpp>

namespace nn = fusegrad::nn;

TEST_CASE("argmax takes the first maximum and skips NaN", "[nn][metrics]") {
    const float a[] = {0.1f, 0.7f, 0.7f, 0.2f};
    REQUIRE(nn::argmax(a, 4) == 1);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float b[] = {nan, -1.f, 3.f};
    REQUIRE(nn::argmax(b, 3) == 2);
}

TEST_CASE("accuracy and confusion matrix of a hand case", "[nn][metrics]") {
    // Predictions by row: 0, 2, 1, 1, 2; labels 0, 1, 1, 2, 2 -> right: rows 0, 2, 4 = 3 of 5.
    xt::xtensor<float, 2> s = {{5, 1, 0}, {0, 1, 3}, {0, 2, 1}, {1, 4, 2}, {0, 0, 1}};
    xt::xtensor<std::int32_t, 1> y = {0, 1, 1, 2, 2};
    REQUIRE(nn::accuracy(s, y) == Approx(0.6));
    nn::confusion_matrix cm(3);
    cm.add_scores(5, s.data(), y.data());
    REQUIRE(cm.total() == 5);
    REQUIRE(cm.count(0, 0) == 1);
    REQUIRE(cm.count(1, 2) == 1);
    REQUIRE(cm.count(1, 1) == 1);
    REQUIRE(cm.count(2, 1) == 1);
    REQUIRE(cm.count(2, 2) == 1);
    REQUIRE(cm.count(0, 1) == 0);
    REQUIRE(cm.recall(1) == Approx(0.5));
    REQUIRE(cm.recall(0) == Approx(1.0));
    REQUIRE(cm.accuracy() == Approx(0.6));
    const auto text = cm.str({"a", "b", "c"});
    REQUIRE_THAT(text, Catch::Matchers::Contains("recall"));
    REQUIRE_THAT(text, Catch::Matchers::Contains("0.500"));
}

TEST_CASE("metrics refuse labels out of range and mismatched counts", "[nn][metrics][errors]") {
    nn::confusion_matrix cm(3);
    REQUIRE_THROWS_AS(cm.add(3, 0), fusegrad::label_error);
    REQUIRE_THROWS_AS(cm.add(-1, 0), fusegrad::label_error);
    xt::xtensor<float, 2> s = {{1, 0}, {0, 1}};
    xt::xtensor<std::int32_t, 1> y = {0};
    REQUIRE_THROWS_AS(nn::accuracy(s, y), fusegrad::shape_error);
    REQUIRE(nn::confusion_matrix(4).accuracy() == 0.0);
}
