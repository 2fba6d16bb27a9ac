// The .npy reader and writer (nn/npy.hpp): files as NumPy writes them (versions 1.0, 2.0, 3.0),
// xtensor's files, and the hostile files of issue 15, each refused with a message that names
// the file and the problem, before anything is allocated from the file's numbers. The
// libFuzzer target tests/fuzz/fuzz_npy.cpp (CI, -malloc_limit_mb) covers the rest.

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <xtensor/xnpy.hpp>
#include <xtensor/xtensor.hpp>

#include <fusegrad/core/errors.hpp>
#include <fusegrad/nn/checkpoint.hpp>
#include <fusegrad/nn/npy.hpp>

#include "idx_files.hpp"

namespace nn = fusegrad::nn;
using Catch::Matchers::Contains;
using fusegrad_test::temp_dir;

namespace {

// A .npy file exactly as numpy.lib.format writes it (header padded with spaces so the data
// starts on a 64-byte boundary, ended by '\n').
std::string numpy_file(const std::string& descr, const std::string& shape, const std::string& data,
                       int major = 1, const std::string& order = "False") {
    std::string header =
        "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }";
    const std::size_t len_bytes = major == 1 ? 2 : 4;
    const std::size_t unpadded = 8 + len_bytes + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    std::string out = std::string("\x93NUMPY", 6) + char(major) + '\0';
    for (std::size_t i = 0; i < len_bytes; ++i) out += char((header.size() >> (8 * i)) & 0xff);
    return out + header + data;
}

std::string float_bytes(std::initializer_list<float> v) {
    std::string out(v.size() * 4, '\0');
    std::memcpy(out.data(), v.begin(), out.size());
    return out;
}

std::vector<float> read_floats(const std::string& file, std::vector<std::size_t> shape) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> out(n, -7.f);
    nn::read_npy_bytes(file, "t.npy", nn::npy_descr<float>(), shape, out.data(), n * 4);
    return out;
}

std::string error_of(const std::string& file, std::vector<std::size_t> shape = {2, 2}) {
    std::vector<float> out(4, -7.f);
    try {
        nn::read_npy_bytes(file, "t.npy", nn::npy_descr<float>(), shape, out.data(),
                           shape.size() == 2 && shape[0] * shape[1] == 4 ? 16 : 0);
    } catch (const nn::data_error& e) {
        REQUIRE(out == std::vector<float>(4, -7.f));  // nothing written
        return e.what();
    } catch (const fusegrad::shape_error& e) {
        REQUIRE(out == std::vector<float>(4, -7.f));
        return e.what();
    }
    FAIL("no error for a bad file");
    return {};
}

}  // namespace

TEST_CASE("npy: files as NumPy writes them are read, every version", "[nn][npy]") {
    const std::string data = float_bytes({1.f, -2.f, 3.5f, 4.f, 5.f, 6.f});
    for (int major : {1, 2, 3}) {
        INFO("version " << major);
        CHECK(read_floats(numpy_file("<f4", "(2, 3)", data, major), {2, 3}) ==
              std::vector<float>{1.f, -2.f, 3.5f, 4.f, 5.f, 6.f});
    }
    // Double quotes, no trailing comma, a 1-D shape, a scalar, an empty array.
    std::string dq = numpy_file("<f4", "(6,)", data);
    for (char& c : dq)
        if (c == '\'') c = '"';
    CHECK(read_floats(dq, {6}).size() == 6);
    CHECK(read_floats(numpy_file("<f4", "()", float_bytes({2.5f})), {}) ==
          std::vector<float>{2.5f});
    CHECK(read_floats(numpy_file("<f4", "(0, 3)", ""), {0, 3}).empty());
    // Fortran order is the same layout when at most one extent exceeds 1.
    CHECK(read_floats(numpy_file("<f4", "(1, 6)", data, 1, "True"), {1, 6})[1] == -2.f);
    // Other element types.
    std::int64_t ints[3] = {-1, 2, 1LL << 40};
    std::string ib(reinterpret_cast<const char*>(ints), sizeof ints);
    std::int64_t back[3] = {};
    const std::size_t three[] = {3};
    nn::read_npy_bytes(numpy_file("<i8", "(3,)", ib), "i.npy", nn::npy_descr<std::int64_t>(), three,
                       back, sizeof back);
    CHECK(back[2] == (1LL << 40));
    STATIC_REQUIRE(nn::npy_descr<std::uint8_t>() == "|u1");
    STATIC_REQUIRE(nn::npy_descr<double>() == "<f8");
    STATIC_REQUIRE(nn::npy_descr<std::int32_t>() == "<i4");
}

TEST_CASE("npy: our files are NumPy's format and xtensor reads them; we read xtensor's",
          "[nn][npy]") {
    const float v[6] = {1, 2, 3, 4, 5, 6};
    const std::size_t shape[] = {2, 3};
    const std::string ours = nn::npy_file_bytes("<f4", shape, v, sizeof v);
    CHECK(ours == numpy_file("<f4", "(2, 3)", std::string(reinterpret_cast<const char*>(v), 24)));
    CHECK((ours.size() - 24) % 64 == 0);
    std::istringstream in(ours);
    auto x = xt::load_npy<float>(in);
    CHECK(x.shape()[1] == 3);
    CHECK(x(1, 2) == 6.f);

    xt::xtensor<double, 2> d = {{1.0 / 3, 2.0}, {-0.0, 1e300}};
    const std::string theirs = xt::dump_npy(d);
    double back[4] = {};
    const std::size_t s22[] = {2, 2};
    nn::read_npy_bytes(theirs, "x.npy", "<f8", s22, back, sizeof back);
    CHECK(back[0] == 1.0 / 3);
    CHECK(back[3] == 1e300);
}

