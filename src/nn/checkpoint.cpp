/// @file
/// Checkpoint sets (nn/checkpoint.hpp): the manifest, the directory lock, stale temporaries.
///
/// The manifest, `fusegrad-checkpoint.txt`, is plain text:
///
///     fusegrad checkpoint 1
///     generation 7
///     W.npy	<f4	(784, 10)	31488	5d2c09e1
///     b.npy	<f4	(10,)	168	0b6a1f20
///
/// one line per file: name, dtype, shape, size in bytes and the CRC-32 of the whole file, tab
/// separated. A save writes every .npy temporary, then the manifest's, then renames the .npy
/// files and the manifest last. Whatever point a save is killed at, the directory holds either
/// the old manifest with (some of) the new files, which load() refuses because their sizes or
/// CRCs differ, or the new manifest with all the new files.

#include "fusegrad/nn/checkpoint.hpp"

#include <zlib.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/finite.hpp"

namespace fusegrad::nn {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view manifest_magic = "fusegrad checkpoint 1";
constexpr std::string_view lock_name = ".fusegrad-checkpoint.lock";
constexpr std::uintmax_t max_manifest_bytes = std::uintmax_t(1) << 20;

struct manifest_line {
    std::string file, descr, shape;
    std::uint64_t bytes = 0;
    std::uint32_t crc = 0;
};

struct manifest {
    unsigned long long generation = 0;
    std::vector<manifest_line> files;
    const manifest_line* find(const std::string& file) const {
        for (const auto& f : files)
            if (f.file == file) return &f;
        return nullptr;
    }
};

std::uint32_t crc32_of(std::string_view bytes) {
    uLong crc = crc32(0L, Z_NULL, 0);
    std::size_t done = 0;
    while (done < bytes.size()) {
        const auto chunk = static_cast<uInt>(std::min<std::size_t>(bytes.size() - done, 1u << 30));
        crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + done), chunk);
        done += chunk;
    }
    return static_cast<std::uint32_t>(crc);
}

std::string hex8(std::uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", v);
    return buf;
}

std::vector<std::string> split(const std::string& line, char sep) {
    std::vector<std::string> out(1);
    for (char c : line) {
        if (c == sep)
            out.emplace_back();
        else
            out.back() += c;
    }
    return out;
}

bool parse_u64(const std::string& s, int base, std::uint64_t& out) {
    if (s.empty() || s.size() > 20) return false;
    for (char c : s)
        if (!(std::isdigit(static_cast<unsigned char>(c)) ||
              (base == 16 && std::isxdigit(static_cast<unsigned char>(c)))))
            return false;
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, base);
    if (errno != 0 || *end != '\0') return false;
    out = v;
    return true;
}

// Reads and parses dir's manifest. Returns false when there is none; throws data_error when
// there is one that is not a manifest.
bool read_manifest(const fs::path& dir, manifest& m) {
    const fs::path p = dir / std::string(checkpoint::manifest_name);
    std::error_code ec;
    if (!fs::exists(p, ec)) return false;
    const std::string who = p.string();
    const auto size = fs::file_size(p, ec);
    if (ec) throw data_error(who + ": cannot be read (" + ec.message() + ")");
    if (size > max_manifest_bytes)
        throw data_error(who + ": " + std::to_string(size) + " bytes, not a checkpoint manifest");
    std::ifstream f(p, std::ios::binary);
    std::string text(static_cast<std::size_t>(size), '\0');
    if (!f || !f.read(text.data(), static_cast<std::streamsize>(text.size())))
        throw data_error(who + ": cannot be read");
    std::istringstream in(text);
    std::string line;
    auto bad = [&](const std::string& why) {
        throw data_error(who + ": not a valid checkpoint manifest (" + why + ")");
    };
    if (!std::getline(in, line) || line != manifest_magic)
        bad("the first line is not \"" + std::string(manifest_magic) + "\"");
    std::uint64_t gen = 0;
    if (!std::getline(in, line) || line.rfind("generation ", 0) != 0 ||
        !parse_u64(line.substr(11), 10, gen))
        bad("the second line is not \"generation <n>\"");
    m.generation = gen;
    while (std::getline(in, line)) {
        const auto fields = split(line, '\t');
        manifest_line l;
        if (fields.size() != 5 || !parse_u64(fields[3], 10, l.bytes))
            bad("a file line is not name, dtype, shape, bytes, crc32");
        std::uint64_t crc = 0;
        if (fields[4].size() != 8 || !parse_u64(fields[4], 16, crc))
            bad("a CRC is not 8 hex digits");
        l.file = fields[0];
        l.descr = fields[1];
        l.shape = fields[2];
        l.crc = static_cast<std::uint32_t>(crc);
        m.files.push_back(std::move(l));
    }
    return true;
}

