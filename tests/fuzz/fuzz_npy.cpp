// libFuzzer target: the .npy reader (nn/npy.hpp) on arbitrary bytes. Built by
// tests/fuzz/run-fuzzers.sh (clang, -fsanitize=fuzzer,address,undefined) and, as a replay of
// the corpus, by ctest (tests/fuzz/replay_main.cpp). Any exception other than the reader's own
// errors, a crash, a sanitizer report or a broken invariant is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <fusegrad/core/errors.hpp>
#include <fusegrad/nn/npy.hpp>

namespace nn = fusegrad::nn;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view file(reinterpret_cast<const char*>(data), size);
    // What the file says about itself, with nothing to compare against.
    try {
        const nn::npy_header h = nn::parse_npy_header(file, size, "fuzz.npy");
        if (h.data_offset + h.data_bytes != size || h.item_bytes == 0) std::abort();
        // The file's own shape as the destination, when it is small enough to hold.
        if (h.data_bytes <= (std::size_t(1) << 20)) {
            std::vector<char> out(h.data_bytes);
            try {
                nn::read_npy_bytes(file, "fuzz.npy", h.descr, h.shape, out.data(), out.size());
            } catch (const nn::data_error&) {  // Fortran order
            }
        }
    } catch (const nn::data_error&) {
    }
    // A fixed destination, as a checkpoint load has: float (3, 4).
    const std::size_t shape[] = {3, 4};
    float dst[12] = {};
    try {
        nn::read_npy_bytes(file, "fuzz.npy", nn::npy_descr<float>(), shape, dst, sizeof dst);
    } catch (const nn::data_error&) {
    } catch (const fusegrad::shape_error&) {
    }
    return 0;
}
