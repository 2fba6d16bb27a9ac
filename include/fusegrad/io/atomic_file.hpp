#pragma once
/// @file
/// Writing a file so that nobody ever sees half of it: every file fusegrad writes (graphs,
/// plots, images, checkpoints) goes through here.
///
/// The scheme (POSIX): the bytes go to a temporary file with a unique name (mkstemps) in the
/// destination's directory, so two writers of the same path, or a stale temporary left by a
/// crash, never collide, and the final rename stays on one file system. The temporary is
/// fsync'ed before the rename, so after a crash the destination holds either the old contents
/// or the complete new ones, never a file of the right name with missing blocks; the directory
/// is fsync'ed after the rename, so the rename itself survives a crash.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fusegrad::io {

namespace detail {

/// The directory part of `path` ("." when there is none).
inline std::string directory_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

/// The process's umask, read from /proc/self/status (Linux 4.7+) because umask(2) can only be
/// read by setting it, which is not thread-safe. 022 when it cannot be read.
inline mode_t current_umask() noexcept {
    mode_t mask = 022;
    if (FILE* f = std::fopen("/proc/self/status", "re")) {
        char line[256];
        while (std::fgets(line, sizeof line, f) != nullptr) {
            unsigned value = 0;
            if (std::sscanf(line, "Umask: %o", &value) == 1) {
                mask = static_cast<mode_t>(value & 0777);
                break;
            }
        }
        std::fclose(f);
    }
    return mask;
}

/// Mode of the file that replaces `path`: the old file's permissions when it exists, else what
/// fopen would have created, 0666 & ~umask (mkstemps creates 0600).
inline mode_t mode_for(const std::string& path) noexcept {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return st.st_mode & 07777;
    return 0666 & ~current_umask();
}

/// Writes all of `bytes` to fd (retrying short writes and EINTR).
inline bool write_all(int fd, std::string_view bytes) noexcept {
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
        const ssize_t w = ::write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        left -= static_cast<std::size_t>(w);
    }
    return true;
}

}  // namespace detail

/// fsyncs the directory holding `path`, which makes a rename into it durable. Some file systems
/// refuse fsync on a directory; that is not an error here (the rename has happened either way).
inline void sync_directory_of(const std::string& path) noexcept {
    try {
        const int fd =
            ::open(detail::directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return;
        ::fsync(fd);
        ::close(fd);
    } catch (...) {  // std::bad_alloc building the directory name
    }
}

/// A file written, complete and fsync'ed, under a unique temporary name `<path>.XXXXXX.tmp`
/// next to `path`, and moved over `path` by commit(). Until then `path` is untouched; the
/// destructor removes a temporary that was not committed. Writing several files as
/// staged_files first and committing them after makes a failure while writing any of them
/// leave every destination as it was (the renames themselves are not atomic as a set).
class staged_file {
  public:
    /// Writes `bytes` to a new temporary file. Never throws: check ok(), and error() for why.
    staged_file(std::string path, std::string_view bytes) noexcept : path_(std::move(path)) {
        try {
            if (path_.empty()) {
                error_ = "empty path";
                return;
            }
            std::string name = path_ + ".XXXXXX.tmp";
            const int fd = ::mkostemps(name.data(), 4, O_CLOEXEC);
            if (fd < 0) {
                fail("cannot create a temporary file next to it");
                return;
            }
            tmp_ = std::move(name);
            // Best effort: some file systems (vfat, some FUSE / SMB mounts) refuse chmod, and a
            // file with mode 0600 is still better than no file.
            (void)::fchmod(fd, detail::mode_for(path_));
            bool good = detail::write_all(fd, bytes) && ::fsync(fd) == 0;
            int err = errno;
            if (::close(fd) != 0 && good) {
                good = false;
                err = errno;
            }
            if (!good) {
                errno = err;
                fail("cannot write the temporary file " + tmp_);
                discard();
                return;
            }
            ok_ = true;
        } catch (...) {  // std::bad_alloc building a name or a message
            discard();
            ok_ = false;
            error_ = "out of memory";  // fits the small-string buffer: does not allocate
        }
    }

    staged_file(const staged_file&) = delete;
    staged_file& operator=(const staged_file&) = delete;
    /// Moves the ownership of the temporary (the source no longer removes it).
    staged_file(staged_file&& o) noexcept
        : path_(std::move(o.path_)),
          tmp_(std::exchange(o.tmp_, std::string())),
          error_(std::move(o.error_)),
          ok_(std::exchange(o.ok_, false)) {}
    staged_file& operator=(staged_file&&) = delete;
    ~staged_file() { discard(); }

    /// Whether the temporary was written completely and flushed to disk.
    bool ok() const noexcept { return ok_; }
    /// Why not, with the system's reason (empty when ok()).
    const std::string& error() const noexcept { return error_; }
    /// The destination.
    const std::string& path() const noexcept { return path_; }

    /// Renames the temporary over the destination and fsyncs the directory. Returns false (the
    /// destination untouched, the temporary removed, error() saying why) on failure.
    bool commit() noexcept {
        if (!ok_) return false;
        if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
            try {
                fail("cannot rename " + tmp_ + " over it");
            } catch (...) {
            }
            discard();
            ok_ = false;
            return false;
        }
        tmp_.clear();
        ok_ = false;  // committed: nothing left to commit or remove
        sync_directory_of(path_);
        return true;
    }

  private:
    void fail(const std::string& what) { error_ = what + ": " + std::strerror(errno); }
    void discard() noexcept {
        if (!tmp_.empty()) ::unlink(tmp_.c_str());
        tmp_.clear();
    }

    std::string path_;
    std::string tmp_;
    std::string error_;
    bool ok_ = false;
};

/// Writes `bytes` to `path` through a staged_file: a reader never sees a partial file, a
/// failure leaves the old `path` as it was, and no temporary is left behind. Returns false on
/// any failure.
inline bool write_file_atomically(const std::string& path, std::string_view bytes) noexcept {
    try {
        staged_file f(path, bytes);
        return f.commit();
    } catch (...) {  // std::bad_alloc copying the path
        return false;
    }
}

}  // namespace fusegrad::io
