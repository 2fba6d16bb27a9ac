/// @file
/// The .npy reader and writer (nn/npy.hpp). The format (numpy.lib.format): the magic string
/// "\x93NUMPY", a major and a minor version byte, the header length (2 bytes little-endian in
/// version 1.0, 4 bytes in 2.0 and 3.0), then the header, a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and ended
/// by '\n', then the data.

#include "fusegrad/nn/npy.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>

#include "fusegrad/core/errors.hpp"

namespace fusegrad::nn {

namespace {

constexpr std::string_view magic = "\x93NUMPY";

// The element size of a dtype this reader knows, or 0.
std::size_t item_bytes_of(std::string_view d) {
    static constexpr std::string_view known[] = {"<f4", "<f8", "|i1", "<i2", "<i4",
                                                 "<i8", "|u1", "<u2", "<u4", "<u8"};
    for (std::string_view k : known)
        if (d == k) return static_cast<std::size_t>(k[2] - '0');
    return 0;
}

std::string literal_of(std::string_view s) {
    std::string out = "'";
    for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out + (s.size() > 64 ? "...'" : "'");
}

// A strict parser of the header dict: the subset of Python literal syntax NumPy writes.
class header_parser {
  public:
    header_parser(std::string_view text, std::string_view name) : s_(text), name_(name) {}

    void parse(npy_header& h) {
        skip_space();
        expect('{');
        bool have_descr = false, have_order = false, have_shape = false;
        for (;;) {
            skip_space();
            if (peek() == '}') break;
            const std::string key = string_literal("a key");
            skip_space();
            expect(':');
            skip_space();
            auto once = [&](bool& seen) {
                if (seen) fail("the key " + literal_of(key) + " appears twice");
                seen = true;
            };
            if (key == "descr") {
                once(have_descr);
                if (peek() == '[') fail("structured dtypes (a list as 'descr') are not supported");
                h.descr = string_literal("the dtype");
            } else if (key == "fortran_order") {
                once(have_order);
                h.fortran_order = boolean();
            } else if (key == "shape") {
                once(have_shape);
                h.shape = shape();
            } else {
                fail("unknown key " + literal_of(key) +
                     " (a .npy header has 'descr', 'fortran_order' and 'shape')");
            }
            skip_space();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() != '}') fail("expected ',' or '}' after the value of " + literal_of(key));
        }
        ++pos_;  // '}'
        skip_space();
        if (pos_ != s_.size()) fail("unexpected text after the header's closing '}'");
        if (!have_descr || !have_order || !have_shape)
            fail(std::string("the header lacks the key ") + (!have_descr   ? "'descr'"
                                                             : !have_order ? "'fortran_order'"
                                                                           : "'shape'"));
    }

  private:
    [[noreturn]] void fail(const std::string& what) const {
        throw data_error(std::string(name_) + ": malformed .npy header: " + what + " (at byte " +
                         std::to_string(pos_) + " of the header)");
    }
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    void skip_space() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t'))
            ++pos_;
    }
    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++pos_;
    }
    std::string string_literal(const char* what) {
        const char q = peek();
        if (q != '\'' && q != '"') fail(std::string("expected a quoted string as ") + what);
        const std::size_t start = ++pos_;
        while (pos_ < s_.size() && s_[pos_] != q) {
            if (s_[pos_] == '\\' || s_[pos_] == '\n')
                fail("escapes and line breaks in strings are not supported");
            ++pos_;
        }
        if (pos_ >= s_.size()) fail("a string is not closed");
        return std::string(s_.substr(start, pos_++ - start));
    }
    bool boolean() {
        if (s_.substr(pos_, 4) == "True") return pos_ += 4, true;
        if (s_.substr(pos_, 5) == "False") return pos_ += 5, false;
        fail("'fortran_order' must be True or False");
    }
    std::size_t integer() {
        if (peek() < '0' || peek() > '9') fail("a shape holds non-negative integers");
        std::size_t v = 0;
        while (peek() >= '0' && peek() <= '9') {
            const auto digit = static_cast<std::size_t>(peek() - '0');
            if (v > (std::numeric_limits<std::size_t>::max() - digit) / 10)
                fail("an extent of the shape does not fit in 64 bits");
            v = v * 10 + digit;
            ++pos_;
        }
        return v;
    }
    std::vector<std::size_t> shape() {
        expect('(');
        std::vector<std::size_t> out;
        skip_space();
        if (peek() == ')') return ++pos_, out;  // ()
        bool comma = false;
        for (;;) {
            if (out.size() == 64) fail("a shape of more than 64 dimensions");
            out.push_back(integer());
            skip_space();
            comma = peek() == ',';
            if (comma) {
                ++pos_;
                skip_space();
            }
            if (peek() == ')') break;
            if (!comma) fail("expected ',' or ')' in the shape");
        }
        // (3) is the integer 3 in Python, not a tuple; NumPy writes (3,).
        if (out.size() == 1 && !comma) fail("a one-dimensional shape is written (n,), not (n)");
        ++pos_;  // ')'
        return out;
    }

    std::string_view s_;
    std::string_view name_;
    std::size_t pos_ = 0;
};

