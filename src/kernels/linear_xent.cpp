/// @file
/// Fused linear + softmax cross-entropy over tiles of rows × classes (kernels.hpp states the
/// maths and the contract; the notes here are about how).
///
/// Workspace layout (linear_xent_tiles::workspace): tile A, tile B (rows × classes each), then 4
/// numbers per row of x: the running max M_i, the running Σ e^{s − M_i} (log Σ after the
/// forward), the smoothing term A_i = Σ_j c_j (M_i − s_ij) and the target logit s_{i,y_i}; then
/// a flag "statistics valid", a flag saying what the kept tile holds (0: nothing, 1: tile A
/// holds the forward's e^{s − M}, 2: tile B holds the gradient for ce_scale = the third flag) and
/// that scale.
///
/// Everything heavy goes through other kernels: the GEMMs (team_gemm.hpp: B packed once for all
/// the threads; kernels::gemm on a kept tile; x strided, or its rows read in place through
/// p.x_rows: detail::stored_a), exp and tanh (SIMD, dispatched), sum and col_sums.
/// What is left here is per-row bookkeeping on tiles that sit in L2, split over threads in fixed
/// shares of rows: the order of every sum is fixed by the tile grid, so results do not depend on
/// the thread count.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <type_traits>

#include "block_sum.hpp"
#include "fusegrad/kernels/bodies/tanh.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/kernels/trace.hpp"
#include "fusegrad/kernels/unary.hpp"
#include "parallel.hpp"
#include "team_gemm.hpp"

namespace fusegrad::kernels {

namespace {

template <class T>
constexpr T kInf = std::numeric_limits<T>::infinity();

/// Rows of a tile handed to one thread at a time.
constexpr std::size_t kRowChunk = 8;
/// At most this many logits per tile (two tiles: 1 MiB in float), and at most this many classes
/// wide: a 512-wide float row is 2 KiB, so a tile's rows stream through L1 during the row passes.
constexpr std::size_t kTileBudget = std::size_t(128) * 1024;
constexpr std::size_t kMaxTileClasses = 512;

template <class T>
struct layout {
    T* tile_a;
    T* tile_b;
    T* rows;  // 4 per row: M, S (then log S), A, s_y
    T* flags;
};

template <class T>
layout<T> layout_of(const linear_xent_problem<T>& p, T* work) {
    const std::size_t tile = p.tiles.rows * p.tiles.classes;
    return {work, work + tile, work + 2 * tile, work + 2 * tile + 4 * p.n};
}

/// x from its element (i, j) on: contiguous, or its rows read where they lie (p.x_rows).
template <class T>
detail::stored_a<T> x_at(const linear_xent_problem<T>& p, std::size_t i, std::size_t j) {
    return detail::stored_a<T>{p.x, p.depth, p.x_rows, 0}.at(i, j);
}

template <class T, class I>
bool is_ignored(const xent_targets<T>& t, I label) {
    return t.has_ignore_index && static_cast<std::int64_t>(label) == t.ignore_index;
}

template <class T>
T class_weight(const xent_targets<T>& t, std::size_t j) {
    return t.class_weights != nullptr ? t.class_weights[j] : T(1);
}

/// max over v[0..n) with 8 independent chains (a NaN is passed over here; it reaches the loss
/// through the sum of exponentials).
template <class T>
T row_max(std::size_t n, const T* v) {
    T m[8] = {-kInf<T>, -kInf<T>, -kInf<T>, -kInf<T>, -kInf<T>, -kInf<T>, -kInf<T>, -kInf<T>};
    std::size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (std::size_t u = 0; u < 8; ++u) m[u] = v[j + u] > m[u] ? v[j + u] : m[u];
    for (; j < n; ++j) m[0] = v[j] > m[0] ? v[j] : m[0];
    T r = m[0];
    for (std::size_t u = 1; u < 8; ++u) r = m[u] > r ? m[u] : r;
    return r;
}

/// Σ v[0..n): the blocked SIMD sum for wide rows, a plain loop for narrow ones.
template <class T>
T row_sum(std::size_t n, const T* v) {
    if (n >= 64) return sum<T>(n, v);
    T s = T(0);
    for (std::size_t j = 0; j < n; ++j) s += v[j];
    return s;
}

/// How a call's GEMMs run. On a kept tiling (one small tile, outside any team): kernels::gemm,
/// which may thread on its own. On every other tiling, as thread t of nt, each thread passing
/// its own rows of C: team_gemm (dW, whose B is the tile's G), or the W slices packed once by
/// all the threads (pack) and multiplied by gemm_packed_b; also with one thread, so that the
/// GEMM path, and with it every bit, is the same for any thread count.
template <class T>
struct gemms {
    enum class mode { plain, team, skip };
    mode how = mode::plain;  // skip: a thread failed before the GEMMs could run
    std::size_t t = 0, nt = 1;
    T* shared = nullptr;

