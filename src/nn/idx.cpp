/// @file
/// The IDX reader: zlib's gzread reads gzip and plain files alike, so one path serves both.

#include "fusegrad/nn/idx.hpp"

#include <zlib.h>

#include <sys/stat.h>
#include <algorithm>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>

namespace fusegrad::nn {

namespace {

struct gz_closer {
    void operator()(gzFile f) const noexcept { gzclose(f); }
};
using gz_handle = std::unique_ptr<std::remove_pointer_t<gzFile>, gz_closer>;

bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string gz_message(gzFile f) {
    int code = 0;
    const char* msg = gzerror(f, &code);
    return msg && *msg ? std::string(msg) : std::string("read error");
}

// Reads up to `n` bytes; returns how many were read. A gzip error (bad header, bad deflate data,
// bad CRC) throws; a short count means the stream ended.
std::size_t read_some(gzFile f, const std::string& path, std::uint8_t* out, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
        const unsigned chunk =
            static_cast<unsigned>(std::min<std::size_t>(n - done, std::size_t(1) << 24));
        const int got = gzread(f, out + done, chunk);
        if (got < 0) throw data_error(path + ": corrupt gzip data (" + gz_message(f) + ")");
        if (got == 0) {
            int code = Z_OK;
            gzerror(f, &code);
            if (code != Z_OK && code != Z_BUF_ERROR)
                throw data_error(path + ": corrupt gzip data (" + gz_message(f) + ")");
            break;
        }
        done += static_cast<std::size_t>(got);
    }
    return done;
}

std::string hex32(std::uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

// zlib's gzread stops at the end of the gzip stream and ignores any bytes after it. A gzip
// file ends with the CRC-32 and the length (mod 2^32) of everything it decompresses to, so a
// file whose last 8 bytes are not those of the bytes read has bytes after its stream (or is
// several gzip members joined, whose last trailer covers only the last one): refused, naming
// the file.
void check_gzip_end(const std::string& path, uLong crc, std::size_t length) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> raw(std::fopen(path.c_str(), "rb"),
                                                        &std::fclose);
    unsigned char t[8];
    if (!raw || std::fseek(raw.get(), -8, SEEK_END) != 0 || std::fread(t, 1, 8, raw.get()) != 8)
        throw data_error(path + ": cannot read the gzip trailer");
    auto le32 = [&](int at) {
        return std::uint32_t(t[at]) | (std::uint32_t(t[at + 1]) << 8) |
               (std::uint32_t(t[at + 2]) << 16) | (std::uint32_t(t[at + 3]) << 24);
    };
    if (le32(0) != std::uint32_t(crc) || le32(4) != std::uint32_t(length))
        throw data_error(path +
                         ": bytes after the end of the gzip stream (its last 8 bytes are not "
                         "the stream's CRC-32 and length; or several gzip members joined, "
                         "which this reader does not take)");
}

}  // namespace

