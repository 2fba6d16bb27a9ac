// libFuzzer target: the IDX reader (nn/idx.hpp), plain and gzip, on arbitrary bytes. The reader
// takes a path, so each input is written to one temporary file first. Built as fuzz_npy.cpp is.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fusegrad/nn/idx.hpp>

namespace nn = fusegrad::nn;

namespace {
const std::string& scratch_path() {
    static const std::string path = [] {
        const char* dir = std::getenv("TMPDIR");
        std::string p = std::string(dir && *dir ? dir : "/tmp") + "/fusegrad_fuzz_idx_XXXXXX";
        const int fd = ::mkstemp(p.data());
        if (fd < 0) std::abort();
        ::close(fd);
        return p;
    }();
    return path;
}
struct cleanup {
    ~cleanup() { std::remove(scratch_path().c_str()); }
} remove_at_exit;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = scratch_path();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    try {
        const nn::idx_array a = nn::read_idx(path);
        std::size_t total = 1;
        for (std::size_t d : a.dims) total *= d;
        if (a.dims.empty() || a.dims.size() > 4 || a.data.size() != total) std::abort();
    } catch (const nn::data_error&) {
    }
    return 0;
}
