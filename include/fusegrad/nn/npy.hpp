#pragma once
/// @file
/// .npy files (NumPy's array format, versions 1.0, 2.0 and 3.0), written and read by fusegrad's
/// own code, which distrusts what it reads. Defined in src/nn/npy.cpp.
///
/// The reader never allocates or reads from a number in the file: the header is bounded by the
/// file's size and by npy_max_header_bytes before a byte of it is kept, it is parsed strictly
/// (the three keys NumPy writes, Python literal syntax, nothing else), and the element type and
/// shape it declares are compared with the destination's before any data is read. The data must
/// fill the file exactly: a short file is "truncated", trailing bytes are an error too.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "fusegrad/nn/data_error.hpp"

namespace fusegrad::nn {

/// The largest .npy header accepted, in bytes. NumPy's own reader refuses headers over 10 000
/// bytes unless told otherwise (numpy.lib.format, since 1.24); a rank-32 shape of 20-digit
/// extents needs under 1 000.
inline constexpr std::size_t npy_max_header_bytes = 65536;

/// The dtype string NumPy writes for T ("<f4" for float, "|u1" for std::uint8_t, ...).
template <class T>
constexpr std::string_view npy_descr() {
    static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool> &&
                      !std::is_same_v<T, long double> && !std::is_same_v<T, char>,
                  "npy_descr: .npy files hold float, double and the fixed-size integers "
                  "(std::int8_t ... std::uint64_t)");
    if constexpr (std::is_floating_point_v<T>) {
        return sizeof(T) == 4 ? "<f4" : "<f8";
    } else if constexpr (std::is_signed_v<T>) {
        return sizeof(T) == 1 ? "|i1" : sizeof(T) == 2 ? "<i2" : sizeof(T) == 4 ? "<i4" : "<i8";
    } else {
        return sizeof(T) == 1 ? "|u1" : sizeof(T) == 2 ? "<u2" : sizeof(T) == 4 ? "<u4" : "<u8";
    }
}

/// What a .npy header says, once checked.
struct npy_header {
    std::string descr;               ///< the dtype, e.g. "<f4"
    bool fortran_order = false;      ///< column-major data
    std::vector<std::size_t> shape;  ///< the extents, outermost first (empty for a scalar)
    std::size_t item_bytes = 0;      ///< bytes per element
    std::size_t data_offset = 0;     ///< where the data starts in the file
    std::size_t data_bytes = 0;      ///< elements × item_bytes (checked against overflow)
};

/// Parses the header at the start of `prefix` (the first bytes of a file of `file_size` bytes;
/// the prefix need not hold more than the header). Throws data_error, its message starting with
/// `name`, for a wrong magic string, an unsupported version, a header longer than the file or
/// than npy_max_header_bytes, a header that is not exactly NumPy's dict, a dtype this reader
/// does not know, a shape whose size overflows, or data that does not fill the file exactly.
npy_header parse_npy_header(std::string_view prefix, std::uint64_t file_size,
                            std::string_view name);

/// Checks a parsed header against the destination: element type `descr` and `shape`. A
/// different shape throws shape_error naming `name` and both shapes; a different element type
/// or Fortran order throws data_error.
void check_npy_target(const npy_header& h, std::string_view name, std::string_view descr,
                      std::span<const std::size_t> shape);

/// The whole .npy file `path`, read only after its header was parsed and checked against the
/// destination (element type `descr`, `shape`), so the bytes read are bounded by the
/// destination's size, not by the file's word. `h` receives the header. Throws as read_npy.
/// (read_npy and checkpoint::load, which also checks the bytes' CRC, both read through it.)
std::string read_npy_file(const std::filesystem::path& path, std::string_view descr,
                          std::span<const std::size_t> shape, npy_header& h);

/// Reads the .npy file `path`, which must hold an array of element type `descr` and shape
/// `shape`, into `out` (its `out_bytes` bytes: elements × element size). The file's header is
/// checked before the data is read, and `out` is written only once everything matched; on any
/// error it is untouched. Throws data_error (missing, unreadable, malformed, truncated, wrong
/// element type) or shape_error (another shape), naming the file.
void read_npy(const std::filesystem::path& path, std::string_view descr,
              std::span<const std::size_t> shape, void* out, std::size_t out_bytes);

/// As read_npy, from the file's bytes in memory (what the fuzz target drives).
void read_npy_bytes(std::string_view file, std::string_view name, std::string_view descr,
                    std::span<const std::size_t> shape, void* out, std::size_t out_bytes);

/// The bytes of a version 1.0 .npy file of element type `descr` and `shape` holding `data`
/// (elements × element size bytes, C order), the header padded so that the data starts on a
/// 64-byte boundary, as NumPy writes it. Throws data_error for an unknown descr or a size that
/// does not match the shape.
std::string npy_file_bytes(std::string_view descr, std::span<const std::size_t> shape,
                           const void* data, std::size_t bytes);

/// "(3, 4)", "(4,)", "()": a shape as NumPy prints it.
std::string npy_shape_string(std::span<const std::size_t> shape);

}  // namespace fusegrad::nn
