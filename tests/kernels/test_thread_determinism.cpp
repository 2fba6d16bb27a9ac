// The kernels' results do not depend on the number of OpenMP threads: every kernel that
// splits its work does so in fixed-size chunks, and combines per-chunk partial results in
// chunk order. Each kernel runs on problems large enough to be split (and to cross the
// parallel threshold) with 1 thread and with 2, on every instruction set, and the outputs
// must be bitwise identical.

#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "each_arch.hpp"
#include "fusegrad/kernels/bodies/logsumexp.hpp"
#include "fusegrad/kernels/bodies/max_rows.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/kernels/optim.hpp"
#include "fusegrad/kernels/rows.hpp"

#if __has_include(<omp.h>)
#include <omp.h>
#define FUSEGRAD_TEST_HAVE_OMP 1
#endif

#ifdef FUSEGRAD_TEST_HAVE_OMP

namespace fk = fusegrad::kernels;

namespace {

std::vector<float> random_floats(std::size_t n, float lo, float hi, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(gen);
    return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

/// Runs f() with `threads` OpenMP threads, restoring the previous setting.
template <class F>
auto with_threads(int threads, F f) {
    const int previous = omp_get_max_threads();
    omp_set_num_threads(threads);
    REQUIRE(omp_get_max_threads() == threads);
    auto r = f();
    omp_set_num_threads(previous);
    return r;
}

/// f() -> result, run with 1 thread and with 2: the two results.
template <class F>
void require_same_with_1_and_2_threads(F f) {
    const auto one = with_threads(1, f);
    const auto two = with_threads(2, f);
    REQUIRE(same_bits(one, two));
}

}  // namespace

TEST_CASE("kernels give bitwise identical results with 1 and 2 threads", "[threads]") {
    FUSEGRAD_EACH_ARCH();
    const std::size_t m = 4096, n = 1000, big = 1000003;
    const auto x = random_floats(big, -3.0f, 3.0f, 1);
    const auto s = random_floats(m * n, -10.0f, 10.0f, 2);
    const auto g = random_floats(m * n, -1.0f, 1.0f, 3);
    std::vector<std::int32_t> y(m);
    for (std::size_t i = 0; i < m; ++i) y[i] = static_cast<std::int32_t>((i * 37) % n);

    SECTION("sum (chunk partials added in chunk order)") {
        // 4M elements: a sum takes a second thread only from 2^20 elements (reduce.cpp).
        require_same_with_1_and_2_threads(
            [&] { return std::vector<float>{fk::sum<float>(s.size(), s.data())}; });
    }
    SECTION("col_sums") {
        require_same_with_1_and_2_threads([&] {
            std::vector<float> out(n);
            fk::col_sums<float>(m, n, s.data(), 0.0f, out.data());
            return out;
        });
    }
    SECTION("exp and axpby") {
        require_same_with_1_and_2_threads([&] {
            std::vector<float> out(big), acc(x);
            fk::exp<float>(big, x.data(), out.data());
            fk::axpby<float>(big, 0.5f, out.data(), 0.25f, acc.data());
            return acc;
        });
    }
    SECTION("softmax_rows and log_softmax_rows_backward") {
        require_same_with_1_and_2_threads([&] {
            std::vector<float> out(m * n), d(m * n);
            fk::softmax_rows<float>(m, n, s.data(), out.data());
            fk::log_softmax_rows_backward<float>(m, n, out.data(), g.data(), 0.0f, d.data());
            return d;
        });
    }
    SECTION("fused softmax-xent forward (loss total) and backward") {
        require_same_with_1_and_2_threads([&] {
            std::vector<float> loss(m), ds(m * n);
            const fk::xent_targets<float> t{};
            const float total = fk::softmax_xent_index_rows<float, std::int32_t>(
                m, n, s.data(), y.data(), t, 1.0f / m, nullptr, loss.data(), nullptr);
            fk::softmax_xent_index_rows_backward<float, std::int32_t>(
                m, n, s.data(), y.data(), t, 1.0f / m, nullptr, nullptr, 0.0f, ds.data());
            ds.push_back(total);
            loss.insert(loss.end(), ds.begin(), ds.end());
            return loss;
        });
    }
    SECTION("the row bodies logsumexp (and its backward) and max_rows") {
        require_same_with_1_and_2_threads([&] {
            std::vector<float> lse(m), mx(m), d(m * n);
            fk::row_forward(fk::body::logsumexp{}, m, n, s.data(), lse.data());
            fk::row_forward(fk::body::max_rows{}, m, n, s.data(), mx.data());
            fk::row_backward(fk::body::logsumexp{}, m, n, s.data(), lse.data(), lse.data(), 0.0f,
                             d.data());
            d.insert(d.end(), lse.begin(), lse.end());
            d.insert(d.end(), mx.begin(), mx.end());
            return d;
        });
    }
    SECTION("layer_norm_rows and its backward (dgamma, dbeta over chunk partials)") {
        require_same_with_1_and_2_threads([&] {
            const auto gamma = random_floats(n, 0.5f, 1.5f, 4), beta = random_floats(n, -1, 1, 5);
            std::vector<float> y(m * n), stats(2 * m), dx(m * n), dg(n), db(n);
            std::vector<float> scratch(fk::layer_norm_backward_scratch(m, n));
            fk::layer_norm_rows<float>(m, n, s.data(), gamma.data(), beta.data(), 1e-5f, y.data(),
                                       stats.data(), stats.data() + m);
            fk::layer_norm_rows_backward<float>(m, n, s.data(), gamma.data(), stats.data(),
                                                stats.data() + m, g.data(), 0.0f, dx.data(), 0.0f,
                                                dg.data(), 0.0f, db.data(), scratch.data());
            dx.insert(dx.end(), y.begin(), y.end());
            dx.insert(dx.end(), dg.begin(), dg.end());
            dx.insert(dx.end(), db.begin(), db.end());
            return dx;
        });
    }
    SECTION("dropout (the mask is keyed by the element's index)") {
        require_same_with_1_and_2_threads([&] {
            std::vector<float> out(big);
            fk::dropout<float>(big, x.data(), fk::splitmix64(7), std::uint64_t(1) << 51, 4.0f / 3,
                               0.0f, out.data());
            return out;
        });
    }
    SECTION("adam_update") {
        require_same_with_1_and_2_threads([&] {
            std::vector<float> p(x), mm(big, 0.0f), vv(big, 0.0f);
            fk::adam_update<float>(big, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1, x.data(), mm.data(),
                                   vv.data(), p.data());
            return p;
        });
    }
}

// The regions themselves (src/kernels/parallel.hpp, internal: no public entry point opens a
// region with a body of one's choosing). Under ctest's OMP_WAIT_POLICY=passive they run on the
// library's workers, in the [threads] run under active on OpenMP's.
#include "../../src/kernels/parallel.hpp"

TEST_CASE("a region's barriers meet its own threads, a nested region's none", "[threads]") {
    namespace d = fusegrad::kernels::detail;
    std::vector<int> seen(2, 0);
    std::atomic<int> stage{0};
    d::parallel(2, [&](std::size_t t, std::size_t n) {
        REQUIRE(d::in_parallel());
        if (n != 2) return;                         // OpenMP may give fewer threads than asked
        for (int round = 1; round <= 3; ++round) {  // the barrier is reusable
            if (t == 0) stage = round;
            d::barrier();
            seen[t] += stage.load() == round;
            d::barrier();
        }
        // A region opened inside one runs alone, and its barrier waits for nobody (reaching the
        // enclosing region's instead would hang: thread 1 never comes).
        if (t == 0)
            d::parallel(2, [&](std::size_t ti, std::size_t ni) {
                CHECK(ti == 0);
                CHECK(ni == 1);
                d::barrier();
            });
    });
    CHECK(!d::in_parallel());
    CHECK((seen[0] == 3 || seen[0] == 0));  // 0 only if the region had one thread
    CHECK(seen[1] == seen[0]);
    // A body's exception is rethrown on the caller after every thread has finished.
    CHECK_THROWS_WITH(d::parallel(2,
                                  [](std::size_t t, std::size_t) {
                                      if (t == 1) throw std::runtime_error("from thread 1");
                                  }),
                      "from thread 1");
}

#if defined(__unix__)
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

// A child forked after the library's workers exist has none of them (fork copies one thread):
// its first threaded kernel must get new workers, not wait forever for the parent's. Under
// OMP_WAIT_POLICY=passive (ctest's) the regions run on those workers; the tag keeps this case
// out of the [threads] run under OpenMP's spinning threads, whose runtime after fork is
// libgomp's business.
TEST_CASE("a forked child runs threaded kernels on workers of its own", "[fork]") {
    const std::size_t n = 256;  // 2^24 multiply-adds: two threads
    const auto a = random_floats(n * n, -1, 1, 11), b = random_floats(n * n, -1, 1, 12);
    auto product = [&] {
        std::vector<float> c(n * n);
        fk::gemm<float>(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
        return c;
    };
    const auto parent = with_threads(2, product);  // the workers exist from here on
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // the child: no Catch macros, only its exit status
        omp_set_num_threads(2);
        const bool same = same_bits(product(), parent) && same_bits(product(), parent);
        _exit(same ? 0 : 1);
    }
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 300 && done == 0; ++i) {  // up to 30 s
        done = waitpid(pid, &status, WNOHANG);
        if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        FAIL("the forked child's threaded GEMM did not finish within 30 s");
    }
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // the child's product had the parent's bits
}
#endif

#endif  // FUSEGRAD_TEST_HAVE_OMP
