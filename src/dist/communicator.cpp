/// @file
/// The communicator over MPI_COMM_WORLD (fusegrad/dist/communicator.hpp). MPI is used only in
/// this file; FUSEGRAD_HAVE_MPI is defined when CMake found it.

#include "fusegrad/dist/communicator.hpp"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#ifdef FUSEGRAD_HAVE_MPI
// The C API only: not the deprecated C++ bindings (which also warn under -Wextra).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace fusegrad::dist {

namespace {

// The launchers' variables: Open MPI's mpirun, PMIx (Open MPI 4+, Slurm), PMI-1/2 (MPICH,
// Slurm's srun).
bool env_set(const char* name) noexcept {
    const char* v = std::getenv(name);
    return v && *v;
}

#ifdef FUSEGRAD_HAVE_MPI
void check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    throw dist_error(std::string("fusegrad::dist: ") + what + " failed: " + std::string(text, len));
}

// MPI counts are int: one call moves at most INT_MAX elements.
int count_of(std::size_t n, const char* what) {
    if (n > static_cast<std::size_t>(INT_MAX))
        throw dist_error(std::string("fusegrad::dist: ") + what + " of " + std::to_string(n) +
                         " elements is more than one MPI call can count (" +
                         std::to_string(INT_MAX) + ")");
    return static_cast<int>(n);
}
#endif

}  // namespace

bool has_mpi() noexcept {
#ifdef FUSEGRAD_HAVE_MPI
    return true;
#else
    return false;
#endif
}

bool launched_by_mpi() noexcept {
    return env_set("OMPI_COMM_WORLD_SIZE") || env_set("PMIX_RANK") || env_set("PMI_RANK") ||
           env_set("PMI_SIZE");
}

communicator::communicator(int& argc, char**& argv) {
    init(&argc, &argv);
}
communicator::communicator() {
    init(nullptr, nullptr);
}

void communicator::init(int* argc, char*** argv) {
    uncaught_ = std::uncaught_exceptions();
    if (!launched_by_mpi()) return;  // a single process: no MPI at all
#ifdef FUSEGRAD_HAVE_MPI
    int initialised = 0;
    check(MPI_Initialized(&initialised), "MPI_Initialized");
    if (initialised)
        throw dist_error(
            "fusegrad::dist: MPI is already initialised: make one communicator per program");
    int provided = 0;
    check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    if (provided < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        throw dist_error("fusegrad::dist: this MPI gives thread level " + std::to_string(provided) +
                         ", below MPI_THREAD_FUNNELED (the kernels' OpenMP threads run while "
                         "the main thread calls MPI)");
    }
    mpi_ = true;
    // Errors come back as codes (check() turns them into dist_error) instead of aborting
    // inside MPI, so the message names what failed.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
#else
    (void)argc;
    (void)argv;
    // Refused unless the launcher says there is one process: several copies each training
    // alone would all write the same files.
    const char* n = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (!n) n = std::getenv("PMI_SIZE");
    if (!n) n = std::getenv("SLURM_NTASKS");
    if (!n || std::string(n) != "1")
        throw dist_error(std::string("fusegrad::dist: started by an MPI launcher (with ") +
                         (n ? n : "an unknown number of") +
                         " processes), but this fusegrad was built without MPI (install "
                         "libopenmpi-dev and reconfigure)");
#endif
}

