// PNG and SVG output: files that are what they claim, and failures that leave nothing behind.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <fusegrad/io/image.hpp>
#include <fusegrad/io/plot.hpp>

#include "idx_files.hpp"

namespace io = fusegrad::io;
using fusegrad_test::read_bytes;
using fusegrad_test::temp_dir;

namespace {
std::uint32_t be32(const std::vector<std::uint8_t>& b, std::size_t at) {
    return (std::uint32_t(b[at]) << 24) | (std::uint32_t(b[at + 1]) << 16) |
           (std::uint32_t(b[at + 2]) << 8) | std::uint32_t(b[at + 3]);
}
}  // namespace

TEST_CASE("write_image_grid_png writes a PNG of the grid's size", "[nn][io]") {
    temp_dir dir("png");
    // 5 images of 3×2, 3 per row, zoom 2, gap 2: width 3·4 + 4·2 = 20, height 2·6 + 3·2 = 18.
    std::vector<float> images(5 * 3 * 2);
    for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>(i % 7) - 3.f;
    REQUIRE(io::write_image_grid_png(dir / "g.png", images.data(), 5, 3, 2, 3, 2));
    const auto b = read_bytes(dir / "g.png");
    REQUIRE(b.size() > 33);
    const std::vector<std::uint8_t> signature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    REQUIRE(std::equal(signature.begin(), signature.end(), b.begin()));
    REQUIRE(std::string(b.begin() + 12, b.begin() + 16) == "IHDR");
    REQUIRE(be32(b, 16) == 20);  // width
    REQUIRE(be32(b, 20) == 18);  // height
    REQUIRE(b[25] == 2);         // colour type 2: RGB
}

TEST_CASE("PNG writing fails cleanly", "[nn][io][errors]") {
    temp_dir dir("png_bad");
    const std::uint8_t px[4] = {0, 0, 0, 0};
    REQUIRE_FALSE(io::write_png(dir / "missing_dir/x.png", 2, 2, 1, px));
    REQUIRE_FALSE(io::write_png(dir / "zero.png", 0, 2, 1, px));
    REQUIRE_FALSE(io::write_image_grid_png(dir / "none.png", nullptr, 0, 28, 28, 5));
    REQUIRE(std::filesystem::is_empty(dir.path));
}

TEST_CASE("to_svg draws one polyline per series with one point per finite value", "[nn][io]") {
    io::chart loss{"loss & <accuracy>", "epoch", "value", {}};
    loss.lines.push_back({"train", {1.0, 0.5, 0.25}, "#112233"});
    loss.lines.push_back({"test", {1.2, std::nan(""), 0.4, 0.3}, "#445566"});
    const std::string svg = io::to_svg({loss, loss});
    REQUIRE(svg.rfind("<svg", 0) == 0);
    REQUIRE(svg.find("</svg>") != std::string::npos);
    auto count = [&](const std::string& what) {
        std::size_t n = 0;
        for (auto p = svg.find(what); p != std::string::npos; p = svg.find(what, p + 1)) ++n;
        return n;
    };
    REQUIRE(count("<polyline") == 4);         // 2 series × 2 charts
    REQUIRE(count("<circle") == 2 * 6);       // 3 + 3 finite points per chart
    REQUIRE(count("&lt;accuracy&gt;") == 2);  // titles are escaped
    REQUIRE(svg.find("width=\"880\"") != std::string::npos);

    temp_dir dir("svg");
    REQUIRE(io::write_svg(dir / "c.svg", {loss}));
    REQUIRE_FALSE(io::write_svg(dir / "no/c.svg", {loss}));
    REQUIRE(read_bytes(dir / "c.svg").size() > 100);
}

TEST_CASE("to_svg terminates on values too large for their tick step", "[nn][io][errors]") {
    // At 1e17 the spacing of doubles is 16: a tick step of 1 added to a tick leaves it unchanged,
    // which once made the tick loop run until memory ran out. x at 2^53 likewise.
    io::chart c{"diverged", "epoch", "loss", {}};
    c.lines.push_back({"train", {1e17, 1e17, 1e17 + 16}, "#112233"});
    c.lines.back().x = {9007199254740992.0, 9007199254740993.0, 9007199254740994.0};
    const std::string svg = io::to_svg({c});
    std::size_t grid_lines = 0;
    for (auto p = svg.find("stroke=\"#e5e5e5\""); p != std::string::npos;
         p = svg.find("stroke=\"#e5e5e5\"", p + 1))
        ++grid_lines;
    REQUIRE(grid_lines >= 1);
    REQUIRE(grid_lines <= 51);
    REQUIRE(svg.find("</svg>") != std::string::npos);
}

TEST_CASE("write_png refuses an image whose size would overflow the encoder", "[nn][io][errors]") {
    // 40000 × 40000 RGB: (width·3 + 1)·height overflows stb's int arithmetic. Refused before
    // the pixels are read, so a 3-byte buffer is enough to prove nothing is touched.
    temp_dir dir("png_huge");
    const std::uint8_t px[3] = {0, 0, 0};
    REQUIRE_FALSE(io::write_png(dir / "huge.png", 40000, 40000, 3, px));
    REQUIRE(std::filesystem::is_empty(dir.path));
}
