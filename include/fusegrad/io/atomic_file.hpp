#pragma once
/// @file
/// Writing a file so that nobody ever sees half of it: every file fusegrad writes (graphs,
/// plots, images) goes through here. Checkpoints (nn/checkpoint.hpp) follow the same scheme
/// through xtensor's npy writer.

#include <cstdio>
#include <string>
#include <string_view>

namespace fusegrad::io {

/// Writes `bytes` to `path + ".tmp"`, then renames it to `path`: a reader never sees a partial
/// file, and a failure leaves the old `path` as it was. Returns false (and leaves no temporary
/// behind) on any failure.
inline bool write_file_atomically(const std::string& path, std::string_view bytes) noexcept {
    try {
        if (path.empty()) return false;
        const std::string tmp = path + ".tmp";
        std::FILE* f = std::fopen(tmp.c_str(), "wb");
        if (!f) return false;
        const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
        const bool closed = std::fclose(f) == 0;
        if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
            std::remove(tmp.c_str());
            return false;
        }
        return true;
    } catch (...) {  // std::bad_alloc building the temporary name
        return false;
    }
}

}  // namespace fusegrad::io
