// fusegrad::dist without a launcher: the fixed reduction tree against sums written out by hand,
// every split of the blocks among 1 to 6 ranks giving the same bits, the errors; gradient_sync
// in one process against the full-batch gradient; a dataset handing out shares of a batch.
// Runs across processes are tested by mpirun (tests/dist/CMakeLists.txt).

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <xtensor/xview.hpp>

#include <fusegrad/dist.hpp>
#include <fusegrad/fusegrad.hpp>
#include <fusegrad/nn/dataset.hpp>
#include <fusegrad/nn/init.hpp>

namespace fg = fusegrad;
namespace fd = fusegrad::dist;

namespace {

// Block b's values: magnitudes far apart, so that the order of additions changes the rounding.
std::vector<float> block_values(std::uint64_t b, std::size_t n) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double scale = std::pow(10.0, static_cast<double>((b * 7 + i * 3) % 9) - 4.0);
        v[i] = static_cast<float>(((b * 2654435761u + i * 40503u) % 1000) / 997.0 * scale *
                                  (((b + i) & 1) ? -1.0 : 1.0));
    }
    return v;
}

// The tree's sum when `ranks` ranks hold contiguous shares of `blocks` blocks: each ranks'
// block_sum, their partials pooled (serialised and read back, as the allgather does), finished.
std::vector<float> split_sum(std::uint64_t blocks, std::uint64_t ranks, std::size_t n) {
    std::vector<fd::tree_partial<float>> pooled;
    for (std::uint64_t r = 0; r < ranks; ++r) {
        const std::uint64_t first = blocks * r / ranks, end = blocks * (r + 1) / ranks;
        fd::block_sum<float> sum(n, first, end);
        for (std::uint64_t b = first; b < end; ++b) sum.push(block_values(b, n).data());
        std::vector<std::byte> bytes;
        fd::append_partials(sum.take(), bytes);
        for (auto& p : fd::read_partials<float>(bytes)) pooled.push_back(std::move(p));
    }
    std::vector<float> out(n);
    fd::finish_tree(blocks, pooled, n, out.data());
    return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("cover: the maximal tree nodes tiling a range of blocks", "[dist][tree]") {
    using N = fd::tree_node;
    CHECK(fd::cover(0, 8) == std::vector<N>{{3, 0}});
    CHECK(fd::cover(0, 3) == std::vector<N>{{1, 0}, {0, 2}});
    CHECK(fd::cover(1, 3) == std::vector<N>{{0, 1}, {0, 2}});
    CHECK(fd::cover(3, 12) == std::vector<N>{{0, 3}, {2, 1}, {2, 2}});
    CHECK(fd::cover(5, 5).empty());
    // Near the top of the range nothing overflows.
    const std::uint64_t big = std::uint64_t(1) << 62;
    CHECK(fd::cover(big, big + 3) == std::vector<N>{{1, big >> 1}, {0, big + 2}});
    CHECK(fd::root_level(1) == 0);
    CHECK(fd::root_level(2) == 1);
    CHECK(fd::root_level(5) == 3);
    CHECK(fd::root_level(8) == 3);
}

TEST_CASE("block_sum leaves the canonical cover, each node summed left + right", "[dist][tree]") {
    const std::size_t n = 1;
    fd::block_sum<double> sum(n, 3, 12);
    for (std::uint64_t b = 3; b < 12; ++b) {
        const double v = static_cast<double>(b);
        sum.push(&v);
    }
    const auto parts = sum.take();
    REQUIRE(parts.size() == 3);
    CHECK(parts[0].node == fd::tree_node{0, 3});
    CHECK(parts[0].values[0] == 3);
    CHECK(parts[1].node == fd::tree_node{2, 1});
    CHECK(parts[1].values[0] == 4 + 5 + 6 + 7);
    CHECK(parts[2].node == fd::tree_node{2, 2});
    CHECK(parts[2].values[0] == 8 + 9 + 10 + 11);
}

TEST_CASE("the tree's sum is the dyadic one, written out by hand", "[dist][tree]") {
    // Five blocks whose sum depends on the association: 1e8 + 1 - 1e8 ... in float.
    const float v[5] = {1e8f, 1.f, -1e8f, 3.f, 0.5f};
    fd::block_sum<float> sum(1, 0, 5);
    for (float x : v) sum.push(&x);
    float out = 0;
    fd::finish_tree<float>(5, sum.take(), 1, &out);
    const float by_hand = ((v[0] + v[1]) + (v[2] + v[3])) + v[4];  // root level 3
    CHECK(std::memcmp(&out, &by_hand, sizeof out) == 0);
    // Left to right differs in float: the tree is what fixes the result.
    const float left_to_right = (((v[0] + v[1]) + v[2]) + v[3]) + v[4];
    CHECK(out != left_to_right);
}

TEST_CASE("every split of the blocks among ranks gives the same bits", "[dist][tree]") {
    const std::size_t n = 37;
    for (std::uint64_t blocks : {1u, 2u, 3u, 5u, 8u, 13u, 16u, 31u}) {
        const auto one = split_sum(blocks, 1, n);
        // Against a sum computed another way, to show the sums are real: within float rounding.
        for (std::size_t i = 0; i < n; ++i) {
            double exact = 0, magnitude = 0;
            for (std::uint64_t b = 0; b < blocks; ++b) {
                exact += block_values(b, n)[i];
                magnitude += std::abs(block_values(b, n)[i]);
            }
            CHECK(std::abs(one[i] - exact) <= 1e-6 * magnitude + 1e-30);
        }
        for (std::uint64_t ranks = 2; ranks <= 6; ++ranks) {  // some with no block when few
            INFO(blocks << " blocks, " << ranks << " ranks");
            CHECK(same_bits(split_sum(blocks, ranks, n), one));
        }
    }
}

TEST_CASE("the tree refuses partials that do not tile the blocks", "[dist][tree][errors]") {
    const float x = 1.f;
    std::vector<fd::tree_partial<float>> parts;
    fd::block_sum<float> a(1, 0, 2);
    a.push(&x);
    CHECK_THROWS_WITH(a.take(), Catch::Contains("1 of the 2 blocks [0, 2) were pushed"));
    a.push(&x);
    CHECK_THROWS_WITH(a.push(&x), Catch::Contains("past this rank's blocks [0, 2)"));
    parts = a.take();
    float out = 0;
    CHECK_THROWS_WITH(fd::finish_tree<float>(3, parts, 1, &out),
                      Catch::Contains("cover 2 of 3 blocks"));
    parts.push_back(parts.front());
    CHECK_THROWS_WITH(fd::finish_tree<float>(4, parts, 1, &out), Catch::Contains("given twice"));
    parts.pop_back();
    CHECK_THROWS_WITH(fd::finish_tree<float>(2, parts, 2, &out), Catch::Contains("expected 2"));
    std::vector<std::byte> bytes(10);
    CHECK_THROWS_WITH(fd::read_partials<float>(bytes), Catch::Contains("10 stray bytes"));
    // Partials cut to a slice of their values (what a rank sends the owner of that slice).
    const std::vector<fd::tree_partial<float>> whole{{{1, 3}, {1.f, 2.f, 3.f, 4.f}},
                                                     {{0, 8}, {5.f, 6.f, 7.f, 8.f}}};
    std::vector<std::byte> sliced;
    fd::append_partials(whole, sliced, 1, 3);
    const auto back = fd::read_partials<float>(sliced);
    REQUIRE(back.size() == 2);
    CHECK(back[0].node == fd::tree_node{1, 3});
    CHECK(back[0].values == std::vector<float>{2.f, 3.f});
    CHECK(back[1].node == fd::tree_node{0, 8});
    CHECK(back[1].values == std::vector<float>{6.f, 7.f});
    // A node past any batch (its end would not fit in 64 bits) is refused, not wrapped.
    const std::vector<fd::tree_partial<float>> far{{{63, 1}, {1.f}}};
    CHECK_THROWS_WITH(fd::finish_tree<float>(1, far, 1, &out), Catch::Contains("past any batch"));
    std::vector<std::byte> far_bytes;
    fd::append_partials(far, far_bytes);
    CHECK_THROWS_WITH(fd::read_partials<float>(far_bytes), Catch::Contains("past any batch"));
}

TEST_CASE("one process: gradient_sync's block tree gives the full batch's gradient",
          "[dist][sync]") {
    fd::communicator comm;  // not under mpirun: one process, no MPI
    REQUIRE(comm.size() == 1);
    REQUIRE(comm.rank() == 0);
    REQUIRE_FALSE(comm.uses_mpi());

    const std::size_t rows = 100, features = 6, classes = 4, block = 16;
    xt::xtensor<float, 2> X = xt::xtensor<float, 2>::from_shape({rows, features});
    fg::nn::normal_fill(X, 0.0, 1.0, 3);
    xt::xtensor<std::int32_t, 1> Y = xt::xtensor<std::int32_t, 1>::from_shape({rows});
    for (std::size_t i = 0; i < rows; ++i) Y(i) = static_cast<std::int32_t>((i * 7) % classes);
    xt::xtensor<float, 2> W = xt::xtensor<float, 2>::from_shape({features, classes});
    fg::nn::normal_fill(W, 0.0, 0.5, 4);
    xt::xtensor<float, 1> b = xt::zeros<float>({classes});

    // The full batch's mean loss and gradient.
    auto full = fg::compile(fg::cross_entropy(
        fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b)), fg::labels<"y">(Y)));
    full.run();
    const xt::xtensor<float, 2> dW = full.grad<"W">();
    const xt::xtensor<float, 1> db = full.grad<"b">();

    // The same over blocks of 16 rows (the last one 4), each weighted by its rows / 100.
    xt::xtensor<float, 2> xb;
    xt::xtensor<std::int32_t, 1> yb;
    xb = xt::view(X, xt::range(0, block));
    yb = xt::view(Y, xt::range(0, block));
    auto graph = fg::compile(fg::cross_entropy(
        fg::linear(fg::input<"x">(xb), fg::param<"W">(W), fg::param<"b">(b)), fg::labels<"y">(yb)));
    fd::gradient_sync sync(comm, graph);
    const std::size_t nb = (rows + block - 1) / block;
    sync.begin(0, nb, nb);
    for (std::size_t k = 0; k < nb; ++k) {
        const std::size_t lo = k * block, hi = std::min(rows, lo + block);
        CHECK(sync.next_block() == k);
        xb = xt::view(X, xt::range(lo, hi));
        yb = xt::view(Y, xt::range(lo, hi));
        graph.run();
        sync.add_block(static_cast<double>(hi - lo) / static_cast<double>(rows));
    }
    sync.finish();
    CHECK(sync.loss() == Approx(static_cast<double>(full.value())).epsilon(1e-5));
    const auto& gW = graph.grad<"W">();
    const auto& gb = graph.grad<"b">();
    for (std::size_t i = 0; i < dW.size(); ++i)
        CHECK(gW.data()[i] == Approx(dW.data()[i]).margin(1e-6).epsilon(1e-5));
    for (std::size_t i = 0; i < db.size(); ++i)
        CHECK(gb.data()[i] == Approx(db.data()[i]).margin(1e-6).epsilon(1e-5));

    // The fast mode on one process with weight 1 leaves the gradient and the loss as they were.
    full.run();
    fd::gradient_sync fast(comm, full, {.bucket_bytes = 3 * sizeof(float)});  // many buckets
    fast.allreduce(1.0);
    CHECK(fast.loss() == static_cast<double>(full.value()));
    CHECK(full.grad<"W">() == dW);
    CHECK(full.grad<"b">() == db);
    // A weight scales every gradient.
    fast.allreduce(0.5);
    CHECK(full.grad<"W">()(1, 2) == 0.5f * dW(1, 2));

    CHECK_THROWS_WITH(sync.add_block(1.0), Catch::Contains("no batch was begun"));
    CHECK_THROWS_WITH(sync.begin(2, 1, 4), Catch::Contains("blocks [2, 1) of a batch of 4"));
    CHECK_THROWS_WITH(fd::gradient_sync(comm, full, {.bucket_bytes = 1}),
                      Catch::Contains("less than one element"));
}

