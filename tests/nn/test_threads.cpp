// The kernels' thread count, as a training program sets it.

#include <catch2/catch.hpp>

#include <fusegrad/nn/threads.hpp>

namespace nn = fusegrad::nn;

TEST_CASE("set_num_threads sets what num_threads reports", "[nn][threads]") {
    REQUIRE(nn::set_num_threads(1) == 1);
    REQUIRE(nn::num_threads() == 1);
    // With OpenMP the count is taken as given; without it, it stays 1.
    const std::size_t three = nn::set_num_threads(3);
    REQUIRE((three == 3 || three == 1));
    REQUIRE(nn::num_threads() == three);
    REQUIRE(nn::set_num_threads(0) == 1);  // 0 is taken as 1
    nn::set_num_threads(1);
}