idx_array read_idx(const std::string& path) {
    if (!file_exists(path)) throw data_error(path + ": no such file");
    gz_handle f(gzopen(path.c_str(), "rb"));
    if (!f) throw data_error(path + ": cannot be opened");

    std::uint8_t head[4];
    if (read_some(f.get(), path, head, 4) != 4)
        throw data_error(path + ": truncated: shorter than the 4-byte IDX magic number");
    const std::uint32_t magic = (std::uint32_t(head[0]) << 24) | (std::uint32_t(head[1]) << 16) |
                                (std::uint32_t(head[2]) << 8) | std::uint32_t(head[3]);
    if (head[0] != 0 || head[1] != 0 || head[3] == 0 || head[3] > 4)
        throw data_error(path + ": wrong IDX magic number " + hex32(magic) +
                         " (expected 0x000008NN with NN the rank, 1 to 4: is this an IDX file?)");
    if (head[2] != 0x08)
        throw data_error(path + ": IDX element type " + hex32(head[2]) +
                         " is not supported (only unsigned bytes, 0x08)");

    idx_array out;
    const std::size_t rank = head[3];
    uLong crc = crc32(crc32(0L, Z_NULL, 0), head, 4);  // of every byte read, for check_gzip_end
    std::size_t total = 1;
    for (std::size_t d = 0; d < rank; ++d) {
        std::uint8_t b[4];
        if (read_some(f.get(), path, b, 4) != 4)
            throw data_error(path + ": truncated in the header (dimension " + std::to_string(d) +
                             " of " + std::to_string(rank) + ")");
        crc = crc32(crc, b, 4);
        const std::size_t dim = (std::size_t(b[0]) << 24) | (std::size_t(b[1]) << 16) |
                                (std::size_t(b[2]) << 8) | std::size_t(b[3]);
        if (dim != 0 && total > std::numeric_limits<std::size_t>::max() / dim)
            throw data_error(path + ": the header's dimensions overflow");
        total *= dim;
        out.dims.push_back(dim);
    }

    // Grow as the data arrives rather than trusting the header with one big allocation: a
    // corrupt header then gives "truncated", not std::bad_alloc, and the buffer is never more
    // than twice the data actually read (plus 64 KiB), whatever the header claims.
    std::size_t have = 0;
    while (have < total) {
        const std::size_t want =
            std::min({total - have, std::max<std::size_t>(have, 1 << 16), std::size_t(1) << 26});
        out.data.resize(have + want);
        const std::size_t got = read_some(f.get(), path, out.data.data() + have, want);
        have += got;
        if (got < want)
            throw data_error(path + ": truncated: the header promises " + std::to_string(total) +
                             " bytes of data but the file holds " + std::to_string(have));
    }
    // Reading on to the end makes zlib check the gzip trailer (CRC and length).
    std::uint8_t extra[64];
    const std::size_t more = read_some(f.get(), path, extra, sizeof extra);
    if (more != 0)
        throw data_error(path + ": more data than the header's " + std::to_string(total) +
                         " bytes (wrong dimensions in the header?)");
    int code = Z_OK;
    gzerror(f.get(), &code);
    if (code != Z_OK)
        throw data_error(path + ": corrupt or truncated gzip stream (" + gz_message(f.get()) + ")");
    if (!gzdirect(f.get())) {
        for (std::size_t at = 0; at < total; at += std::size_t(1) << 30)  // crc32 takes a uInt
            crc =
                crc32(crc, out.data.data() + at, uInt(std::min(total - at, std::size_t(1) << 30)));
        check_gzip_end(path, crc, 4 + 4 * rank + total);
    }
    return out;
}

labelled_images load_idx_images(const std::string& images_path, const std::string& labels_path) {
    const idx_array im = read_idx(images_path);
    const idx_array lb = read_idx(labels_path);
    if (im.dims.size() != 3)
        throw data_error(images_path +
                         ": an image file has rank 3 (count x rows x cols), this "
                         "one has rank " +
                         std::to_string(im.dims.size()));
    if (lb.dims.size() != 1)
        throw data_error(labels_path + ": a label file has rank 1, this one has rank " +
                         std::to_string(lb.dims.size()));
    if (im.dims[0] != lb.dims[0])
        throw data_error(images_path + " holds " + std::to_string(im.dims[0]) + " images but " +
                         labels_path + " holds " + std::to_string(lb.dims[0]) + " labels");

    labelled_images out;
    const std::size_t n = im.dims[0];
    out.rows = im.dims[1];
    out.cols = im.dims[2];
    const std::size_t pixels = out.rows * out.cols;
    out.images = xt::xtensor<float, 2>::from_shape({n, pixels});
    out.labels = xt::xtensor<std::int32_t, 1>::from_shape({n});
    float* x = out.images.data();
    for (std::size_t i = 0; i < n * pixels; ++i) x[i] = static_cast<float>(im.data[i]) / 255.0f;
    for (std::size_t i = 0; i < n; ++i) out.labels(i) = static_cast<std::int32_t>(lb.data[i]);
    return out;
}

namespace {
std::string find_fashion_file(const std::string& dir, const std::string& stem) {
    const std::string base = dir.empty() || dir.back() == '/' ? dir + stem : dir + "/" + stem;
    if (file_exists(base + ".gz")) return base + ".gz";
    if (file_exists(base)) return base;
    throw data_error("Fashion-MNIST: " + base +
                     ".gz not found (nor without .gz). Install Debian's dataset with "
                     "`sudo apt-get install dataset-fashion-mnist` (it puts the files in " +
                     default_fashion_mnist_dir +
                     "), or put the four IDX files of "
                     "https://github.com/zalandoresearch/fashion-mnist in one directory and "
                     "pass that directory");
}
}  // namespace

fashion_mnist load_fashion_mnist(const std::string& dir) {
    // Looked up in a fixed order, so that the error names the first missing file.
    const std::string train_images = find_fashion_file(dir, "train-images-idx3-ubyte");
    const std::string train_labels = find_fashion_file(dir, "train-labels-idx1-ubyte");
    const std::string test_images = find_fashion_file(dir, "t10k-images-idx3-ubyte");
    const std::string test_labels = find_fashion_file(dir, "t10k-labels-idx1-ubyte");
    fashion_mnist out;
    out.train = load_idx_images(train_images, train_labels);
    out.test = load_idx_images(test_images, test_labels);
    return out;
}

}  // namespace fusegrad::nn
