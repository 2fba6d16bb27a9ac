#pragma once
/// @file
/// The processes of a data-parallel run (fusegrad::dist): who this process is, and the few
/// collectives gradient synchronisation and metrics need. MPI stays behind this class: its
/// header names no MPI type, so users compile without mpi.h.
///
/// A program started by a launcher (`mpirun -np P prog`, which sets OMPI_COMM_WORLD_SIZE, or
/// PMI/PMIx variables) is one of P ranks of MPI_COMM_WORLD. A program started on its own is a
/// single process and never initialises MPI: the same code, the same arithmetic (the
/// deterministic reduction tree does not depend on P), no launcher needed. fusegrad::dist is
/// always built; its MPI transport is compiled in when CMake finds MPI (`has_mpi()`), and a
/// launch by mpirun of a build without it is refused at construction.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fusegrad::dist {

/// An error of the distributed layer (an MPI call failed, a collective was misused).
struct dist_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Whether this build of fusegrad::dist has an MPI transport.
bool has_mpi() noexcept;

/// Whether this process was started by an MPI launcher (mpirun, srun): the environment names a
/// world size or rank.
bool launched_by_mpi() noexcept;

/// What this rank has handed to the collectives so far: the bytes of its own contribution
/// (allreduce: its buffer; allgather: its part; alltoall: everything it sends to the others).
/// What crosses the wire follows from the algorithm MPI picks (docs/distributed.md).
struct traffic {
    std::uint64_t calls = 0;       ///< collectives made (single-process calls excluded)
    std::uint64_t sent_bytes = 0;  ///< bytes contributed, over all the collectives
};

/// The world communicator: initialises MPI (MPI_THREAD_FUNNELED: only the thread that made
/// it calls MPI; the kernels' OpenMP threads never do) when launched by mpirun, finalises it
/// on destruction. One per program. When an exception unwinds past it on a run of more than
/// one process, it aborts every rank (MPI_Abort) instead of finalising: the others would wait
/// in their next collective forever.
class communicator {
  public:
    /// `argc`/`argv` are handed to MPI_Init_thread when launched by mpirun. Throws dist_error
    /// when MPI cannot be initialised, or when launched by mpirun with several processes and
    /// this build has no MPI.
    communicator(int& argc, char**& argv);
    /// The same, without the command line.
    communicator();
    ~communicator();
    communicator(const communicator&) = delete;
    communicator& operator=(const communicator&) = delete;

    /// This process's index in [0, size()).
    int rank() const noexcept { return rank_; }
    /// The number of processes.
    int size() const noexcept { return size_; }
    /// Whether this is rank 0, the one that prints and writes files.
    bool is_root() const noexcept { return rank_ == 0; }
    /// Whether MPI was initialised (launched by mpirun); false for a single process on its own.
    bool uses_mpi() const noexcept { return mpi_; }

    /// Sums `data[0, n)` elementwise over every rank, in place (MPI_Allreduce, MPI_SUM). The
    /// order MPI adds in depends on the process count: for bitwise results across process
    /// counts use `gradient_sync`'s deterministic mode, which moves values but adds them
    /// itself, in its fixed tree.
    void allreduce_sum(float* data, std::size_t n);
    void allreduce_sum(double* data, std::size_t n);
    void allreduce_sum(std::int64_t* data, std::size_t n);
    /// Sums one number over every rank.
    double sum(double x);
    std::int64_t sum(std::int64_t x);

    /// Every rank's `mine`, concatenated in rank order, on every rank (MPI_Allgatherv of
    /// bytes); `sizes` receives each rank's byte count. Ranks may give different sizes, and
    /// zero. A total past what one MPI call can count (2³¹ − 1 bytes) is a fail().
    void allgather(const std::vector<std::byte>& mine, std::vector<std::byte>& all,
                   std::vector<std::size_t>& sizes);

    /// Personalised exchange (MPI_Alltoallv of bytes): `to_each[r]` goes to rank r; `all`
    /// receives what every rank sent to this one, in rank order, and `sizes` their byte
    /// counts. `to_each` must have size() entries. Past 2³¹ − 1 bytes sent or received by a
    /// rank: fail().
    void alltoall(const std::vector<std::vector<std::byte>>& to_each, std::vector<std::byte>& all,
                  std::vector<std::size_t>& sizes);

    /// Waits for every rank.
    void barrier();

    /// Prints "fusegrad::dist: rank R: <message>" to stderr and ends every process of the run
    /// with `code` (MPI_Abort; std::exit for a single process). Never returns.
    [[noreturn]] void abort(std::string_view message, int code = 1) const;

    /// An error found by some ranks only, between collectives (the others may already wait
    /// in the next one): throws dist_error on a single process, aborts every rank otherwise,
    /// since a thrown exception that a caller caught would leave the others waiting forever.
    [[noreturn]] void fail(const std::string& message) const;

    /// What the collectives have moved so far (see `traffic`).
    const dist::traffic& traffic() const noexcept { return traffic_; }

  private:
    int rank_ = 0;
    int size_ = 1;
    bool mpi_ = false;
    int uncaught_ = 0;  // std::uncaught_exceptions() when constructed
    dist::traffic traffic_{};

    void init(int* argc, char*** argv);
    enum class element { f32, f64, i64 };
    void allreduce_sum_of(void* data, std::size_t n, element type);
};

}  // namespace fusegrad::dist