TEST_CASE("npy: hostile headers are refused before anything is allocated from them",
          "[nn][npy][errors]") {
    using std::string;
    // Issue 15's 12-byte file: a v2.0 header length of 0xffffffff (xtensor 0.24 took 8.2 GB).
    CHECK_THAT(error_of(string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12)),
               Contains("t.npy") && Contains("4294967295") && Contains("65536"));
    // A v1.0 length of 65535 in a 10-byte file.
    CHECK_THAT(error_of(string("\x93NUMPY\x01\x00\xff\xff", 10)),
               Contains("truncated") && Contains("65535"));
    // An empty header (xtensor reached std::string::back() on it), a cut length field, a cut
    // magic string, another format.
    CHECK_THAT(error_of(string("\x93NUMPY\x01\x00\x00\x00", 10)), Contains("expected '{'"));
    CHECK_THAT(error_of(string("\x93NUMPY\x02\x00\x10", 9)), Contains("truncated"));
    CHECK_THAT(error_of(string("\x93NUM", 4)), Contains("truncated"));
    CHECK_THAT(error_of("PK\x03\x04 not numpy at all"), Contains("not a .npy file"));
    CHECK_THAT(error_of(string("\x93NUMPY\x04\x00\x10\x00", 10)), Contains("version 4.0"));
    // A shape whose size overflows, and one that is merely larger than the file.
    CHECK_THAT(error_of(numpy_file("<f4", "(1099511627776, 1099511627776)", "")),
               Contains("more bytes than memory"));
    CHECK_THAT(error_of(numpy_file("<f4", "(100000000000,)", "")),
               Contains("truncated") && Contains("400000000000"));
    CHECK_THAT(error_of(numpy_file("<f4", "(123456789012345678901,)", "")), Contains("64 bits"));
}

TEST_CASE("npy: the header is NumPy's dict and nothing else", "[nn][npy][errors]") {
    const std::string d = float_bytes({1, 2, 3, 4});
    const auto with_header = [&](std::string header) {
        header += '\n';
        std::string out = std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) +
                          char(header.size() >> 8);
        return out + header + d;
    };
    CHECK(read_floats(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)}"),
                      {2, 2})[3] == 4.f);
    CHECK_THAT(error_of(with_header("{'descr': '<f4', 'shape': (2, 2)}")),
               Contains("lacks the key 'fortran_order'"));
    CHECK_THAT(
        error_of(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}")),
        Contains("unknown key 'x'"));
    CHECK_THAT(error_of(with_header(
                   "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)}")),
               Contains("appears twice"));
    CHECK_THAT(error_of(with_header("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 2)}")),
               Contains("True or False"));
    CHECK_THAT(error_of(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 2)}")),
               Contains("non-negative"));
    CHECK_THAT(error_of(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4)}"), {4}),
               Contains("(n,)"));
    CHECK_THAT(error_of(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)} x")),
               Contains("after the header"));
    CHECK_THAT(error_of(with_header("{'descr': [('a', '<f4')], 'fortran_order': False, "
                                    "'shape': (2, 2)}")),
               Contains("structured"));
    CHECK_THAT(error_of(with_header("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 2)}")),
               Contains("malformed"));
}

TEST_CASE("npy: dtype, order, shape and size must match the destination", "[nn][npy][errors]") {
    const std::string d = float_bytes({1, 2, 3, 4});
    CHECK_THAT(error_of(numpy_file(">f4", "(2, 2)", d)), Contains("big-endian"));
    CHECK_THAT(error_of(numpy_file("<f2", "(2, 4)", d)), Contains("'<f2' is not supported"));
    CHECK_THAT(error_of(numpy_file("<i4", "(2, 2)", d)), Contains("<i4") && Contains("<f4"));
    CHECK_THAT(error_of(numpy_file("<f4", "(2, 2)", d, 1, "True")), Contains("Fortran"));
    CHECK_THAT(error_of(numpy_file("<f4", "(4, 1)", d)), Contains("(4, 1)") && Contains("(2, 2)"));
    CHECK_THAT(error_of(numpy_file("<f4", "(2, 2)", d + "x")), Contains("1 bytes after the data"));
    CHECK_THAT(error_of(numpy_file("<f4", "(2, 2)", d.substr(0, 15))),
               Contains("truncated") && Contains("15"));
}

TEST_CASE("npy: a file that changed one byte is refused, not loaded", "[nn][npy][errors]") {
    temp_dir dir("npy_flip");
    xt::xtensor<float, 2> W = xt::ones<float>({20, 30});
    nn::save_npy(dir.path / "W.npy", W);
    const auto good = fusegrad_test::read_bytes((dir.path / "W.npy").string());
    std::size_t refused = 0, loaded = 0;
    // Every byte of the header (the data bytes are just other values), each flipped three ways.
    for (std::size_t i = 0; i < 128; ++i) {
        for (std::uint8_t x : {std::uint8_t(0x01), std::uint8_t(0x80), std::uint8_t(0xff)}) {
            auto bytes = good;
            bytes[i] ^= x;
            fusegrad_test::write_plain((dir.path / "W.npy").string(), bytes);
            xt::xtensor<float, 2> into = xt::zeros<float>({20, 30});
            try {
                nn::load_npy(dir.path / "W.npy", into);
                ++loaded;  // a change in the padding, or a space for a space
                CHECK(bool(into == W));
            } catch (const nn::data_error&) {
                ++refused;
                CHECK(bool(into == xt::zeros<float>({20, 30})));
            } catch (const fusegrad::shape_error&) {
                ++refused;
                CHECK(bool(into == xt::zeros<float>({20, 30})));
            }
        }
    }
    CHECK(refused > 300);
    CHECK(refused + loaded == 384);
}
