// Batches and the per-epoch shuffle.

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

#include <xtensor/xtensor.hpp>

#include <fusegrad/nn/dataset.hpp>

namespace nn = fusegrad::nn;

namespace {
// Sample i has features (i, 10 i) and label i.
struct toy {
    xt::xtensor<float, 2> x;
    xt::xtensor<std::int32_t, 1> y;
    explicit toy(std::size_t n)
        : x(xt::xtensor<float, 2>::from_shape({n, 2})),
          y(xt::xtensor<std::int32_t, 1>::from_shape({n})) {
        for (std::size_t i = 0; i < n; ++i) {
            x(i, 0) = static_cast<float>(i);
            x(i, 1) = 10.f * static_cast<float>(i);
            y(i) = static_cast<std::int32_t>(i);
        }
    }
};
std::vector<std::int32_t> epoch_labels(nn::dataset<>& d, std::size_t epoch,
                                       std::vector<std::size_t>* sizes = nullptr) {
    std::vector<std::int32_t> seen;
    d.start_epoch(epoch);
    while (d.next()) {
        if (sizes) sizes->push_back(d.y().size());
        for (std::size_t r = 0; r < d.y().size(); ++r) {
            // Rows and labels stay together.
            REQUIRE(d.x()(r, 0) == static_cast<float>(d.y()(r)));
            REQUIRE(d.x()(r, 1) == 10.f * static_cast<float>(d.y()(r)));
            seen.push_back(d.y()(r));
        }
    }
    return seen;
}
}  // namespace

TEST_CASE("an epoch visits every sample once, in batches", "[nn][dataset]") {
    toy t(10);
    nn::dataset<> d(t.x, t.y, 4, true, 99);
    REQUIRE(d.num_batches() == 3);
    std::vector<std::size_t> sizes;
    auto seen = epoch_labels(d, 0, &sizes);
    REQUIRE(sizes == std::vector<std::size_t>{4, 4, 2});
    std::sort(seen.begin(), seen.end());
    std::vector<std::int32_t> all(10);
    std::iota(all.begin(), all.end(), 0);
    REQUIRE(seen == all);
}

TEST_CASE("the shuffle is reproducible per (seed, epoch) and differs across epochs",
          "[nn][dataset]") {
    toy t(200);
    nn::dataset<> a(t.x, t.y, 32, true, 5), b(t.x, t.y, 32, true, 5), c(t.x, t.y, 32, true, 6);
    const auto a0 = epoch_labels(a, 0), a1 = epoch_labels(a, 1);
    REQUIRE(a0 == epoch_labels(b, 0));
    REQUIRE(a1 == epoch_labels(b, 1));
    REQUIRE(a0 != a1);
    REQUIRE(a0 != epoch_labels(c, 0));
    // Re-running an epoch gives its order again.
    REQUIRE(epoch_labels(a, 0) == a0);
    // It is a real shuffle: the identity order would be astronomically unlikely.
    std::vector<std::int32_t> id(200);
    std::iota(id.begin(), id.end(), 0);
    REQUIRE(a0 != id);
}

TEST_CASE("without shuffling the order is the data's; drop_last drops the short batch",
          "[nn][dataset]") {
    toy t(10);
    nn::dataset<> d(t.x, t.y, 4, false);
    const auto seen = epoch_labels(d, 3);
    REQUIRE(seen == std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    nn::dataset<> e(t.x, t.y, 4, false, 0, true);
    REQUIRE(e.num_batches() == 2);
    std::vector<std::size_t> sizes;
    epoch_labels(e, 0, &sizes);
    REQUIRE(sizes == std::vector<std::size_t>{4, 4});
}

TEST_CASE("a dataset refuses mismatched counts and a zero batch", "[nn][dataset][errors]") {
    toy t(10);
    xt::xtensor<std::int32_t, 1> y9 = xt::zeros<std::int32_t>({9});
    REQUIRE_THROWS_WITH((nn::dataset<>(t.x, y9, 4)),
                        Catch::Matchers::Contains("10 rows but y has 9 labels"));
    REQUIRE_THROWS_AS((nn::dataset<>(t.x, t.y, 0)), std::invalid_argument);
}

TEST_CASE("advance sizes the batch and fill_rows copies each part into its own rows",
          "[nn][dataset]") {
    toy t(10);
    nn::dataset<> a(t.x, t.y, 4, true, 9), b(t.x, t.y, 4, true, 9);
    a.start_epoch(1);
    b.start_epoch(1);
    std::size_t batches = 0;
    while (a.next()) {
        REQUIRE(b.advance());
        REQUIRE(b.x().shape()[0] == a.x().shape()[0]);  // 4, 4, then the short batch of 2
        REQUIRE(b.y().size() == a.y().size());
        // In two parts, the second first: each lands in its own rows.
        const std::size_t rows = a.y().size();
        b.fill_rows(rows / 2, rows - rows / 2);
        b.fill_rows(0, rows / 2);
        for (std::size_t r = 0; r < rows; ++r) {
            REQUIRE(b.y()(r) == a.y()(r));
            REQUIRE(b.x()(r, 0) == a.x()(r, 0));
            REQUIRE(b.x()(r, 1) == a.x()(r, 1));
        }
        ++batches;
    }
    CHECK(batches == 3);
    CHECK_FALSE(b.advance());
    // fill_rows needs the whole batch's arrays: after next(first, count) they hold a part.
    b.start_epoch(0);
    b.next(0, 1);
    CHECK_THROWS_WITH(b.fill_rows(0, 4),
                      "dataset::fill_rows: x() holds 1 rows, not the batch's 4 (call advance() "
                      "first)");
}

TEST_CASE("next_indices gives next()'s batches as indices and labels, copying no sample",
          "[nn][dataset]") {
    toy t(23);
    nn::dataset<> copied(t.x, t.y, 5, true, 9), indexed(t.x, t.y, 5, true, 9);
    for (std::size_t epoch : {0u, 3u}) {
        copied.start_epoch(epoch);
        indexed.start_epoch(epoch);
        const float* x_before = indexed.x().data();
        std::size_t batches = 0;
        while (copied.next()) {
            REQUIRE(indexed.next_indices());
            REQUIRE(indexed.indices().size() == copied.y().size());
            for (std::size_t r = 0; r < copied.y().size(); ++r) {
                const auto i = static_cast<std::size_t>(indexed.indices()(r));
                REQUIRE(t.x(i, 0) == copied.x()(r, 0));  // the row next() copied
                REQUIRE(indexed.y()(r) == copied.y()(r));
            }
            ++batches;
        }
        REQUIRE_FALSE(indexed.next_indices());
        REQUIRE(batches == 5);
        REQUIRE(indexed.x().data() == x_before);  // x() untouched
        REQUIRE(indexed.x().size() == 0);
    }
}

TEST_CASE("next() and next_indices() mixed keep x() and y() the batch's size", "[nn][dataset]") {
    // 23 samples in batches of 10: a short last batch of 3 taken by next_indices(), then a
    // full one by next() in the next epoch (y() had been sized by next_indices() alone).
    toy t(23);
    nn::dataset<> d(t.x, t.y, 10, true, 4);
    d.start_epoch(0);
    REQUIRE(d.next());
    REQUIRE(d.next());
    REQUIRE(d.next_indices());
    REQUIRE(d.y().size() == 3);
    d.start_epoch(1);
    REQUIRE(d.next());
    REQUIRE(d.x().shape()[0] == 10);
    REQUIRE(d.y().size() == 10);
    for (std::size_t r = 0; r < 10; ++r) REQUIRE(d.x()(r, 0) == static_cast<float>(d.y()(r)));
}
