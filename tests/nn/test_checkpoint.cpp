// Checkpoints: .npy round trip, refusal of mismatched shapes, atomic writes (a failed or
// concurrent save never leaves a partial or mixed file), all-or-nothing loads.

#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <thread>

#include <xtensor/xnpy.hpp>
#include <xtensor/xoperation.hpp>
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

namespace {

/// Within its scope, writing a file beyond `bytes` fails (EFBIG) instead of raising SIGXFSZ:
/// a disk that fills up part-way through a save.
class file_size_limit {
  public:
    explicit file_size_limit(rlim_t bytes) {
        old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
        ::getrlimit(RLIMIT_FSIZE, &old_);
        rlimit lim = old_;
        lim.rlim_cur = bytes;
        ::setrlimit(RLIMIT_FSIZE, &lim);
    }
    ~file_size_limit() {
        ::setrlimit(RLIMIT_FSIZE, &old_);
        std::signal(SIGXFSZ, old_handler_);
    }
    file_size_limit(const file_size_limit&) = delete;
    file_size_limit& operator=(const file_size_limit&) = delete;

  private:
    rlimit old_{};
    void (*old_handler_)(int) = nullptr;
};

xt::xtensor<float, 1> load_floats(const fs::path& p, std::size_t n) {
    xt::xtensor<float, 1> out = xt::zeros<float>({n});
    nn::load_npy(p, out);
    return out;
}

}  // namespace

TEST_CASE("a failed save leaves the old file and no partial file", "[nn][checkpoint][errors]") {
    temp_dir dir("ckpt_atomic");
    const xt::xtensor<float, 1> old_b = {1.f, 2.f};
    nn::save_npy(dir.path / "b.npy", old_b);  // the old checkpoint file

    // The disk fills up while the new, larger file is written: the save fails and the old file
    // is still there, whole, with no temporary left behind.
    xt::xtensor<float, 1> big = xt::ones<float>({100000});
    {
        file_size_limit limit(16 * 1024);
        REQUIRE_THROWS_AS(nn::save_npy(dir.path / "b.npy", big), nn::data_error);
        REQUIRE_THROWS_WITH(nn::save_npy(dir.path / "b.npy", big),
                            Contains("b.npy") && Contains("File too large"));
    }
    REQUIRE(bool(load_floats(dir.path / "b.npy", 2) == old_b));
    REQUIRE(!has_tmp_file(dir.path));

    // The target name is taken by a non-empty directory: the rename fails, the directory stays.
    fs::create_directories(dir.path / "d.npy" / "inside");
    REQUIRE_THROWS_AS(nn::save_npy(dir.path / "d.npy", old_b), nn::data_error);
    REQUIRE(fs::is_directory(dir.path / "d.npy" / "inside"));
    REQUIRE(!has_tmp_file(dir.path));
    // A directory that does not exist: the temporary cannot even be created.
    REQUIRE_THROWS_WITH(nn::save_npy(dir.path / "nope" / "b.npy", old_b), Contains("b.npy"));
    REQUIRE(!has_tmp_file(dir.path));

    // Overwriting: the new contents replace the old.
    xt::xtensor<float, 1> b3 = {7.f, 8.f, 9.f};
    nn::save_npy(dir.path / "b.npy", b3);
    REQUIRE(bool(load_floats(dir.path / "b.npy", 3) == b3));
}

TEST_CASE("a stale temporary of the old fixed name does not block a save", "[nn][checkpoint]") {
    temp_dir dir("ckpt_stale");
    // A crash of an older version, or another program, left "c.npy.tmp" behind (here as a
    // directory, which no writer can open as a file).
    fs::create_directories(dir.path / "c.npy.tmp" / "x");
    const xt::xtensor<float, 1> c = {3.f, 4.f};
    nn::save_npy(dir.path / "c.npy", c);
    REQUIRE(bool(load_floats(dir.path / "c.npy", 2) == c));
    REQUIRE(fs::is_directory(dir.path / "c.npy.tmp" / "x"));  // someone else's: not touched
}