    /// C (m of this thread's rows) = alpha · op(A) · op(B) + beta · C. In a team, every thread
    /// calls it with the same B, n and k (see team_gemm.hpp); it does not throw then.
    void operator()(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
                    T alpha, const detail::stored_a<T>& a, const T* b, std::size_t ldb, T beta,
                    T* c, std::size_t ldc) const {
        if (how == mode::team)
            detail::team_gemm<T>(t, nt, trans_a, trans_b, m, n, k, alpha, a, b, ldb, beta, c, ldc,
                                 shared);
        else if (how == mode::plain)
            detail::gemm_from<T>(trans_a, trans_b, m, n, k, alpha, a, b, ldb, beta, c, ldc);
    }

    /// In a team: op(B) (k × n) packed into `packed` by all the threads, between two barriers
    /// (the first: every thread is done with what `packed` held), and `packed` returned for
    /// detail::gemm_packed_b. Otherwise null: the caller multiplies by B itself, through ().
    template <class Team>
    const T* pack(Team& tm, bool trans_b, std::size_t k, std::size_t n, const T* b, std::size_t ldb,
                  T* packed) const {
        if (how != mode::team) return nullptr;
        tm.barrier(nt);
        detail::team_pack_b<T>(t, nt, trans_b, k, n, b, ldb, packed);
        tm.barrier(nt);
        return packed;
    }
};

/// tile (rows × cols, contiguous) = softcap(x[i0 .. i0 + rows) · W[:, j0 .. j0 + cols) + b),
/// with W's slice already packed (team_pack_b) when `packed_w` is not null.
template <class T>
void logits_tile(const linear_xent_problem<T>& p, std::size_t i0, std::size_t rows, std::size_t j0,
                 std::size_t cols, T* tile, const gemms<T>& mm, const T* packed_w = nullptr) {
    if (p.b != nullptr) broadcast_row<T>(rows, cols, p.b + j0, tile);
    const T beta = p.b != nullptr ? T(1) : T(0);
    if (packed_w != nullptr)
        detail::gemm_packed_b<T>(false, rows, cols, p.depth, T(1), x_at(p, i0, 0), packed_w, beta,
                                 tile, cols);
    else
        mm(false, false, rows, cols, p.depth, T(1), x_at(p, i0, 0), p.w + j0, p.classes, beta, tile,
           cols);
    if (p.softcap > T(0)) {
        const std::size_t n = rows * cols;
        axpby<T>(n, T(1) / p.softcap, tile, T(0), tile);
        unary_forward(body::tanh{}, n, tile, tile);
        axpby<T>(n, p.softcap, tile, T(0), tile);
    }
}

/// Rows of a tile are shared between threads in multiples of this (even, and a multiple of the
/// AVX-512 GEMM micro-tile height 8: see "Threads" below).
constexpr std::size_t kRowGranule = 16;
/// Columns of a tile are shared in multiples of this (the AVX-512 float GEMM panel width).
constexpr std::size_t kColGranule = 32;

/// [begin, end) of thread t's share of `count` items among nth threads: whole granules, as even
/// as they go, in thread order.
struct share {
    std::size_t begin, end;
    share(std::size_t count, std::size_t granule, std::size_t t, std::size_t nth) {
        const std::size_t units = (count + granule - 1) / granule;
        begin = std::min(count, units * t / nth * granule);
        end = std::min(count, units * (t + 1) / nth * granule);
    }
    std::size_t size() const { return end - begin; }
};

/// One parallel region for a whole forward or backward, or none.
///
/// Threads: the region is opened once per call (not per GEMM: a tile's four GEMMs of 256 rows
/// would split into 3 fixed MC blocks over 2 threads, with ~10 fork/joins per tile). Inside it
/// every thread calls the serial kernels (use_threads is false inside a parallel region) on its
/// share of a tile's rows (logits, the row passes, dx), of dW's rows (of D) and of db's columns,
/// and the GEMMs' B is packed once by all the threads (gemms, team_gemm.hpp). Shares are whole
/// granules of kRowGranule rows or kColGranule columns. Nothing is summed across threads, and
/// the sum behind every element is the same as in one call on the whole tile: the GEMMs all take
/// the blocked micro-kernel (also with one thread), whose per-element sum runs over k in fixed
/// kc blocks whatever rows a thread has; with alpha = 1 and beta ∈ {0, 1} (the others are
/// applied beforehand, see backward) a ragged micro-tile stores the same value as a full one;
/// exp, tanh and axpby are elementwise (a partial batch uses the same formula); the column sums
/// are per column. So the result is bitwise the same for every thread count
/// (tests/ops/test_linear_xent.cpp, on every instruction set).
class team {
  public:
    /// Opens a region when `parallel` (and OpenMP has more than one thread to give).
    explicit team(bool parallel) : parallel_(parallel) {}

