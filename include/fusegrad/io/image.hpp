#pragma once
/// @file
/// PNG images: raw pixels, and a grid of small single-channel images such as learned weight
/// templates. The PNG encoder is stb_image_write, compiled into the library (src/nn/png.cpp).

#include <cstddef>
#include <cstdint>
#include <string>

namespace fusegrad::io {

/// Writes `width` × `height` pixels of `channels` (1 gray, 3 RGB, 4 RGBA) 8-bit samples, row
/// by row, to `path` as PNG, atomically (a temporary file, then a rename). Returns false when
/// the file cannot be written or a size is 0.
bool write_png(const std::string& path, std::size_t width, std::size_t height, std::size_t channels,
               const std::uint8_t* pixels);

/// How a grid maps values to colours.
enum class colour_map {
    gray,      ///< per image: min → black, max → white
    diverging  ///< per image: −max|v| → blue, 0 → white, +max|v| → red (for weights)
};

/// Writes `count` images of `height` × `width` values (contiguous, image after image) as one
/// RGB PNG grid, `grid_cols` images per row, each pixel drawn as `zoom` × `zoom`, with a
/// 2-pixel gap between images. Each image is scaled on its own. Returns false on failure.
bool write_image_grid_png(const std::string& path, const float* images, std::size_t count,
                          std::size_t height, std::size_t width, std::size_t grid_cols,
                          std::size_t zoom = 4, colour_map map = colour_map::diverging);

}  // namespace fusegrad::io