std::uint32_t little_endian(std::string_view b, std::size_t at, std::size_t bytes) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i)
        v |= std::uint32_t(static_cast<unsigned char>(b[at + i])) << (8 * i);
    return v;
}

}  // namespace

std::string npy_shape_string(std::span<const std::size_t> shape) {
    std::string out = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
        out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + (shape.size() == 1 ? ",)" : ")");
}

npy_header parse_npy_header(std::string_view prefix, std::uint64_t file_size,
                            std::string_view name) {
    const std::string who(name);
    const std::size_t have = prefix.size();
    if (have < magic.size() + 2 || prefix.substr(0, magic.size()) != magic) {
        if (have >= magic.size() + 2 || prefix != magic.substr(0, have))
            throw data_error(who + ": not a .npy file (it does not start with \"\\x93NUMPY\")");
        throw data_error(who + ": truncated: " + std::to_string(have) +
                         " bytes, shorter than the .npy magic string and version");
    }
    const auto major = static_cast<unsigned char>(prefix[6]);
    const auto minor = static_cast<unsigned char>(prefix[7]);
    if (minor != 0 || major < 1 || major > 3)
        throw data_error(who + ": .npy format version " + std::to_string(major) + "." +
                         std::to_string(minor) + " is not supported (1.0, 2.0 and 3.0 are)");
    const std::size_t len_bytes = major == 1 ? 2 : 4;
    if (have < 8 + len_bytes)
        throw data_error(who + ": truncated before the end of the header length");
    const std::size_t header_len = little_endian(prefix, 8, len_bytes);
    const std::size_t header_at = 8 + len_bytes;
    if (header_len > npy_max_header_bytes)
        throw data_error(who + ": the .npy header claims " + std::to_string(header_len) +
                         " bytes, more than the " + std::to_string(npy_max_header_bytes) +
                         " this reader accepts");
    if (header_at + header_len > file_size)
        throw data_error(who + ": truncated: the .npy header claims " + std::to_string(header_len) +
                         " bytes but the file has " +
                         std::to_string(file_size - std::min<std::uint64_t>(file_size, header_at)) +
                         " after the length field");
    if (header_at + header_len > have) throw data_error(who + ": truncated in the .npy header");

    npy_header h;
    header_parser(prefix.substr(header_at, header_len), name).parse(h);
    h.data_offset = header_at + header_len;
    h.item_bytes = item_bytes_of(h.descr);
    if (h.item_bytes == 0) {
        const bool big = !h.descr.empty() && h.descr[0] == '>';
        throw data_error(who + ": the .npy dtype " + literal_of(h.descr) + " is not supported" +
                         (big ? " (big-endian data)" : "") +
                         " (little-endian float32/64 and 8- to 64-bit integers are)");
    }
    std::size_t bytes = h.item_bytes;
    for (std::size_t d : h.shape) {
        if (d != 0 && bytes > std::numeric_limits<std::size_t>::max() / d)
            throw data_error(who + ": the .npy shape " + npy_shape_string(h.shape) +
                             " holds more bytes than memory can address");
        bytes *= d;
    }
    h.data_bytes = bytes;
    const std::uint64_t data_in_file = file_size - h.data_offset;
    if (data_in_file < h.data_bytes)
        throw data_error(who + ": truncated: the header's shape " + npy_shape_string(h.shape) +
                         " needs " + std::to_string(h.data_bytes) + " data bytes, the file has " +
                         std::to_string(data_in_file));
    if (data_in_file > h.data_bytes)
        throw data_error(who + ": " + std::to_string(data_in_file - h.data_bytes) +
                         " bytes after the data the header describes (shape " +
                         npy_shape_string(h.shape) + ", " + h.descr + ")");
    return h;
}