TEST_CASE("a dataset hands out one share of each batch, and its blocks", "[dist][nn][dataset]") {
    const std::size_t rows = 10;
    xt::xtensor<float, 2> X = xt::xtensor<float, 2>::from_shape({rows, 2});
    xt::xtensor<std::int32_t, 1> Y = xt::xtensor<std::int32_t, 1>::from_shape({rows});
    for (std::size_t i = 0; i < rows; ++i) {
        X(i, 0) = static_cast<float>(i);
        X(i, 1) = -static_cast<float>(i);
        Y(i) = static_cast<std::int32_t>(i);
    }
    fg::nn::dataset<float> whole(X, Y, 4, true, 7), part(X, Y, 4, true, 7);
    whole.start_epoch(1);
    part.start_epoch(1);
    std::size_t batches = 0;
    while (const std::size_t n = part.next_rows()) {
        REQUIRE(whole.next());
        CHECK(n == whole.y().size());
        REQUIRE(part.next(1, 2));  // rows 1 and 2 of the batch (of fewer for the last)
        CHECK(part.batch_rows() == n);
        REQUIRE(part.y().size() == std::min<std::size_t>(2, n - 1));
        for (std::size_t r = 0; r < part.y().size(); ++r) {
            CHECK(part.y()(r) == whole.y()(r + 1));
            CHECK(part.x()(r, 1) == whole.x()(r + 1, 1));
        }
        part.copy_rows(3, 5);  // the rest of the same batch
        REQUIRE(part.y().size() == (n > 3 ? n - 3 : 0));
        for (std::size_t r = 0; r < part.y().size(); ++r) CHECK(part.y()(r) == whole.y()(r + 3));
        ++batches;
    }
    CHECK(batches == 3);  // 4 + 4 + 2
    CHECK_FALSE(whole.next());
    CHECK_FALSE(part.next(0, 4));
}
