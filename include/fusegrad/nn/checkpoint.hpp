#pragma once
/// @file
/// Checkpoints: named arrays saved as one .npy file each (nn/npy.hpp), each file written
/// atomically (io/atomic_file.hpp), with a manifest written last that makes the files one set:
/// a load accepts only files that are exactly the ones the manifest lists. The set logic is in
/// src/nn/checkpoint.cpp.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "fusegrad/io/atomic_file.hpp"
#include "fusegrad/nn/data_error.hpp"
#include "fusegrad/nn/npy.hpp"

namespace fusegrad::nn {

namespace detail {
/// An array as a checkpoint sees it: its .npy dtype, shape and bytes.
struct array_ref {
    std::string_view descr;
    std::vector<std::size_t> shape;
    void* data = nullptr;
    std::size_t bytes = 0;
};

template <class A>
array_ref ref_of(const A& a) {
    using T = std::remove_const_t<typename A::value_type>;
    return {npy_descr<T>(), std::vector<std::size_t>(a.shape().begin(), a.shape().end()),
            const_cast<T*>(a.data()), a.size() * sizeof(T)};
}
}  // namespace detail

/// `a` as .npy bytes in a temporary file next to `path` (io::staged_file: unique name,
/// fsync'ed), not yet renamed. Throws data_error, leaving no temporary behind, on failure.
template <class A>
io::staged_file stage_npy(const std::filesystem::path& path, const A& a) {
    const detail::array_ref r = detail::ref_of(a);
    io::staged_file f(path.string(), npy_file_bytes(r.descr, r.shape, r.data, r.bytes));
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
/// was. A missing, truncated or malformed file throws data_error (nn/npy.hpp says what is
/// checked); `a` is written only when the whole file was read.
template <class A>
void load_npy(const std::filesystem::path& path, A& a) {
    const detail::array_ref r = detail::ref_of(a);
    read_npy(path, r.descr, r.shape, r.data, r.bytes);
}

/// A set of named arrays saved to and loaded from a directory: one `<name>.npy` per array (plain
/// .npy files NumPy reads) and the manifest `fusegrad-checkpoint.txt`, which lists every file
/// with its dtype, shape, size and CRC-32 and a generation number, and is written last.
///
/// A save that is interrupted (killed, a crash, a full disk) leaves files that do not match
/// the manifest; load() refuses such a set, naming the files, instead of loading arrays from
/// two different saves. Saves into one directory are serialised by a lock file
/// (`.fusegrad-checkpoint.lock`, flock), and the temporaries an interrupted save left behind
/// are removed by the next save.
class checkpoint {
  public:
    /// The manifest's file name in a checkpoint directory.
    static constexpr std::string_view manifest_name = "fusegrad-checkpoint.txt";

    /// Adds `array` under `name`; the array must outlive the checkpoint. Throws data_error for
    /// an empty name, a name with a tab or a line break, or a name already added.
    template <class A>
    checkpoint& add(std::string name, A& array) {
        check_name(name);
        entries_.push_back({std::move(name), [&array] { return detail::ref_of(array); }});
        return *this;
    }

    /// Adds every param of `graph` under its leaf name (`Graph::param_names`), reading and
    /// writing the arrays the graph's params refer to (`graph.param_array`): a model names its
    /// params once, in its expression. The graph must outlive the checkpoint, and its params'
    /// arrays must be mutable for load(). Throws data_error as add() does.
    template <class Graph>
    checkpoint& add_params(Graph& graph) {
        using T = typename Graph::value_type;
        for (const std::string_view name : Graph::param_names) {
            check_name(std::string(name));
            entries_.push_back({std::string(name), [&graph, name] {
                                    const auto a = graph.param_array(name);
                                    std::vector<std::size_t> dims;
                                    if (a.dims.rank >= 2) dims.push_back(a.dims.rows);
                                    if (a.dims.rank >= 1) dims.push_back(a.dims.cols);
                                    return detail::array_ref{npy_descr<T>(), std::move(dims),
                                                             a.data, a.size() * sizeof(T)};
                                }});
        }
        return *this;
    }

    /// Saves every array to `dir/<name>.npy` and then the manifest (creating `dir`). Every
    /// file is written to its temporary before any is renamed, so a failure while writing (a
    /// full disk, an unwritable name) leaves the old checkpoint whole and loadable. An
    /// interruption during the renames leaves a set that load() refuses. Throws data_error; and
    /// fusegrad::value_error, writing nothing, when a floating-point array holds a NaN or an
    /// inf (a diverged run must not replace a good checkpoint) unless allow_non_finite(true).
    void save(const std::filesystem::path& dir) const;

    /// Lets save() write arrays holding NaN or inf (off by default).
    checkpoint& allow_non_finite(bool allow) noexcept {
        allow_non_finite_ = allow;
        return *this;
    }

    /// Loads every array from `dir/<name>.npy`, after checking each file against the manifest
    /// (size and CRC-32) and against its array (dtype and shape). Every file is read and checked
    /// before any array changes: on any error the model is as it was. Throws data_error (no
    /// manifest, files that are not one complete save, a missing or malformed file) or
    /// shape_error (a file of another shape).
    void load(const std::filesystem::path& dir);

    /// The generation of the checkpoint in `dir` (1 for the first save into a directory, +1 per
    /// save), or 0 when `dir` holds no readable manifest.
    static unsigned long long generation(const std::filesystem::path& dir);

    /// The names, in the order they were added.
    std::vector<std::string> names() const;

  private:
    void check_name(const std::string& name) const;

    struct entry {
        std::string name;
        std::function<detail::array_ref()> ref;
    };
    std::vector<entry> entries_;
    bool allow_non_finite_ = false;
};

}  // namespace fusegrad::nn