TEST_CASE("a new checkpoint file gets fopen's mode (0666 & ~umask), a replaced one keeps its own",
          "[nn][checkpoint]") {
    temp_dir dir("ckpt_mode");
    const xt::xtensor<float, 1> c = {1.f, 2.f};
    const auto mode_of = [](const fs::path& p) {
        struct stat st {};
        REQUIRE(::stat(p.c_str(), &st) == 0);
        return st.st_mode & 0777;
    };
    // The umask is process-wide: set it for this test only, and restore it.
    const mode_t old_mask = ::umask(027);
    nn::save_npy(dir.path / "new.npy", c);
    ::umask(old_mask);
    CHECK(mode_of(dir.path / "new.npy") == 0640);  // 0666 & ~027; mkstemps alone gives 0600

    REQUIRE(::chmod((dir.path / "new.npy").c_str(), 0604) == 0);
    nn::save_npy(dir.path / "new.npy", c);
    CHECK(mode_of(dir.path / "new.npy") == 0604);
}

TEST_CASE("two writers of one checkpoint file never mix or lose a save", "[nn][checkpoint]") {
    temp_dir dir("ckpt_writers");
    const fs::path target = dir.path / "w.npy";
    const xt::xtensor<float, 1> ones = xt::ones<float>({4096});
    const xt::xtensor<float, 1> twos = 2.0f * xt::ones<float>({4096});
    std::atomic<int> failures{0};
    auto writer = [&](const xt::xtensor<float, 1>& a) {
        for (int k = 0; k < 40; ++k) {
            try {
                nn::save_npy(target, a);
            } catch (const std::exception&) {
                ++failures;  // with one shared temporary name, a rename finds it gone
            }
        }
    };
    std::thread t1(writer, std::cref(ones)), t2(writer, std::cref(twos));
    t1.join();
    t2.join();
    REQUIRE(failures == 0);
    const auto back = load_floats(target, 4096);
    REQUIRE((bool(back == ones) || bool(back == twos)));
    REQUIRE(!has_tmp_file(dir.path));
}

TEST_CASE("checkpoint::save writes every file before it replaces any", "[nn][checkpoint][errors]") {
    temp_dir dir("ckpt_set");
    xt::xtensor<float, 1> W = xt::ones<float>({6});
    nn::checkpoint first;
    first.add("W", W);
    first.save(dir.path);

    // The second array cannot be written (its subdirectory does not exist): W.npy, whose new
    // temporary was already complete, must still hold the old W.
    xt::xtensor<float, 1> W2 = 2.0f * xt::ones<float>({6});
    xt::xtensor<float, 1> b = xt::ones<float>({3});
    nn::checkpoint second;
    second.add("W", W2).add("missing/b", b);
    REQUIRE_THROWS_WITH(second.save(dir.path), Contains("b.npy"));
    REQUIRE(bool(load_floats(dir.path / "W.npy", 6) == W));
    REQUIRE(!has_tmp_file(dir.path));
}

