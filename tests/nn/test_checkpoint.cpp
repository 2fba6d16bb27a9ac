// Checkpoints: .npy round trip, refusal of mismatched shapes, atomic writes, all-or-nothing
// loads.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <xtensor/xtensor.hpp>

#include <fusegrad/core/errors.hpp>
#include <fusegrad/nn/checkpoint.hpp>

#include "idx_files.hpp"

namespace nn = fusegrad::nn;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using fusegrad_test::temp_dir;

namespace {
bool has_tmp_file(const fs::path& dir) {
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.path().extension() == ".tmp") return true;
    return false;
}
}  // namespace

TEST_CASE("a checkpoint saves and loads every array bitwise", "[nn][checkpoint]") {
    temp_dir dir("ckpt_round");
    xt::xtensor<float, 2> W = {{1.5f, -2.25f, 3e-8f}, {4.f, 5.f, -0.f}};
    xt::xtensor<float, 1> b = {0.1f, 0.2f, 0.3f};
    xt::xtensor<double, 2> D = {{1.0 / 3.0}};
    nn::checkpoint c;
    c.add("W", W).add("b", b).add("D", D);
    c.save(dir.path / "run");
    REQUIRE(fs::exists(dir.path / "run" / "W.npy"));
    REQUIRE(!has_tmp_file(dir.path));
    // The files are plain .npy: xtensor reads them back as such.
    auto raw = xt::load_npy<float>((dir.path / "run" / "b.npy").string());
    REQUIRE(raw.shape()[0] == 3);
    REQUIRE(raw(1) == 0.2f);

    xt::xtensor<float, 2> W2 = xt::zeros<float>({2, 3});
    xt::xtensor<float, 1> b2 = xt::zeros<float>({3});
    xt::xtensor<double, 2> D2 = xt::zeros<double>({1, 1});
    nn::checkpoint r;
    r.add("W", W2).add("b", b2).add("D", D2);
    r.load(dir.path / "run");
    REQUIRE(bool(W2 == W));
    REQUIRE(bool(b2 == b));
    REQUIRE(D2(0, 0) == 1.0 / 3.0);
    REQUIRE(r.names() == std::vector<std::string>{"W", "b", "D"});
}

TEST_CASE("a load with a mismatched shape is refused and changes nothing",
          "[nn][checkpoint][errors]") {
    temp_dir dir("ckpt_shape");
    xt::xtensor<float, 2> W = xt::ones<float>({3, 4});
    xt::xtensor<float, 1> b = xt::ones<float>({4});
    nn::checkpoint c;
    c.add("W", W).add("b", b);
    c.save(dir.path);

    xt::xtensor<float, 2> Wt = xt::zeros<float>({4, 3});
    REQUIRE_THROWS_AS(nn::load_npy(dir.path / "W.npy", Wt), fusegrad::shape_error);
    REQUIRE_THROWS_WITH(nn::load_npy(dir.path / "W.npy", Wt),
                        Contains("W.npy") && Contains("(3, 4)") && Contains("(4, 3)"));
    REQUIRE(bool(Wt == xt::zeros<float>({4, 3})));

    // All or nothing: W would load, b does not, so W stays as it was.
    xt::xtensor<float, 2> W2 = xt::zeros<float>({3, 4});
    xt::xtensor<float, 1> b5 = xt::zeros<float>({5});
    nn::checkpoint r;
    r.add("W", W2).add("b", b5);
    REQUIRE_THROWS_WITH(r.load(dir.path),
                        Contains("b.npy") && Contains("(4,)") && Contains("(5,)"));
    REQUIRE(bool(W2 == xt::zeros<float>({3, 4})));

    // Another element type is refused too.
    xt::xtensor<double, 1> bd = xt::zeros<double>({4});
    REQUIRE_THROWS_AS(nn::load_npy(dir.path / "b.npy", bd), nn::data_error);
}

TEST_CASE("a failed save leaves the old file and no partial file", "[nn][checkpoint][errors]") {
    temp_dir dir("ckpt_atomic");
    xt::xtensor<float, 1> b = {1.f, 2.f};
    // The target name is taken by a non-empty directory: the rename must fail.
    fs::create_directories(dir.path / "b.npy" / "inside");
    REQUIRE_THROWS_AS(nn::save_npy(dir.path / "b.npy", b), nn::data_error);
    REQUIRE(!has_tmp_file(dir.path));
    // A directory that does not exist: the temporary cannot even be created.
    REQUIRE_THROWS_WITH(nn::save_npy(dir.path / "nope" / "b.npy", b), Contains("b.npy"));
    REQUIRE(!has_tmp_file(dir.path));

    // Overwriting: the old contents stay readable until the new file is complete.
    nn::save_npy(dir.path / "c.npy", b);
    xt::xtensor<float, 1> b3 = {7.f, 8.f, 9.f};
    nn::save_npy(dir.path / "c.npy", b3);
    xt::xtensor<float, 1> back = xt::zeros<float>({3});
    nn::load_npy(dir.path / "c.npy", back);
    REQUIRE(bool(back == b3));
}

TEST_CASE("missing and truncated checkpoint files are errors", "[nn][checkpoint][errors]") {
    temp_dir dir("ckpt_bad");
    xt::xtensor<float, 1> b = xt::zeros<float>({100});
    REQUIRE_THROWS_WITH(nn::load_npy(dir.path / "none.npy", b), Contains("none.npy"));
    nn::save_npy(dir.path / "b.npy", b);
    auto bytes = fusegrad_test::read_bytes((dir.path / "b.npy").string());
    bytes.resize(bytes.size() - 50);
    fusegrad_test::write_plain((dir.path / "b.npy").string(), bytes);
    REQUIRE_THROWS_WITH(nn::load_npy(dir.path / "b.npy", b), Contains("truncated"));
    fusegrad_test::write_plain((dir.path / "junk.npy").string(), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    REQUIRE_THROWS_AS(nn::load_npy(dir.path / "junk.npy", b), nn::data_error);
}