communicator::~communicator() {
#ifdef FUSEGRAD_HAVE_MPI
    if (!mpi_) return;
    if (size_ > 1 && std::uncaught_exceptions() > uncaught_) {
        // Unwinding from an exception: the other ranks would wait in their next collective.
        std::fprintf(stderr,
                     "fusegrad::dist: rank %d: an exception left the communicator's scope; "
                     "aborting every rank\n",
                     rank_);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Finalize();
#endif
}

void communicator::allreduce_sum(float* data, std::size_t n) {
    allreduce_sum_of(data, n, element::f32);
}
void communicator::allreduce_sum(double* data, std::size_t n) {
    allreduce_sum_of(data, n, element::f64);
}
void communicator::allreduce_sum(std::int64_t* data, std::size_t n) {
    allreduce_sum_of(data, n, element::i64);
}

void communicator::allreduce_sum_of(void* data, std::size_t n, element type) {
#ifdef FUSEGRAD_HAVE_MPI
    if (!mpi_ || size_ == 1 || n == 0) return;
    const MPI_Datatype t = type == element::f32   ? MPI_FLOAT
                           : type == element::f64 ? MPI_DOUBLE
                                                  : MPI_INT64_T;
    check(MPI_Allreduce(MPI_IN_PLACE, data, count_of(n, "allreduce"), t, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
    ++traffic_.calls;
    traffic_.sent_bytes += n * (type == element::f32 ? 4u : 8u);
#else
    (void)data, (void)n, (void)type;
#endif
}

double communicator::sum(double x) {
    allreduce_sum(&x, 1);
    return x;
}

std::int64_t communicator::sum(std::int64_t x) {
    allreduce_sum(&x, 1);
    return x;
}

void communicator::allgather(const std::vector<std::byte>& mine, std::vector<std::byte>& all,
                             std::vector<std::size_t>& sizes) {
    if (!mpi_ || size_ == 1) {
        all = mine;
        sizes.assign(1, mine.size());
        return;
    }
#ifdef FUSEGRAD_HAVE_MPI
    // Each rank's byte count first, then the bytes.
    std::vector<long long> counts(static_cast<std::size_t>(size_));
    long long my_count = static_cast<long long>(mine.size());
    check(
        MPI_Allgather(&my_count, 1, MPI_LONG_LONG, counts.data(), 1, MPI_LONG_LONG, MPI_COMM_WORLD),
        "MPI_Allgather");
    std::vector<int> icounts(counts.size()), displs(counts.size());
    std::size_t total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
        if (total > static_cast<std::size_t>(INT_MAX) - static_cast<std::size_t>(counts[r]))
            fail("fusegrad::dist: allgather of more than " + std::to_string(INT_MAX) +
                 " bytes in all (rank " + std::to_string(r) + " adds " + std::to_string(counts[r]) +
                 "): more than one MPI call can count");
        displs[r] = static_cast<int>(total);
        icounts[r] = static_cast<int>(counts[r]);
        total += static_cast<std::size_t>(counts[r]);
    }
    all.resize(total);
    check(MPI_Allgatherv(mine.data(), icounts[static_cast<std::size_t>(rank_)], MPI_BYTE,
                         all.data(), icounts.data(), displs.data(), MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Allgatherv");
    sizes.assign(counts.begin(), counts.end());
    traffic_.calls += 2;
    traffic_.sent_bytes += mine.size() + sizeof(long long);
#endif
}

void communicator::alltoall(const std::vector<std::vector<std::byte>>& to_each,
                            std::vector<std::byte>& all, std::vector<std::size_t>& sizes) {
    if (to_each.size() != static_cast<std::size_t>(size_))
        throw dist_error("fusegrad::dist: alltoall was given " + std::to_string(to_each.size()) +
                         " parts for " + std::to_string(size_) + " ranks");
    if (!mpi_ || size_ == 1) {
        all = to_each[0];
        sizes.assign(1, all.size());
        return;
    }
#ifdef FUSEGRAD_HAVE_MPI
    const auto p = static_cast<std::size_t>(size_);
    // Byte counts first (what each rank will receive from each), then the bytes.
    std::vector<long long> send_counts(p), recv_counts(p);
    for (std::size_t r = 0; r < p; ++r) send_counts[r] = static_cast<long long>(to_each[r].size());
    check(MPI_Alltoall(send_counts.data(), 1, MPI_LONG_LONG, recv_counts.data(), 1, MPI_LONG_LONG,
                       MPI_COMM_WORLD),
          "MPI_Alltoall");
    std::vector<int> scounts(p), sdispls(p), rcounts(p), rdispls(p);
    std::vector<std::byte> send;
    std::size_t rtotal = 0;
    for (std::size_t r = 0; r < p; ++r) {
        const auto s_size = static_cast<std::size_t>(send_counts[r]);
        const auto r_size = static_cast<std::size_t>(recv_counts[r]);
        if (send.size() > static_cast<std::size_t>(INT_MAX) - s_size ||
            rtotal > static_cast<std::size_t>(INT_MAX) - r_size)
            fail("fusegrad::dist: alltoall of more than " + std::to_string(INT_MAX) +
                 " bytes to or from rank " + std::to_string(rank_) +
                 ": more than one MPI call can count");
        sdispls[r] = static_cast<int>(send.size());
        scounts[r] = static_cast<int>(s_size);
        send.insert(send.end(), to_each[r].begin(), to_each[r].end());
        rdispls[r] = static_cast<int>(rtotal);
        rcounts[r] = static_cast<int>(r_size);
        rtotal += r_size;
    }
    all.resize(rtotal);
    check(MPI_Alltoallv(send.data(), scounts.data(), sdispls.data(), MPI_BYTE, all.data(),
                        rcounts.data(), rdispls.data(), MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Alltoallv");
    sizes.assign(recv_counts.begin(), recv_counts.end());
    traffic_.calls += 2;
    traffic_.sent_bytes +=
        send.size() - to_each[static_cast<std::size_t>(rank_)].size() + sizeof(long long) * (p - 1);
#endif
}

void communicator::barrier() {
#ifdef FUSEGRAD_HAVE_MPI
    if (!mpi_ || size_ == 1) return;
    check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

void communicator::fail(const std::string& message) const {
    if (size_ > 1) abort(message, 1);
    throw dist_error(message);
}

void communicator::abort(std::string_view message, int code) const {
    std::fprintf(stderr, "fusegrad::dist: rank %d: %.*s\n", rank_, static_cast<int>(message.size()),
                 message.data());
    std::fflush(stderr);
#ifdef FUSEGRAD_HAVE_MPI
    if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    std::exit(code);
}

}  // namespace fusegrad::dist