// An open file descriptor holding an flock, released (with the descriptor) on destruction or
// when the process dies.
class dir_lock {
  public:
    dir_lock(const fs::path& dir, bool exclusive) {
        const std::string p = (dir / std::string(lock_name)).string();
        fd_ = exclusive ? ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666)
                        : ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) {
            if (!exclusive) return;  // a read-only or foreign directory: load without a lock
            throw data_error(dir.string() + ": cannot create the checkpoint's lock file " + p +
                             " (" + std::strerror(errno) + ")");
        }
        while (::flock(fd_, exclusive ? LOCK_EX : LOCK_SH) != 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd_);
            fd_ = -1;
            if (!exclusive) return;
            throw data_error(dir.string() + ": cannot lock " + p + " (" + std::strerror(err) + ")");
        }
    }
    dir_lock(const dir_lock&) = delete;
    dir_lock& operator=(const dir_lock&) = delete;
    ~dir_lock() {
        if (fd_ >= 0) ::close(fd_);
    }

  private:
    int fd_ = -1;
};

// Removes the temporaries io::staged_file makes for `target` (`<name>.XXXXXX.tmp` next to it)
// that an interrupted save left behind. Called with the directory lock held: every checkpoint
// writer holds it while its temporaries exist, so any such file now is stale.
void remove_stale_temporaries(const fs::path& target) {
    const std::string prefix = target.filename().string() + ".";
    const std::size_t want = prefix.size() + 6 + 4;  // XXXXXX.tmp
    std::error_code ec;
    fs::directory_iterator it(target.parent_path().empty() ? fs::path(".") : target.parent_path(),
                              ec);
    if (ec) return;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) return;
        const std::string name = it->path().filename().string();
        if (name.size() == want && name.compare(0, prefix.size(), prefix) == 0 &&
            name.compare(want - 4, 4, ".tmp") == 0 && it->is_regular_file(ec))
            fs::remove(it->path(), ec);
    }
}

// checkpoint::save's refusal of a float or double array holding a NaN or an inf.
void refuse_non_finite(const std::string& name, const detail::array_ref& r) {
    std::size_t count = 0, k = 0;
    double v = 0;
    if (r.descr == "<f4") {
        count = r.bytes / 4;
        k = fusegrad::detail::first_non_finite(static_cast<const float*>(r.data), count);
        if (k < count) v = static_cast<const float*>(r.data)[k];
    } else if (r.descr == "<f8") {
        count = r.bytes / 8;
        k = fusegrad::detail::first_non_finite(static_cast<const double*>(r.data), count);
        if (k < count) v = static_cast<const double*>(r.data)[k];
    }
    if (k < count)
        throw value_error("checkpoint::save: \"" + name + "\" holds " +
                          std::string(fusegrad::detail::non_finite_name(v)) + " at element " +
                          std::to_string(k) + " of " + npy_shape_string(r.shape) +
                          "; nothing was written (a diverged run does not replace a checkpoint; "
                          "allow_non_finite(true) saves it anyway)");
}

}  // namespace

void checkpoint::check_name(const std::string& name) const {
    if (name.empty()) throw data_error("checkpoint::add: an empty name");
    if (name.find_first_of("\t\n\r") != std::string::npos)
        throw data_error("checkpoint::add: the name \"" + name + "\" has a tab or a line break");
    for (const auto& e : entries_)
        if (e.name == name)
            throw data_error("checkpoint::add: \"" + name +
                             "\" was added twice (each array needs its own name)");
}

