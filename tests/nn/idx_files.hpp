#pragma once
// Small IDX files written by the tests: plain, gzip-compressed, and broken on purpose.

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fusegrad_test {

// A fresh directory under the system temp dir, removed with its contents at scope exit.
struct temp_dir {
    std::filesystem::path path;
    explicit temp_dir(const std::string& tag) {
        path = std::filesystem::temp_directory_path() /
               ("fusegrad_nn_" + tag + "_" + std::to_string(::getpid()));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// The bytes of an IDX file of unsigned bytes: magic 0x00 0x00 0x08 rank, big-endian dims, data.
inline std::vector<std::uint8_t> idx_bytes(const std::vector<std::uint32_t>& dims,
                                           const std::vector<std::uint8_t>& data,
                                           std::uint8_t type = 0x08) {
    std::vector<std::uint8_t> out = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
    for (auto d : dims)
        for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(d >> s));
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

inline void write_plain(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline void write_gz(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
}

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// n images of rows × cols with pixel (k, i) = (7k + i) mod 256, and labels k mod 10.
inline std::vector<std::uint8_t> image_data(std::uint32_t n, std::uint32_t rows,
                                            std::uint32_t cols) {
    std::vector<std::uint8_t> d(std::size_t(n) * rows * cols);
    for (std::size_t k = 0; k < n; ++k)
        for (std::size_t i = 0; i < std::size_t(rows) * cols; ++i)
            d[k * rows * cols + i] = static_cast<std::uint8_t>((7 * k + i) % 256);
    return d;
}
inline std::vector<std::uint8_t> label_data(std::uint32_t n) {
    std::vector<std::uint8_t> d(n);
    for (std::size_t k = 0; k < n; ++k) d[k] = static_cast<std::uint8_t>(k % 10);
    return d;
}

}  // namespace fusegrad_test
