// The IDX reader on small generated files: valid (plain and .gz), and every kind of broken.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <fusegrad/nn/idx.hpp>

#include "idx_files.hpp"

namespace nn = fusegrad::nn;
using namespace fusegrad_test;
using Catch::Matchers::Contains;

TEST_CASE("read_idx reads plain and gzip files alike", "[nn][idx]") {
    temp_dir dir("idx_valid");
    const auto data = image_data(3, 4, 5);
    write_plain(dir / "a.idx", idx_bytes({3, 4, 5}, data));
    write_gz(dir / "a.idx.gz", idx_bytes({3, 4, 5}, data));
    // The .gz file really is compressed (zlib's magic), so both paths of gzread are exercised.
    REQUIRE(read_bytes(dir / "a.idx.gz").at(0) == 0x1f);
    for (const auto* name : {"a.idx", "a.idx.gz"}) {
        const auto a = nn::read_idx(dir / name);
        REQUIRE(a.dims == std::vector<std::size_t>{3, 4, 5});
        REQUIRE(a.data == data);
    }
}

TEST_CASE("load_idx_images scales pixels to [0, 1] and keeps labels", "[nn][idx]") {
    temp_dir dir("idx_images");
    write_gz(dir / "im.gz", idx_bytes({12, 2, 3}, image_data(12, 2, 3)));
    write_gz(dir / "lb.gz", idx_bytes({12}, label_data(12)));
    const auto d = nn::load_idx_images(dir / "im.gz", dir / "lb.gz");
    REQUIRE(d.size() == 12);
    REQUIRE(d.rows == 2);
    REQUIRE(d.cols == 3);
    REQUIRE(d.images.shape()[1] == 6);
    // image 5, pixel 4: (7·5 + 4) mod 256 = 39
    REQUIRE(d.images(5, 4) == Approx(39.0 / 255.0));
    REQUIRE(d.labels(11) == 1);
}

TEST_CASE("a missing file is an error that names it", "[nn][idx][errors]") {
    REQUIRE_THROWS_WITH(nn::read_idx("/nonexistent/dir/x.gz"),
                        Contains("/nonexistent/dir/x.gz") && Contains("no such file"));
}

TEST_CASE("a missing Fashion-MNIST directory names the file and how to get it",
          "[nn][idx][errors]") {
    REQUIRE_THROWS_AS(nn::load_fashion_mnist("/nonexistent/fashion"), nn::data_error);
    REQUIRE_THROWS_WITH(nn::load_fashion_mnist("/nonexistent/fashion"),
                        Contains("/nonexistent/fashion/train-images-idx3-ubyte.gz") &&
                            Contains("apt-get install dataset-fashion-mnist"));
}

TEST_CASE("a truncated .gz file is an error, not a crash", "[nn][idx][errors]") {
    temp_dir dir("idx_trunc");
    write_gz(dir / "full.gz", idx_bytes({50, 8, 8}, image_data(50, 8, 8)));
    auto bytes = read_bytes(dir / "full.gz");
    SECTION("cut inside the compressed data") {
        bytes.resize(bytes.size() / 2);
        write_plain(dir / "cut.gz", bytes);
        REQUIRE_THROWS_AS(nn::read_idx(dir / "cut.gz"), nn::data_error);
        REQUIRE_THROWS_WITH(nn::read_idx(dir / "cut.gz"), Contains("cut.gz"));
    }
    SECTION("cut inside the gzip trailer (the data is complete, the CRC is not)") {
        bytes.resize(bytes.size() - 3);
        write_plain(dir / "cut.gz", bytes);
        REQUIRE_THROWS_AS(nn::read_idx(dir / "cut.gz"), nn::data_error);
    }
    SECTION("a plain file cut short of its header's size") {
        auto plain = idx_bytes({50, 8, 8}, image_data(50, 8, 8));
        plain.resize(plain.size() - 10);
        write_plain(dir / "cut.idx", plain);
        REQUIRE_THROWS_WITH(nn::read_idx(dir / "cut.idx"),
                            Contains("truncated") && Contains("3200 bytes"));
    }
}

