#pragma once
/// @file
/// IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or plain, read through zlib.
/// Defined in src/nn/idx.cpp.
///
/// An IDX file is a 4-byte magic number 0x00 0x00 <type> <rank>, `rank` big-endian 32-bit
/// dimensions, then the elements in row-major order. Only unsigned bytes (type 0x08), the type
/// of every MNIST-style image and label file, are read.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "fusegrad/nn/data_error.hpp"

namespace fusegrad::nn {

/// The contents of an IDX file of unsigned bytes.
struct idx_array {
    std::vector<std::size_t> dims;   ///< the dimensions, outermost first
    std::vector<std::uint8_t> data;  ///< the elements, row-major; size = product of dims
};

/// Reads an IDX file of unsigned bytes, .gz or plain (zlib reads both). Throws data_error,
/// naming the file, when it is missing, is a corrupt or truncated gzip stream, has bytes after
/// its gzip stream (or is several gzip members joined), has a wrong magic number or an
/// unsupported element type, or holds fewer or more bytes than its header says.
idx_array read_idx(const std::string& path);

/// Images with one class label each: `images` is count × (rows · cols), pixels scaled to [0, 1].
struct labelled_images {
    xt::xtensor<float, 2> images;
    xt::xtensor<std::int32_t, 1> labels;
    std::size_t rows = 0;  ///< image height
    std::size_t cols = 0;  ///< image width
    /// How many images (and labels) there are.
    std::size_t size() const noexcept { return labels.size(); }
};

/// Reads an image file (rank 3: count × rows × cols) and a label file (rank 1: count) into
/// labelled_images. Throws data_error when either is unreadable, when the ranks are wrong, or
/// when the two counts differ.
labelled_images load_idx_images(const std::string& images_path, const std::string& labels_path);

/// The directory Debian's `dataset-fashion-mnist` package installs the IDX files into.
inline const std::string default_fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";

/// The four Fashion-MNIST files of `dir`, as training and test sets.
struct fashion_mnist {
    labelled_images train;  ///< 60000 images
    labelled_images test;   ///< 10000 images
};

/// Loads train-{images,labels} and t10k-{images,labels} (`-idx3-ubyte.gz`, or the same names
/// without .gz) from `dir`. A missing file is a data_error naming it and how to get it.
fashion_mnist load_fashion_mnist(const std::string& dir = default_fashion_mnist_dir);

/// The ten Fashion-MNIST class names, in label order.
inline constexpr const char* fashion_mnist_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

}  // namespace fusegrad::nn