TEST_CASE("missing and truncated checkpoint files are errors", "[nn][checkpoint][errors]") {
    temp_dir dir("ckpt_bad");
    xt::xtensor<float, 1> b = xt::zeros<float>({100});
    REQUIRE_THROWS_WITH(nn::load_npy(dir.path / "none.npy", b), Contains("none.npy"));
    nn::save_npy(dir.path / "b.npy", b);
    auto bytes = fusegrad_test::read_bytes((dir.path / "b.npy").string());
    REQUIRE(bytes.size() > 50);
    // erase, not resize: g++ -O1 with sanitizers sees resize's fill path and warns falsely.
    bytes.erase(bytes.end() - 50, bytes.end());
    fusegrad_test::write_plain((dir.path / "b.npy").string(), bytes);
    REQUIRE_THROWS_WITH(nn::load_npy(dir.path / "b.npy", b), Contains("truncated"));
    fusegrad_test::write_plain((dir.path / "junk.npy").string(), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    REQUIRE_THROWS_AS(nn::load_npy(dir.path / "junk.npy", b), nn::data_error);
}

TEST_CASE("checkpoint: a manifest makes the files one set; a changed or missing file is refused",
          "[nn][checkpoint][errors]") {
    temp_dir dir("ckpt_manifest");
    xt::xtensor<float, 2> W = xt::ones<float>({4, 3});
    xt::xtensor<float, 1> b = {1.f, 2.f, 3.f};
    nn::checkpoint c;
    c.add("W", W).add("b", b);
    CHECK(nn::checkpoint::generation(dir.path) == 0);
    c.save(dir.path);
    CHECK(nn::checkpoint::generation(dir.path) == 1);
    c.save(dir.path);
    CHECK(nn::checkpoint::generation(dir.path) == 2);
    const auto manifest =
        fusegrad_test::read_bytes((dir.path / std::string(nn::checkpoint::manifest_name)).string());
    const std::string text(manifest.begin(), manifest.end());
    CHECK_THAT(text, Contains("generation 2") && Contains("W.npy\t<f4\t(4, 3)\t") &&
                         Contains("b.npy\t<f4\t(3,)\t"));

    xt::xtensor<float, 2> W2 = xt::zeros<float>({4, 3});
    xt::xtensor<float, 1> b2 = xt::zeros<float>({3});
    nn::checkpoint r;
    r.add("W", W2).add("b", b2);
    // One array replaced from outside the set (as a save killed between its renames leaves it):
    // the set no longer matches its manifest, and nothing is loaded.
    nn::save_npy(dir.path / "b.npy", xt::xtensor<float, 1>{7.f, 8.f, 9.f});
    REQUIRE_THROWS_WITH(r.load(dir.path), Contains("b.npy") && Contains("not one complete save") &&
                                              Contains("generation 2") && !Contains("W.npy"));
    CHECK(bool(W2 == xt::zeros<float>({4, 3})));
    CHECK(bool(b2 == xt::zeros<float>({3})));
    c.save(dir.path);  // a complete save makes it loadable again
    r.load(dir.path);
    CHECK(bool(W2 == W));
    CHECK(bool(b2 == b));

    // No manifest: not a checkpoint this version wrote completely.
    fs::remove(dir.path / std::string(nn::checkpoint::manifest_name));
    REQUIRE_THROWS_WITH(r.load(dir.path),
                        Contains("no fusegrad-checkpoint.txt") && Contains("load_npy"));
    // A manifest that lists other files (another model).
    c.save(dir.path);
    nn::checkpoint other;
    xt::xtensor<float, 1> v = xt::zeros<float>({3});
    other.add("v", v);
    REQUIRE_THROWS_WITH(other.load(dir.path), Contains("v.npy") && Contains("another model"));
    // A manifest that is not one.
    fusegrad_test::write_plain((dir.path / std::string(nn::checkpoint::manifest_name)).string(),
                               {'h', 'i', '\n'});
    REQUIRE_THROWS_WITH(r.load(dir.path), Contains("not a valid checkpoint manifest"));
    CHECK(nn::checkpoint::generation(dir.path) == 0);
}

TEST_CASE("checkpoint: names are checked when added", "[nn][checkpoint][errors]") {
    xt::xtensor<float, 1> a = xt::zeros<float>({2});
    nn::checkpoint c;
    c.add("a", a);
    REQUIRE_THROWS_WITH(c.add("a", a), Contains("\"a\" was added twice"));
    REQUIRE_THROWS_AS(c.add("", a), nn::data_error);
    REQUIRE_THROWS_WITH(c.add("x\ty", a), Contains("tab"));
}

TEST_CASE("checkpoint: the next save removes the temporaries an interrupted save left",
          "[nn][checkpoint]") {
    temp_dir dir("ckpt_stale_tmp");
    xt::xtensor<float, 1> W = xt::ones<float>({3});
    nn::checkpoint c;
    c.add("W", W);
    // What a save killed before its renames leaves: io::staged_file's temporaries.
    fusegrad_test::write_plain((dir.path / "W.npy.a1B2c3.tmp").string(), {1, 2, 3});
    fusegrad_test::write_plain((dir.path / "fusegrad-checkpoint.txt.zZ9yY8.tmp").string(), {1});
    // Not ours: another name, another pattern, a directory.
    fusegrad_test::write_plain((dir.path / "V.npy.a1B2c3.tmp").string(), {1});
    fusegrad_test::write_plain((dir.path / "W.npy.tmp").string(), {1});
    fs::create_directories(dir.path / "W.npy.dddddd.tmp");
    c.save(dir.path);
    CHECK(!fs::exists(dir.path / "W.npy.a1B2c3.tmp"));
    CHECK(!fs::exists(dir.path / "fusegrad-checkpoint.txt.zZ9yY8.tmp"));
    CHECK(fs::exists(dir.path / "V.npy.a1B2c3.tmp"));
    CHECK(fs::exists(dir.path / "W.npy.tmp"));
    CHECK(fs::is_directory(dir.path / "W.npy.dddddd.tmp"));
}

namespace {

// The model the kill test saves: every element of every array holds the generation g.
struct killed_model {
    xt::xtensor<float, 2> W = xt::zeros<float>({256, 64});
    xt::xtensor<float, 1> b = xt::zeros<float>({64});
    xt::xtensor<double, 2> V = xt::zeros<double>({64, 32});
    nn::checkpoint ckpt;
    killed_model() { ckpt.add("W", W).add("b", b).add("V", V); }
    void fill(double g) {
        W.fill(static_cast<float>(g));
        b.fill(static_cast<float>(g));
        V.fill(g);
    }
    // The one generation all arrays hold, or -1 for a mixed set.
    double generation() const {
        const double g = V(0, 0);
        const bool same = bool(xt::all(xt::equal(W, static_cast<float>(g)))) &&
                          bool(xt::all(xt::equal(b, static_cast<float>(g)))) &&
                          bool(xt::all(xt::equal(V, g)));
        return same ? g : -1;
    }
};

}  // namespace

TEST_CASE("checkpoint: a save killed at random points never leaves a set that loads mixed",
          "[nn][checkpoint][kill]") {
    temp_dir dir("ckpt_kill");
    {
        killed_model m;
        m.fill(1);
        m.ckpt.save(dir.path);  // a good first checkpoint
    }
    std::uint64_t rng = 0x9e3779b97f4a7c15ull;
    const int kills = 200;
    int loaded = 0, refused = 0, mixed = 0;
    double last_loaded = 1;
    for (int k = 0; k < kills; ++k) {
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            // The child saves generations 1000k+1, 1000k+2, ... until it is killed.
            // Never returns into Catch: an error exits the child, which the parent sees.
            try {
                killed_model m;
                for (int g = 1;; ++g) {
                    m.fill(1000.0 * (k + 1) + g);
                    m.ckpt.save(dir.path);
                }
            } catch (...) {
            }
            std::_Exit(3);
        }
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        ::usleep(static_cast<useconds_t>(200 + rng % 20000));  // 0.2 to 20 ms into the saves
        ::kill(child, SIGKILL);
        int status = 0;
        ::waitpid(child, &status, 0);
        REQUIRE(WIFSIGNALED(status));

        killed_model into;
        into.fill(-5);
        try {
            into.ckpt.load(dir.path);
            const double g = into.generation();
            if (g < 0) ++mixed;
            ++loaded;
            last_loaded = g;
        } catch (const nn::data_error& e) {
            ++refused;
            CHECK_THAT(e.what(), Contains(".npy") && Contains("not one complete save"));
            CHECK(into.generation() == -5);  // nothing changed
        }
    }
    std::printf(
        "checkpoint kill test: %d kills, %d loaded one complete save, %d refused, %d mixed\n",
        kills, loaded, refused, mixed);
    CHECK(mixed == 0);
    CHECK(loaded + refused == kills);
    CHECK(loaded > 0);
    CHECK(last_loaded != 0);
    // The next save cleans up what the killed ones left, and loads again.
    killed_model m;
    m.fill(3);
    m.ckpt.save(dir.path);
    CHECK(!has_tmp_file(dir.path));
    killed_model back;
    back.ckpt.load(dir.path);
    CHECK(back.generation() == 3);
}