    /// body(*this, t, nth) on every thread of the region, or body(*this, 0, 1) on the caller
    /// (whose kernels may then thread on their own, as outside linear_xent). An exception is
    /// rethrown on the calling thread after the region.
    template <class F>
    void run(F&& body) {
        if (parallel_) {
            detail::parallel(detail::max_threads(),
                             [&](std::size_t t, std::size_t nt) { body(*this, t, nt); });
            if (error_) std::rethrow_exception(error_);
            return;
        }
        body(*this, 0, 1);
        if (error_) std::rethrow_exception(error_);
    }

    /// f() unless a thread has failed; an exception is kept for run() (it must not leave the
    /// region, and the other threads must still meet this one at the barriers).
    template <class F>
    void step(F&& f) {
        if (failed_.load(std::memory_order_relaxed)) return;
        try {
            f();
        } catch (...) {
            if (!failed_.exchange(true)) error_ = std::current_exception();
        }
    }

    /// The GEMM runner of thread t of nt for a call on tiling `tiles`, once every thread has
    /// reserved its team_gemm buffer. If a thread could not, no thread runs a GEMM (run() then
    /// rethrows); the flag is read between two barriers, so that a later failure cannot make
    /// one thread skip the barriers inside team_gemm while another waits there.
    template <class T>
    gemms<T> gemms_for(const linear_xent_tiles& tiles, T* shared, std::size_t t, std::size_t nt) {
        using M = typename gemms<T>::mode;
        if (tiles.kept) return {};
        step([] { detail::team_gemm_reserve<T>(); });
        barrier(nt);
        const bool reserved = !failed_.load();
        barrier(nt);
        return {reserved ? M::team : M::skip, t, nt, shared};
    }

    /// Waits for the other threads of the region (nothing outside one).
    void barrier(std::size_t nth) const {
        if (nth > 1) detail::barrier();
    }

