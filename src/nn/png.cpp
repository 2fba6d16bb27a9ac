/// @file
/// PNG output through stb_image_write (Debian's libstb-dev), compiled once into the library so
/// that users of the headers need neither stb nor its implementation macro.

#include "fusegrad/io/image.hpp"

#include "fusegrad/io/atomic_file.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace fusegrad::io {

namespace {
void append_bytes(void* context, void* data, int size) {
    auto* out = static_cast<std::string*>(context);
    out->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}
}  // namespace

bool write_png(const std::string& path, std::size_t width, std::size_t height, std::size_t channels,
               const std::uint8_t* pixels) {
    if (path.empty() || width == 0 || height == 0 || channels == 0 || channels > 4 ||
        width > 1u << 20 || height > 1u << 20)
        return false;
    // stb computes the filtered image size (width·channels + 1)·height in int: keep it far from
    // overflowing (a wrapped size would be a heap overflow inside stb).
    if ((width * channels + 1) * height > static_cast<std::size_t>(INT_MAX / 2)) return false;
    std::string bytes;
    const int stride = static_cast<int>(width * channels);
    if (!stbi_write_png_to_func(&append_bytes, &bytes, static_cast<int>(width),
                                static_cast<int>(height), static_cast<int>(channels), pixels,
                                stride))
        return false;
    return write_file_atomically(path, bytes);
}

bool write_image_grid_png(const std::string& path, const float* images, std::size_t count,
                          std::size_t height, std::size_t width, std::size_t grid_cols,
                          std::size_t zoom, colour_map map) {
    if (count == 0 || height == 0 || width == 0 || grid_cols == 0 || zoom == 0) return false;
    constexpr std::size_t gap = 2;
    const std::size_t cols = std::min(grid_cols, count);
    const std::size_t rows = (count + cols - 1) / cols;
    const std::size_t cell_w = width * zoom, cell_h = height * zoom;
    const std::size_t W = cols * cell_w + (cols + 1) * gap;
    const std::size_t H = rows * cell_h + (rows + 1) * gap;
    std::vector<std::uint8_t> px(W * H * 3, 255);
    for (std::size_t k = 0; k < count; ++k) {
        const float* img = images + k * height * width;
        float lo = img[0], hi = img[0], amax = 0.f;
        for (std::size_t i = 0; i < height * width; ++i) {
            lo = std::min(lo, img[i]);
            hi = std::max(hi, img[i]);
            amax = std::max(amax, std::abs(img[i]));
        }
        const std::size_t x0 = gap + (k % cols) * (cell_w + gap);
        const std::size_t y0 = gap + (k / cols) * (cell_h + gap);
        for (std::size_t y = 0; y < cell_h; ++y) {
            for (std::size_t x = 0; x < cell_w; ++x) {
                const float v = img[(y / zoom) * width + x / zoom];
                std::uint8_t rgb[3];
                if (map == colour_map::gray) {
                    const float t = hi > lo ? (v - lo) / (hi - lo) : 0.f;
                    rgb[0] = rgb[1] = rgb[2] = static_cast<std::uint8_t>(std::lround(255.f * t));
                } else {
                    const float t = amax > 0 ? std::clamp(v / amax, -1.f, 1.f) : 0.f;
                    const auto fade =
                        static_cast<std::uint8_t>(std::lround(255.f * (1.f - std::abs(t))));
                    rgb[0] = t >= 0 ? 255 : fade;  // positive: white → red
                    rgb[1] = fade;
                    rgb[2] = t <= 0 ? 255 : fade;  // negative: white → blue
                }
                std::uint8_t* p = &px[((y0 + y) * W + x0 + x) * 3];
                p[0] = rgb[0];
                p[1] = rgb[1];
                p[2] = rgb[2];
            }
        }
    }
    return write_png(path, W, H, 3, px.data());
}

}  // namespace fusegrad::io