TEST_CASE("corrupt gzip data is an error, not a crash", "[nn][idx][errors]") {
    temp_dir dir("idx_corrupt");
    write_gz(dir / "good.gz", idx_bytes({50, 8, 8}, image_data(50, 8, 8)));
    auto bytes = read_bytes(dir / "good.gz");
    // Overwrite the middle of the deflate stream: a bad block or a CRC mismatch.
    for (std::size_t i = bytes.size() / 3; i < bytes.size() / 3 + 40; ++i) bytes[i] ^= 0x5a;
    write_plain(dir / "bad.gz", bytes);
    REQUIRE_THROWS_AS(nn::read_idx(dir / "bad.gz"), nn::data_error);
    REQUIRE_THROWS_WITH(nn::read_idx(dir / "bad.gz"), Contains("bad.gz"));
}

TEST_CASE("a wrong magic number or element type is refused", "[nn][idx][errors]") {
    temp_dir dir("idx_magic");
    auto bytes = idx_bytes({2, 2}, {1, 2, 3, 4});
    bytes[0] = 0x1a;  // not 0x00 0x00
    write_gz(dir / "magic.gz", bytes);
    REQUIRE_THROWS_WITH(nn::read_idx(dir / "magic.gz"),
                        Contains("magic.gz") && Contains("wrong IDX magic number 0x1a000802"));
    write_gz(dir / "float.gz", idx_bytes({2}, {0, 0, 0, 0, 0, 0, 0, 0}, 0x0D));
    REQUIRE_THROWS_WITH(nn::read_idx(dir / "float.gz"), Contains("element type 0x0000000d"));
    write_plain(dir / "short.idx", {0, 0});
    REQUIRE_THROWS_WITH(nn::read_idx(dir / "short.idx"), Contains("truncated"));
}

TEST_CASE("extra bytes after the data are refused", "[nn][idx][errors]") {
    temp_dir dir("idx_extra");
    auto bytes = idx_bytes({4}, {1, 2, 3, 4});
    bytes.push_back(9);
    write_gz(dir / "extra.gz", bytes);
    REQUIRE_THROWS_WITH(nn::read_idx(dir / "extra.gz"), Contains("more data than"));
}

TEST_CASE("bytes after the end of the gzip stream are refused", "[nn][idx][errors]") {
    // zlib's gzread ignores them; the reader checks the file's last 8 bytes against the CRC-32
    // and length of what it read.
    temp_dir dir("idx_trailing");
    const auto idx = idx_bytes({3, 4, 5}, image_data(3, 4, 5));
    write_gz(dir / "ok.gz", idx);
    const auto gz = read_bytes(dir / "ok.gz");
    REQUIRE(nn::read_idx(dir / "ok.gz").data == image_data(3, 4, 5));
    SECTION("garbage") {
        auto bytes = gz;
        for (const char c : std::string("GARBAGE!!")) bytes.push_back(std::uint8_t(c));
        write_plain(dir / "garbage.gz", bytes);
        REQUIRE_THROWS_WITH(
            nn::read_idx(dir / "garbage.gz"),
            Contains("garbage.gz") && Contains("bytes after the end of the gzip stream"));
    }
    SECTION("one byte, a zero") {
        auto bytes = gz;
        bytes.push_back(0);
        write_plain(dir / "zero.gz", bytes);
        REQUIRE_THROWS_WITH(nn::read_idx(dir / "zero.gz"), Contains("bytes after the end"));
    }
    SECTION("two gzip members, the data split between them") {
        const std::vector<std::uint8_t> first(idx.begin(), idx.begin() + 40),
            second(idx.begin() + 40, idx.end());
        write_gz(dir / "m1.gz", first);
        write_gz(dir / "m2.gz", second);
        auto bytes = read_bytes(dir / "m1.gz");
        const auto tail = read_bytes(dir / "m2.gz");
        bytes.insert(bytes.end(), tail.begin(), tail.end());
        write_plain(dir / "members.gz", bytes);
        REQUIRE_THROWS_WITH(nn::read_idx(dir / "members.gz"), Contains("several gzip members"));
    }
}

TEST_CASE("images and labels of different counts are refused", "[nn][idx][errors]") {
    temp_dir dir("idx_counts");
    write_gz(dir / "im.gz", idx_bytes({5, 2, 2}, image_data(5, 2, 2)));
    write_gz(dir / "lb.gz", idx_bytes({4}, label_data(4)));
    REQUIRE_THROWS_WITH(nn::load_idx_images(dir / "im.gz", dir / "lb.gz"),
                        Contains("5 images") && Contains("4 labels"));
    // A label file given as the image file: wrong rank.
    REQUIRE_THROWS_WITH(nn::load_idx_images(dir / "lb.gz", dir / "lb.gz"), Contains("rank 3"));
}