  private:
    bool parallel_;
    std::atomic<bool> failed_{false};
    std::exception_ptr error_;
};

/// Whether a linear_xent call on these tiles should open its own region: more than one thread
/// to give, not already inside a region, several row granules per tile and GEMMs big enough to
/// pay for the wake-ups. A kept tiling (one small tile, small C) stays as it was: its kernels
/// thread on their own.
template <class T>
bool use_team(const linear_xent_problem<T>& p) {
    if (p.tiles.kept) return false;
    const std::size_t chunks = (p.tiles.rows + kRowGranule - 1) / kRowGranule;
    return detail::use_threads(chunks, p.tiles.rows * p.tiles.classes * p.depth);
}

template <class F>
void for_rows(std::size_t rows, std::size_t cols, F&& f) {
    detail::for_each_chunk(rows, kRowChunk, cols * 8,
                           [&](std::size_t, std::size_t r0, std::size_t r1) {
                               for (std::size_t r = r0; r < r1; ++r) f(r);
                           });
}

/// One class tile of forward_stats: `tile` holds the logits of rows [first, first + rows) at
/// classes [j0, j0 + cols); folds them into the running row numbers rs (4 per row).
/// weight_before: Σ c_j over the classes of the earlier tiles.
template <class T, class I>
void forward_tile(const linear_xent_problem<T>& p, const I* y, T* rs, std::size_t first,
                  std::size_t rows, std::size_t j0, std::size_t cols, T* tile, T weight_before) {
    const auto& t = p.targets;
    const bool smoothing = t.smoothing != T(0);
    T tile_weight = T(0);
    if (smoothing) {
        for (std::size_t j = 0; j < cols; ++j) tile_weight += class_weight(t, j0 + j);
    }
    // Pass 1 per row: the target logit, the new max, the shift of the running sums, and
    // the row moved to the new max (in place).
    for_rows(rows, cols, [&](std::size_t r) {
        T* row = tile + r * cols;
        T* st = rs + 4 * r;
        const I label = y[first + r];
        if (!is_ignored(t, label)) {
            const auto k = static_cast<std::size_t>(label);
            if (k >= j0 && k < j0 + cols) st[3] = row[k - j0];
        }
        const T old_max = st[0];
        const T new_max = std::max(old_max, row_max(cols, row));
        if (new_max == -kInf<T>) {  // everything so far is masked
            if (smoothing && tile_weight != T(0)) st[2] = kInf<T>;
            for (std::size_t j = 0; j < cols; ++j) row[j] = -kInf<T>;  // e^{-inf} = 0
            return;
        }
        if (old_max != new_max) {
            st[1] *= std::exp(old_max - new_max);  // 0 when old_max = -inf
            if (smoothing && weight_before != T(0)) st[2] += (new_max - old_max) * weight_before;
            st[0] = new_max;
        }
        for (std::size_t j = 0; j < cols; ++j) row[j] -= new_max;
        if (smoothing) {
            T a = T(0);
            if (t.class_weights == nullptr) {
                a = -row_sum(cols, row);
            } else {
                for (std::size_t j = 0; j < cols; ++j) {
                    const T c = t.class_weights[j0 + j];
                    if (c != T(0)) a -= c * row[j];
                }
            }
            st[2] += a;
        }
    });
    exp<T>(rows * cols, tile, tile);
    for_rows(rows, cols, [&](std::size_t r) { rs[4 * r + 1] += row_sum(cols, tile + r * cols); });
}

/// The forward over all tiles: fills the per-row numbers (M, log S, A, s_y). With a kept
/// tiling, tile A is left holding e^{s − M}.
///
/// Class tiles outside, row blocks inside (in the backward too): a W slice (D × 512, its rows
/// C apart, a page or more) is then read from memory once per pass and from cache for the other
/// row blocks, and dW's slice stays in cache while it gathers every row block, where row blocks
/// outside read all of W (and, in the backward, read and wrote all of dW) once per row block;
/// what is re-read instead are x and dx, whose rows are contiguous. Each row still meets the
/// class tiles in order, each dx row the class tiles and each dW column the row blocks, so the
/// sums are the same.
///
/// With a team, each thread takes its share of every row block, in its own rows of tile A
/// (addressed at the full tile width, so that a narrower last class tile does not reach into
/// another thread's rows); the threads meet around each class tile's packing of its W slice
/// (one packed copy for all), and wherever the shares move (around a shorter last row block), so
/// that no thread writes rows of tile A that another still reads.
template <class T, class I>
void forward_stats(const linear_xent_problem<T>& p, const I* y, const layout<T>& ws) {
    const std::size_t n = p.n, bm = p.tiles.rows, C = p.classes, bc = p.tiles.classes;
    const auto& t = p.targets;
    const std::size_t D = p.depth;
    if (n == 0 || bc == 0) return;  // no rows: nothing to fill (and no tile to step by)
    team threads(use_team(p));
    // The packed W slice, shared by the threads and by every row block of a class tile.
    T* const packed_w =
        p.tiles.kept ? nullptr : detail::team_gemm_buffer<T>(detail::packed_b_size<T>(D, bc));
    threads.run([&](team& tm, std::size_t tid, std::size_t nth) {
        const gemms<T> mm = tm.gemms_for(p.tiles, static_cast<T*>(nullptr), tid, nth);
        const auto mine = [&](std::size_t i0) {
            return share(std::min(bm, n - i0), kRowGranule, tid, nth);
        };
        for (std::size_t i0 = 0; i0 < n; i0 += bm) {
            const share r = mine(i0);
            for (std::size_t i = i0 + r.begin; i < i0 + r.end; ++i) {
                T* st = ws.rows + 4 * i;
                st[0] = -kInf<T>;
                st[1] = st[2] = st[3] = T(0);
            }
        }
        T weight_before = T(0);  // Σ c_j over the classes of the earlier tiles
        for (std::size_t j0 = 0; j0 < C; j0 += bc) {
            const std::size_t cols = std::min(bc, C - j0);
            const T* pw = mm.pack(tm, false, D, cols, p.w + j0, C, packed_w);
            for (std::size_t i0 = 0; i0 < n; i0 += bm) {
                const share r = mine(i0);
                const std::size_t first = i0 + r.begin;
                T* tile = ws.tile_a + r.begin * bc;
                logits_tile(p, first, r.size(), j0, cols, tile, mm, pw);
                tm.step([&] {
                    forward_tile(p, y, ws.rows + 4 * first, first, r.size(), j0, cols, tile,
                                 weight_before);
                });
                const std::size_t next = i0 + bm < n ? i0 + bm : 0;
                if (std::min(bm, n - next) != std::min(bm, n - i0)) tm.barrier(nth);
            }
            if (t.smoothing != T(0)) {
                for (std::size_t j = 0; j < cols; ++j) weight_before += class_weight(t, j0 + j);
            }
        }
        for (std::size_t i0 = 0; i0 < n; i0 += bm) {
            const share r = mine(i0);
            for (std::size_t i = i0 + r.begin; i < i0 + r.end; ++i) {
                T* st = ws.rows + 4 * i;
                // An all −inf row has no softmax: NaN, as PyTorch (and softmax_xent) give.
                st[1] = st[0] == -kInf<T> ? std::numeric_limits<T>::quiet_NaN() : std::log(st[1]);
            }
        }
    });
}

/// Rows [first, first + rows) of the tile at class j0 (cols wide): the gradient G into g (which
/// may be s) from the logits in s (the caller's logits_tile; when kept, s holds e^{s − M}),
/// where s and g point at these rows of the tiles.
template <class T, class I>
void gradient_rows(const linear_xent_problem<T>& p, const I* y, const layout<T>& ws, bool kept,
                   T total_weight, T ce_scale, T z_scale, const T* row_scale, std::size_t first,
                   std::size_t rows, std::size_t j0, std::size_t cols, T* s, T* g) {
    const auto& t = p.targets;
    const T eps = t.smoothing;
    const T lambda = p.z_loss;
    const bool softcap = p.softcap > T(0);
    const std::size_t C = p.classes;
    const T* rs = ws.rows + 4 * first;
    // G_ij = a_i e^{s_ij − lse_i} − r_i t_ij, a_i = r_i T_i + 2 λ q_i lse_i.
    if (!kept) {
        for_rows(rows, cols, [&](std::size_t r) {
            const T* st = rs + 4 * r;
            const T* sr = s + r * cols;
            T* gr = g + r * cols;
            for (std::size_t j = 0; j < cols; ++j) gr[j] = (sr[j] - st[0]) - st[1];
        });
        exp<T>(rows * cols, g, g);
    }
    for_rows(rows, cols, [&](std::size_t r) {
        const std::size_t i = first + r;
        const T* st = rs + 4 * r;
        T* gr = g + r * cols;
        const I label = y[i];
        if (is_ignored(t, label)) {
            std::fill(gr, gr + cols, T(0));
            return;
        }
        const T u = row_scale != nullptr ? row_scale[i] : T(1);
        const T ri = ce_scale * u;
        const T on_target = (T(1) - eps) * class_weight(t, std::size_t(label));
        T a = ri * (on_target + eps / T(C) * total_weight);
        if (lambda != T(0)) a += T(2) * lambda * z_scale * u * (st[0] + st[1]);
        if (kept) {
            const T* pr = s + r * cols;
            const T f = a * std::exp(-st[1]);
            for (std::size_t j = 0; j < cols; ++j) gr[j] = f * pr[j];
        } else {
            for (std::size_t j = 0; j < cols; ++j) gr[j] *= a;
        }
        if (eps != T(0)) {
            const T k = ri * eps / T(C);
            if (t.class_weights == nullptr) {
                for (std::size_t j = 0; j < cols; ++j) gr[j] -= k;
            } else {
                for (std::size_t j = 0; j < cols; ++j) gr[j] -= k * t.class_weights[j0 + j];
            }
        }
        const auto k = static_cast<std::size_t>(label);
        if (k >= j0 && k < j0 + cols) gr[k - j0] -= ri * on_target;
        if (softcap) {  // ∂(c tanh(z / c))/∂z = 1 − (s / c)²
            const T* sr = s + r * cols;
            const T inv = T(1) / p.softcap;
            for (std::size_t j = 0; j < cols; ++j) {
                const T q = sr[j] * inv;
                gr[j] *= T(1) - q * q;
            }
        }
    });
}

/// y = 0 + beta · y (y not read when beta is 0), for a gradient no tile reaches; y may be null.
template <class T>
void scale_by_beta(std::size_t n, T beta, T* y) {
    if (y == nullptr) return;
    if (beta == T(0))
        fill<T>(n, T(0), y);
    else
        axpby<T>(n, beta, y, T(0), y);
}

using detail::block_sum;

}  // namespace

linear_xent_tiles linear_xent_tiling(std::size_t n, std::size_t classes, std::size_t tile_rows,
                                     std::size_t tile_classes, bool softcap) {
    linear_xent_tiles t;
    if (n == 0 || classes == 0) return t;
    if (tile_rows == 0 && tile_classes == 0 && n <= kTileBudget / classes) {
        t.rows = n;  // the whole problem in one tile
        t.classes = classes;
    } else {
        t.classes = std::min(classes, tile_classes != 0 ? tile_classes : kMaxTileClasses);
        t.rows = std::min(
            n, tile_rows != 0 ? tile_rows : std::max<std::size_t>(1, kTileBudget / t.classes));
    }
    t.kept = t.rows == n && t.classes == classes && !softcap;
    return t;
}

template <class T, class I>
linear_xent_totals<T> linear_xent_forward(const linear_xent_problem<T>& p, const I* y, T* loss,
                                          T* work, T gradient_scale) {
    detail::trace_call("linear_xent_forward");
    const auto ws = layout_of(p, work);
    ws.flags[0] = T(0);
    ws.flags[1] = T(0);
    ws.flags[2] = T(0);
    if (gradient_scale != T(0) && p.tiles.kept && p.z_loss == T(0) && loss == nullptr) {
        // One tile, a backward to follow: the loss and the gradient in one pass, as softmax_xent
        // does in run(). No row statistics: a backward with another scale recomputes.
        logits_tile(p, 0, p.n, 0, p.classes, ws.tile_a, gemms<T>{});
        const T total = softmax_xent_index_rows_fused<T, I>(p.n, p.classes, ws.tile_a, y, p.targets,
                                                            gradient_scale, nullptr, ws.tile_b);
        ws.flags[1] = T(2);
        ws.flags[2] = gradient_scale;
        return {total, T(0)};
    }
    forward_stats(p, y, ws);
    const auto& t = p.targets;
    const T eps = t.smoothing;
    const T total_weight = [&] {
        T s = T(0);
        if (eps != T(0))
            for (std::size_t j = 0; j < p.classes; ++j) s += class_weight(t, j);
        return s;
    }();
    block_sum<T> ce, zz;
    for (std::size_t i = 0; i < p.n; ++i) {
        const T* st = ws.rows + 4 * i;
        T ce_i = T(0), z_i = T(0);
        if (!is_ignored(t, y[i])) {
            const T log_sum = st[1];
            const T on_target = (T(1) - eps) * class_weight(t, std::size_t(y[i]));
            if (on_target != T(0)) ce_i += on_target * ((st[0] - st[3]) + log_sum);
            if (eps != T(0)) ce_i += eps / T(p.classes) * (st[2] + total_weight * log_sum);
            if (st[0] == -kInf<T>) ce_i = std::numeric_limits<T>::quiet_NaN();
            const T lse = st[0] + log_sum;
            z_i = lse * lse;
            ce.add(ce_i);
            zz.add(z_i);
        }
        if (loss != nullptr) loss[i] = p.z_loss != T(0) ? ce_i + p.z_loss * z_i : ce_i;
    }
    ws.flags[0] = T(1);
    ws.flags[1] = p.tiles.kept ? T(1) : T(0);
    return {ce.value(), zz.value()};
}

template <class T, class I>
void linear_xent_backward(const linear_xent_problem<T>& p, const I* y, T ce_scale, T z_scale,
                          const T* row_scale, T* work, T beta_x, T* dx, T beta_w, T* dw, T beta_b,
                          T* db) {
    detail::trace_call("linear_xent_backward");
    if (dx == nullptr && dw == nullptr && db == nullptr) return;
    const auto ws = layout_of(p, work);
    const std::size_t n = p.n, D = p.depth, C = p.classes;
    if (ws.flags[1] == T(2) && ws.flags[2] == ce_scale && row_scale == nullptr) {
        // The forward wrote this very gradient (linear_xent_forward's gradient_scale).
        const T* g = ws.tile_b;
        if (dx != nullptr) gemm<T>(false, true, n, D, C, T(1), g, C, p.w, C, beta_x, dx, D);
        if (dw != nullptr)
            detail::gemm_from<T>(true, false, D, C, n, T(1), x_at(p, 0, 0), g, C, beta_w, dw, C);
        if (db != nullptr) col_sums<T>(n, C, g, beta_b, db);
        return;
    }
    if (ws.flags[0] != T(1)) {  // no statistics on this workspace (yet): make them
        forward_stats(p, y, ws);
        ws.flags[0] = T(1);
        ws.flags[1] = p.tiles.kept ? T(1) : T(0);
    }
    const bool kept = ws.flags[1] == T(1);
    const std::size_t bm = p.tiles.rows, bc = p.tiles.classes;
    const auto& t = p.targets;
    const T eps = t.smoothing;
    const bool softcap = p.softcap > T(0);
    T total_weight = T(0);
    if (eps != T(0))
        for (std::size_t j = 0; j < C; ++j) total_weight += class_weight(t, j);
    if (C == 0) {  // no logits: the gradients are 0
        scale_by_beta(n * D, beta_x, dx);
        return;
    }
    // A beta other than 0 or 1 is applied up front, so that every GEMM below has beta 0 or 1
    // (see team: the bits then do not depend on how rows and columns are shared).
    const auto unit_beta = [](std::size_t count, T& beta, T* y) {
        if (y == nullptr || beta == T(0) || beta == T(1)) return;
        axpby<T>(count, beta, y, T(0), y);
        beta = T(1);
    };
    unit_beta(n * D, beta_x, dx);
    unit_beta(D * C, beta_w, dw);
    // Without soft-cap (and not kept) G is made in place of the logits, and tiles A and B take
    // turns, so that the threads need not meet again before the next tile: a thread writes tile
    // k + 2's rows only after tile k + 1's dW barrier (team_gemm's first) or, without dW, its
    // barrier before db, which every thread reaches only after it has finished with tile k (its
    // rows, its part of G packed for dW, its db columns). With neither dW nor db there is no
    // such barrier (and the row shares move around a shorter last row block), so the threads
    // meet after every tile. One thread keeps to tile A, which stays in L2. dW is shared by its
    // rows (of D), so that G, dW's B, is packed once for all threads, as the W slices of the
    // logits and dx GEMMs are (team_gemm.hpp).
    team threads(use_team(p));
    // One buffer: the packed W slice (logits) and its transpose (dx), shared by the threads and
    // by every row block of a class tile, then team_gemm's packed G (dW).
    const std::size_t w_size = kept ? 0 : detail::packed_b_size<T>(D, bc);
    const std::size_t wt_size = kept ? 0 : detail::packed_b_size<T>(bc, D);
    T* const buffer =
        kept || n == 0
            ? nullptr
            : detail::team_gemm_buffer<T>(w_size + wt_size + detail::team_gemm_shared_size<T>(bc));
    if (n != 0)
        threads.run([&](team& tm, std::size_t tid, std::size_t nth) {
            const gemms<T> mm = tm.gemms_for(
                p.tiles, buffer != nullptr ? buffer + w_size + wt_size : nullptr, tid, nth);
            const bool alternate = !kept && !softcap && nth > 1 &&
                                   (dw != nullptr || db != nullptr) &&
                                   mm.how == gemms<T>::mode::team;
            const share drows(D, kRowGranule, tid, nth);
            std::size_t k = 0;                            // tiles done
            for (std::size_t j0 = 0; j0 < C; j0 += bc) {  // class tiles outside: see forward_stats
                const std::size_t cols = std::min(bc, C - j0);
                const T* pw = !kept ? mm.pack(tm, false, D, cols, p.w + j0, C, buffer) : nullptr;
                const T* pwt = !kept && dx != nullptr
                                   ? mm.pack(tm, true, cols, D, p.w + j0, C, buffer + w_size)
                                   : nullptr;
                for (std::size_t i0 = 0; i0 < n; i0 += bm, ++k) {
                    const std::size_t rows = std::min(bm, n - i0);
                    const share mine(rows, kRowGranule, tid, nth);
                    // s: the (capped) logits, or e^{s − M} when kept; G: the gradient tile.
                    T* s = alternate && k % 2 == 1 ? ws.tile_b : ws.tile_a;
                    T* g = kept || softcap ? ws.tile_b : s;
                    // This thread's rows: the logits, G, and their share of dx. (The GEMMs stay
                    // outside tm.step: in a team every thread must reach their barriers.)
                    T* const s_mine = s + mine.begin * cols;
                    T* const g_mine = g + mine.begin * cols;
                    if (!kept)
                        logits_tile(p, i0 + mine.begin, mine.size(), j0, cols, s_mine, mm, pw);
                    tm.step([&] {
                        gradient_rows(p, y, ws, kept, total_weight, ce_scale, z_scale, row_scale,
                                      i0 + mine.begin, mine.size(), j0, cols, s_mine, g_mine);
                    });
                    if (pwt != nullptr)
                        detail::gemm_packed_b<T>(false, mine.size(), D, cols, T(1), {g_mine, cols},
                                                 pwt, j0 == 0 ? beta_x : T(1),
                                                 dx + (i0 + mine.begin) * D, D);
                    else if (dx != nullptr)
                        mm(false, true, mine.size(), D, cols, T(1), {g_mine, cols}, p.w + j0, C,
                           j0 == 0 ? beta_x : T(1), dx + (i0 + mine.begin) * D, D);
                    // The whole G is needed from here on: team_gemm's first barrier waits for it
                    // (and without a team there is one thread).
                    if (dw != nullptr)
                        mm(true, false, drows.size(), cols, rows, T(1), x_at(p, i0, drows.begin), g,
                           cols, i0 == 0 ? beta_w : T(1), dw + drows.begin * C + j0, C);
                    if (db != nullptr) {
                        if (dw == nullptr || mm.how != gemms<T>::mode::team) tm.barrier(nth);
                        const share cs(cols, kColGranule, tid, nth);
                        tm.step([&] {
                            col_sums_ld<T>(rows, cs.size(), g + cs.begin, cols,
                                           i0 == 0 ? beta_b : T(1), db + j0 + cs.begin);
                        });
                    }
                    if (!alternate) tm.barrier(nth);  // G is overwritten by the next tile
                }
            }
        });
    if (n == 0) {  // no rows: dW and db get 0 + beta · old
        scale_by_beta(D * C, beta_w, dw);
        scale_by_beta(C, beta_b, db);
    }
}

#define FUSEGRAD_INSTANTIATE_LINEAR_XENT(T, I)                                              \
    template linear_xent_totals<T> linear_xent_forward<T, I>(const linear_xent_problem<T>&, \
                                                             const I*, T*, T*, T);          \
    template void linear_xent_backward<T, I>(const linear_xent_problem<T>&, const I*, T, T, \
                                             const T*, T*, T, T*, T, T*, T, T*);

FUSEGRAD_INSTANTIATE_LINEAR_XENT(float, std::int32_t)
FUSEGRAD_INSTANTIATE_LINEAR_XENT(float, std::int64_t)
FUSEGRAD_INSTANTIATE_LINEAR_XENT(double, std::int32_t)
FUSEGRAD_INSTANTIATE_LINEAR_XENT(double, std::int64_t)

#undef FUSEGRAD_INSTANTIATE_LINEAR_XENT

}  // namespace fusegrad::kernels