TEST_CASE("checkpoint: a diverged model (NaN or inf) does not replace a checkpoint",
          "[nn][checkpoint][errors]") {
    temp_dir dir("ckpt_nan");
    xt::xtensor<float, 2> W = xt::ones<float>({2, 3});
    xt::xtensor<double, 1> b = {1.0, 2.0};
    nn::checkpoint c;
    c.add("W", W).add("b", b);
    c.save(dir.path);
    W(1, 2) = std::numeric_limits<float>::quiet_NaN();
    REQUIRE_THROWS_AS(c.save(dir.path), fusegrad::value_error);
    REQUIRE_THROWS_WITH(c.save(dir.path), Contains("\"W\" holds nan at element 5 of (2, 3)") &&
                                              Contains("nothing was written"));
    W(1, 2) = 1.f;
    b(0) = -std::numeric_limits<double>::infinity();
    REQUIRE_THROWS_WITH(c.save(dir.path), Contains("\"b\" holds -inf at element 0"));
    CHECK(nn::checkpoint::generation(dir.path) == 1);  // the good one is still there
    xt::xtensor<float, 2> W2 = xt::zeros<float>({2, 3});
    xt::xtensor<double, 1> b2 = xt::zeros<double>({2});
    nn::checkpoint r;
    r.add("W", W2).add("b", b2);
    r.load(dir.path);
    CHECK(bool(W2 == xt::ones<float>({2, 3})));
    CHECK(b2(0) == 1.0);
    // On request it is written.
    c.allow_non_finite(true).save(dir.path);
    r.load(dir.path);
    CHECK(std::isinf(b2(0)));
}