void check_npy_target(const npy_header& h, std::string_view name, std::string_view descr,
                      std::span<const std::size_t> shape) {
    const std::string who(name);
    if (h.descr != descr)
        throw data_error(who + ": holds " + h.descr + " elements but the destination holds " +
                         std::string(descr) + " (not a readable .npy file of this element type)");
    if (!std::equal(h.shape.begin(), h.shape.end(), shape.begin(), shape.end()))
        throw shape_error("checkpoint: " + who + " holds an array of shape " +
                          npy_shape_string(h.shape) + " but the parameter has shape " +
                          npy_shape_string(shape));
    std::size_t long_dims = 0;
    for (std::size_t d : h.shape) long_dims += d > 1;
    if (h.fortran_order && long_dims > 1)
        throw data_error(who +
                         ": Fortran-order (column-major) .npy data is not supported "
                         "(save it with numpy.ascontiguousarray)");
}

void read_npy_bytes(std::string_view file, std::string_view name, std::string_view descr,
                    std::span<const std::size_t> shape, void* out, std::size_t out_bytes) {
    const npy_header h = parse_npy_header(file, file.size(), name);
    check_npy_target(h, name, descr, shape);
    if (h.data_bytes != out_bytes)
        throw data_error(std::string(name) + ": the destination has " + std::to_string(out_bytes) +
                         " bytes, the file's data " + std::to_string(h.data_bytes));
    if (out_bytes) std::memcpy(out, file.data() + h.data_offset, out_bytes);
}

std::string read_npy_file(const std::filesystem::path& path, std::string_view descr,
                          std::span<const std::size_t> shape, npy_header& h) {
    const std::string who = path.string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw data_error(who + (std::filesystem::exists(path, ec) ? ": not a regular file"
                                                                  : ": no such checkpoint file"));
    std::ifstream f(path, std::ios::binary);
    if (!f) throw data_error(who + ": cannot be opened");
    f.seekg(0, std::ios::end);
    const auto end = f.tellg();
    if (end < 0) throw data_error(who + ": cannot be read");
    const auto file_size = static_cast<std::uint64_t>(end);
    f.seekg(0);
    // Only the header's bytes, bounded by the cap and by the file, before anything is trusted.
    const std::size_t cap = 12 + npy_max_header_bytes;
    std::string bytes(static_cast<std::size_t>(std::min<std::uint64_t>(file_size, cap)), '\0');
    if (!f.read(bytes.data(), static_cast<std::streamsize>(bytes.size())))
        throw data_error(who + ": cannot be read");
    h = parse_npy_header(bytes, file_size, who);
    check_npy_target(h, who, descr, shape);
    // file_size == data_offset + data_bytes now (parse_npy_header), and data_bytes is the
    // destination's size (check_npy_target): the rest is bounded by what the caller holds.
    const std::size_t had = bytes.size();
    bytes.resize(static_cast<std::size_t>(file_size));
    if (file_size > had &&
        !f.read(bytes.data() + had, static_cast<std::streamsize>(file_size - had)))
        throw data_error(who + ": truncated while reading the data (did the file change?)");
    return bytes;
}

void read_npy(const std::filesystem::path& path, std::string_view descr,
              std::span<const std::size_t> shape, void* out, std::size_t out_bytes) {
    npy_header h;
    const std::string bytes = read_npy_file(path, descr, shape, h);
    if (h.data_bytes != out_bytes)
        throw data_error(path.string() + ": the destination has " + std::to_string(out_bytes) +
                         " bytes, the file's data " + std::to_string(h.data_bytes));
    // `out` changes only after the whole file was read and checked.
    if (out_bytes) std::memcpy(out, bytes.data() + h.data_offset, out_bytes);
}

std::string npy_file_bytes(std::string_view descr, std::span<const std::size_t> shape,
                           const void* data, std::size_t bytes) {
    const std::size_t item = item_bytes_of(descr);
    if (item == 0) throw data_error("npy: unknown dtype " + literal_of(descr));
    std::size_t want = item;
    for (std::size_t d : shape) {
        if (d != 0 && want > std::numeric_limits<std::size_t>::max() / d)
            throw data_error("npy: the shape " + npy_shape_string(shape) + " overflows");
        want *= d;
    }
    if (want != bytes)
        throw data_error("npy: " + std::to_string(bytes) + " bytes of data for shape " +
                         npy_shape_string(shape) + " of " + std::string(descr) + " (needs " +
                         std::to_string(want) + ")");
    std::string header = "{'descr': '" + std::string(descr) +
                         "', 'fortran_order': False, 'shape': " + npy_shape_string(shape) + ", }";
    // Pad with spaces and a final '\n' so that the data starts on a 64-byte boundary.
    const std::size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    if (header.size() > 65535) throw data_error("npy: the shape is too long for a header");
    std::string out;
    out.reserve(10 + header.size() + bytes);
    out += magic;
    out += '\x01';
    out += '\x00';
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
    out += header;
    out.append(static_cast<const char*>(data), bytes);
    return out;
}

}  // namespace fusegrad::nn
