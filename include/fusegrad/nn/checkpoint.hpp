#pragma once
/// @file
/// Checkpoints: named arrays saved as one .npy file each (xtensor's npy support), each file
/// written atomically (io/atomic_file.hpp), and loaded back only when every file matches its
/// array's shape and type.

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xnpy.hpp>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/io/atomic_file.hpp"
#include "fusegrad/nn/data_error.hpp"

namespace fusegrad::nn {

namespace detail {
template <class Shape>
std::string shape_str(const Shape& s) {
    std::string out = "(";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + (s.size() == 1 ? ",)" : ")");
}
}  // namespace detail

/// `a` as .npy bytes in a temporary file next to `path` (io::staged_file: unique name,
/// fsync'ed), not yet renamed. Throws data_error, leaving no temporary behind, on failure.
template <class A>
io::staged_file stage_npy(const std::filesystem::path& path, const A& a) {
    io::staged_file f(path.string(), xt::dump_npy(a));
    if (!f.ok())
        throw data_error(path.string() + ": could not write the checkpoint file (" + f.error() +
                         ")");
    return f;
}

/// Renames a staged checkpoint file over its destination. Throws data_error on failure.
inline void commit_npy(io::staged_file& f) {
    if (!f.commit())
        throw data_error(f.path() + ": could not write the checkpoint file (" + f.error() + ")");
}

/// Writes `a` to `path` as .npy atomically (io::staged_file: a uniquely named temporary,
/// fsync'ed, renamed over `path`, the directory fsync'ed), so a reader never sees a partial
/// file and an old checkpoint survives a failed save or a crash. Throws data_error on failure,
/// leaving no temporary behind.
template <class A>
void save_npy(const std::filesystem::path& path, const A& a) {
    auto f = stage_npy(path, a);
    commit_npy(f);
}

/// Reads the .npy file `path` into `a`, which must already have the file's shape and element
/// type: a mismatch throws shape_error naming the file and both shapes, and leaves `a` as it
/// was. A missing, truncated or malformed file throws data_error.
template <class A>
void load_npy(const std::filesystem::path& path, A& a) {
    using T = typename A::value_type;
    std::ifstream f(path, std::ios::binary);
    if (!f) throw data_error(path.string() + ": no such checkpoint file");
    std::vector<std::size_t> shape;
    std::vector<T> values;
    try {
        auto arr = xt::load_npy<T>(f);
        if (f.fail()) throw data_error(path.string() + ": truncated .npy file");
        shape.assign(arr.shape().begin(), arr.shape().end());
        values.assign(arr.begin(), arr.end());
    } catch (const data_error&) {
        throw;
    } catch (const std::exception& e) {
        throw data_error(path.string() + ": not a readable .npy file of this element type (" +
                         e.what() + ")");
    }
    const auto& want = a.shape();
    const bool same =
        shape.size() == want.size() && std::equal(shape.begin(), shape.end(), want.begin());
    if (!same)
        throw shape_error("checkpoint: " + path.string() + " holds an array of shape " +
                          detail::shape_str(shape) + " but the parameter has shape " +
                          detail::shape_str(want));
    std::copy(values.begin(), values.end(), a.data());
}

/// A set of named arrays saved to and loaded from a directory, one `<name>.npy` per array.
class checkpoint {
  public:
    /// Adds `array` under `name`; the array must outlive the checkpoint.
    template <class A>
    checkpoint& add(std::string name, A& array) {
        entries_.push_back(
            {name, [&array](const std::filesystem::path& p) { return stage_npy(p, array); },
             [&array](const std::filesystem::path& p) {
                 A copy = array;  // load into a copy first: all-or-nothing over the whole set
                 load_npy(p, copy);
                 return std::function<void()>([&array, c = std::move(copy)]() {
                     std::copy_n(c.data(), c.size(), array.data());
                 });
             }});
        return *this;
    }

    /// Saves every array to `dir/<name>.npy` (creating `dir`). Each file is replaced atomically,
    /// and every file is written (to its temporary) before any is renamed: a failure while
    /// writing (disk full, an unwritable name) leaves the whole old checkpoint as it was. The
    /// set is not atomic as a whole: a crash or a failed rename part-way through the renames
    /// can leave some files new and some old (each one complete). Throws data_error.
    void save(const std::filesystem::path& dir) const {
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        std::vector<io::staged_file> staged;
        staged.reserve(entries_.size());
        for (const auto& e : entries_) staged.push_back(e.save(dir / (e.name + ".npy")));
        for (auto& f : staged) commit_npy(f);
    }

    /// Loads every array from `dir/<name>.npy`. Every file is read and checked before any
    /// array changes, so a mismatched or missing file leaves the model as it was.
    void load(const std::filesystem::path& dir) {
        std::vector<std::function<void()>> commits;
        for (const auto& e : entries_) commits.push_back(e.load(dir / (e.name + ".npy")));
        for (auto& c : commits) c();
    }

    /// The names, in the order they were added.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& e : entries_) out.push_back(e.name);
        return out;
    }

  private:
    struct entry {
        std::string name;
        std::function<io::staged_file(const std::filesystem::path&)> save;
        std::function<std::function<void()>(const std::filesystem::path&)> load;
    };
    std::vector<entry> entries_;
};

}  // namespace fusegrad::nn