std::vector<std::string> checkpoint::names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.name);
    return out;
}

unsigned long long checkpoint::generation(const fs::path& dir) {
    manifest m;
    try {
        if (!read_manifest(dir, m)) return 0;
    } catch (const data_error&) {
        return 0;
    }
    return m.generation;
}

void checkpoint::save(const fs::path& dir) const {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec && !fs::is_directory(dir))
        throw data_error(dir.string() + ": cannot create the checkpoint directory (" +
                         ec.message() + ")");
    if (!allow_non_finite_)
        for (const auto& e : entries_) refuse_non_finite(e.name, e.ref());
    const dir_lock lock(dir, true);
    const fs::path manifest_path = dir / std::string(manifest_name);
    for (const auto& e : entries_) remove_stale_temporaries(dir / (e.name + ".npy"));
    remove_stale_temporaries(manifest_path);

    const unsigned long long next = generation(dir) + 1;
    std::string text = std::string(manifest_magic) + "\ngeneration " + std::to_string(next) + "\n";
    std::vector<io::staged_file> staged;
    staged.reserve(entries_.size() + 1);
    for (const auto& e : entries_) {
        const detail::array_ref r = e.ref();
        const fs::path p = dir / (e.name + ".npy");
        const std::string bytes = npy_file_bytes(r.descr, r.shape, r.data, r.bytes);
        text += e.name + ".npy\t" + std::string(r.descr) + "\t" + npy_shape_string(r.shape) + "\t" +
                std::to_string(bytes.size()) + "\t" + hex8(crc32_of(bytes)) + "\n";
        staged.emplace_back(p.string(), bytes);
        if (!staged.back().ok())
            throw data_error(p.string() + ": could not write the checkpoint file (" +
                             staged.back().error() + ")");
    }
    io::staged_file m(manifest_path.string(), text);
    if (!m.ok())
        throw data_error(manifest_path.string() + ": could not write the checkpoint manifest (" +
                         m.error() + ")");
    for (auto& f : staged) commit_npy(f);
    if (!m.commit())
        throw data_error(manifest_path.string() + ": could not write the checkpoint manifest (" +
                         m.error() + "); the directory now holds an incomplete set");
}

void checkpoint::load(const fs::path& dir) {
    const dir_lock lock(dir, false);
    manifest m;
    if (!read_manifest(dir, m))
        throw data_error(dir.string() + ": no " + std::string(manifest_name) +
                         ": not a complete fusegrad checkpoint (a save that never finished, files "
                         "from elsewhere, or a save by a fusegrad from before manifests; "
                         "nn::load_npy reads single .npy files, and a save() makes a set)");
    struct loaded {
        const entry* e;
        detail::array_ref r;
        std::string bytes;
        std::size_t offset;
    };
    std::vector<loaded> all;
    std::vector<std::string> stale;
    for (const auto& e : entries_) {
        const std::string file = e.name + ".npy";
        const manifest_line* l = m.find(file);
        if (!l)
            throw data_error(dir.string() + ": the checkpoint (generation " +
                             std::to_string(m.generation) + ") has no " + file +
                             " in its manifest: saved from another model?");
        const detail::array_ref r = e.ref();
        npy_header h;
        std::string bytes = read_npy_file(dir / file, r.descr, r.shape, h);
        if (bytes.size() != l->bytes || crc32_of(bytes) != l->crc) stale.push_back(file);
        all.push_back({&e, r, std::move(bytes), h.data_offset});
    }
    if (!stale.empty()) {
        std::string names;
        for (const auto& s : stale) names += (names.empty() ? "" : ", ") + s;
        throw data_error(dir.string() + ": not one complete save: " + names +
                         (stale.size() == 1 ? " does" : " do") +
                         " not match the manifest (generation " + std::to_string(m.generation) +
                         "); the last save was interrupted, or the files were changed since");
    }
    for (auto& a : all)
        if (a.r.bytes) std::memcpy(a.r.data, a.bytes.data() + a.offset, a.r.bytes);
}

}  // namespace fusegrad::nn
