// The progress line: plain lines when the output is not a terminal, in-place redraws when it
// is; the numbers from a fake clock.

#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>
#include <string>

#include <fusegrad/nn/progress.hpp>

namespace nn = fusegrad::nn;

TEST_CASE("not a terminal: one plain line per epoch, no carriage returns", "[nn][progress]") {
    std::ostringstream out;
    double now = 100.0;
    nn::progress p(out, 2, 4, false, 0, [&] { return now; });
    p.start_epoch(1);
    for (std::size_t b = 1; b <= 4; ++b) {
        now += 0.5;                                // 0.5 s per batch of 100 samples: 200 samples/s
        p.update(b, 100, static_cast<double>(b));  // losses 1..4, mean 2.5
    }
    p.end_epoch("test accuracy 0.5");
    const std::string text = out.str();
    REQUIRE(text.find('\r') == std::string::npos);
    REQUIRE(text.find("\x1b") == std::string::npos);
    // 4 of 8 batches took 2 s, so 4 more take 2 s.
    REQUIRE(text ==
            "epoch 1/2  batch 4/4  200 samples/s  loss 2.5000  ETA 2.00 s  2.00 s this epoch  "
            "test accuracy 0.5\n");
}

TEST_CASE("not a terminal, plain_every: intermediate plain lines", "[nn][progress]") {
    std::ostringstream out;
    double now = 0.0;
    nn::progress p(out, 1, 6, false, 2, [&] { return now; });
    p.start_epoch(1);
    for (std::size_t b = 1; b <= 6; ++b) {
        now += 1.0;
        p.update(b, 10, 1.0);
    }
    p.end_epoch();
    const std::string text = out.str();
    REQUIRE(text.find("batch 2/6") != std::string::npos);
    REQUIRE(text.find("batch 4/6") != std::string::npos);
    REQUIRE(text.find("batch 3/6") == std::string::npos);
    REQUIRE(std::count(text.begin(), text.end(), '\n') == 3);
}

TEST_CASE("a terminal: the line is redrawn in place", "[nn][progress]") {
    std::ostringstream out;
    double now = 0.0;
    nn::progress p(out, 1, 3, true, 0, [&] { return now; });
    p.start_epoch(1);
    for (std::size_t b = 1; b <= 3; ++b) {
        now += 1.0;
        p.update(b, 10, 1.0);
    }
    p.end_epoch();
    const std::string text = out.str();
    REQUIRE(std::count(text.begin(), text.end(), '\r') == 4);  // 3 draws + the final line
    REQUIRE(std::count(text.begin(), text.end(), '\n') == 1);
    REQUIRE(text.find("batch 3/3") != std::string::npos);
}

TEST_CASE("format_seconds", "[nn][progress]") {
    REQUIRE(nn::progress::format_seconds(0.4213) == "0.42 s");
    REQUIRE(nn::progress::format_seconds(12.34) == "12.3 s");
    REQUIRE(nn::progress::format_seconds(185.0) == "3m05s");
}
