#pragma once
/// @file
/// Data parallelism inside one process, as PyTorch's `nn.DataParallel` on CPU threads: each
/// training step's batch is cut into parts of consecutive rows, each part runs the whole
/// forward and backward on its own thread (its own replica of the graph, its own buffers, the
/// same weights), and the parts' gradients are added in a fixed order into the graph's own
/// gradient buffers. An optimizer then steps the graph as after `graph.run()`, or, with
/// `run(optimizer)`, inside the same threads, each on the share of the params it summed.
///
/// Why: a small-batch step is a chain of small kernels; splitting each kernel over threads
/// costs a fork/join per kernel that most of them cannot pay for (docs/performance.md). One
/// fork/join per step, around whole forward and backward passes, can.
///
/// ```cpp
/// auto graph = fg::compile(fg::mean(fg::nll(fg::softmax(logits(x)), y)));
/// auto step = fg::nn::data_parallel<"x", "y">(graph);   // two parts by default
/// fg::nn::adam adam(fg::nn::params_of(graph), {.lr = 1e-3});
/// while (data.next()) {
///     step.run(adam);     // instead of graph.run(); adam.step(graph);
///     loss = step.value();
/// }
/// // or step.run(); then adam.step(graph): the whole batch's gradients are in graph
/// ```
///
/// The contract: the graph's value is the mean (reduction::mean, the default) or the sum
/// (reduction::sum) over the rows of the named leaves of a term per row, as the cross-entropy,
/// nll, mse and bce losses are. Then the whole batch's gradient is Σ_part w_part · (the part's
/// gradient), w = the part's rows / the batch's rows for a mean, 1 for a sum. An op that mixes
/// rows (a sum over the batch inside the graph, batch statistics) breaks this contract and gets
/// a different gradient; nothing here can detect that. Dropout draws each element's mask as the
/// whole batch would when its operand's rows are the batch's rows (graph::set_batch_offset);
/// dropout on a value whose rows are not (a weight) draws another mask in each part.
///
/// Determinism: the parts are fixed by `parts` alone, each part's kernels give the same bits on
/// any number of threads, and the parts are added in part order; so for a given `parts`, the
/// gradients are bitwise the same for any thread count, one thread included (the parts then
/// run one after another). A different `parts` sums in a different order: the result differs
/// from the unsplit graph's in the last bits. Dropout draws, for every element, what the whole
/// batch would draw (graph::set_batch_offset).

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/fixed_string.hpp"
#include "fusegrad/core/shape.hpp"
#include "fusegrad/nn/params.hpp"
#include "fusegrad/nn/threads.hpp"
#include "fusegrad/ops/reduce.hpp"

namespace fusegrad::nn {

/// An optimizer whose step can be cut among threads, as fg::nn::sgd's and fg::nn::adam's:
/// begin_step(graph) on one thread, step_share(graph, t, n) on each thread t of n,
/// end_step() (see fg::nn::adam::begin_step).
template <class O, class Graph>
concept sharded_optimizer = requires(O& o, Graph& g, std::size_t t) {
    o.begin_step(g);
    o.step_share(g, t, t);
    o.end_step();
};

/// Settings of a data_parallel runner.
struct data_parallel_options {
    /// How many parts each batch is cut into: fixes the arithmetic (see above). At least 1.
    /// A batch of fewer rows than parts is cut into one part per row.
    std::size_t parts = 2;
    /// How many threads run the parts: 0 for the kernels' thread count (fg::nn::num_threads()
    /// of the calling thread), at most `parts` are used.
    std::size_t threads = 0;
    /// How the graph's value reduces over the rows: mean (weights rows / batch rows) or sum
    /// (weights 1).
    reduction loss = reduction::mean;
};

namespace detail {

/// One step of a data_parallel runner, run by the library (src/nn/data_parallel.cpp, one
/// parallel region of the kernels'; user code needs no -fopenmp): `run(ctx, part)` for every
/// part in [0, parts), each on one of `threads` threads (the kernels inside run on that thread
/// alone); then, when every part succeeded, `combine(ctx, t, n)` on each thread t of the n that
/// ran.
/// An exception of a part is rethrown after every part has finished (that of the lowest part
/// when several throw), and then combine does not run.
struct parts_job {
    std::size_t parts = 1;
    std::size_t threads = 1;
    void (*run)(void* ctx, std::size_t part) = nullptr;
    void (*combine)(void* ctx, std::size_t thread, std::size_t threads) = nullptr;
    void* ctx = nullptr;
    std::vector<std::exception_ptr>* errors = nullptr;  // the runner's, one per part when run
};
void run_parts(const parts_job& job);

/// dst[i] = w[0] · dst[i] + Σ_{k=1}^{parts−1} w[k] · src[k][i] for i in [lo, hi), the terms added
/// in k order (src[0] is not read: part 0's gradient is dst). Compiled once in the library
/// with -ffp-contract=off, so no multiply-add is fused in one slice's loop and not in
/// another's: every element's bits are the same however [0, n) is sliced among threads.
void add_parts(float* dst, const float* const* src, const float* w, std::size_t parts,
               std::size_t lo, std::size_t hi) noexcept;
void add_parts(double* dst, const double* const* src, const double* w, std::size_t parts,
               std::size_t lo, std::size_t hi) noexcept;

/// [lo, hi) of `n` items cut into `parts` nearly equal consecutive shares: share `k`.
inline std::size_t share_begin(std::size_t n, std::size_t parts, std::size_t k) noexcept {
    // ⌊n·k / parts⌋ without forming n·k: n = q·parts + r.
    return n / parts * k + n % parts * k / parts;
}

}  // namespace detail

/// Runs `Graph` (a compiled graph) on parts of each batch side by side: see the file comment.
/// `Split...` names the leaves whose rows are the batch's (the inputs and the labels). The
/// graph must outlive the runner; while the runner exists, the graph's split leaves read only
/// the first part's rows (its row windows, graph::bind_rows), and the destructor makes them
/// read their whole arrays again (a window the user had set on them is not kept). The other
/// parts run on replicas of the graph that follow its bindings at every run() (bind<Name>()
/// on the graph holds for every part). Memory: each part has its own buffers and gradients,
/// so P parts take P times the graph's arena and gradients.
template <class Graph, fixed_string... Split>
class data_parallel_runner {
  public:
    using value_type = typename Graph::value_type;

    data_parallel_runner(Graph& graph, data_parallel_options options)
        : graph_(&graph), options_(options) {
        static_assert(sizeof...(Split) > 0,
                      "fg::nn::data_parallel<names...>(graph): name the leaves whose rows are the "
                      "batch (its inputs and labels)");
        static_assert(Graph::rank == 0,
                      "fg::nn::data_parallel: the graph's value must be a scalar loss");
        static_assert(Graph::num_params > 0, "fg::nn::data_parallel: the graph has no fg::param");
        static_assert(((std::find(Graph::param_names.begin(), Graph::param_names.end(),
                                  Split.view()) == Graph::param_names.end()) &&
                       ...),
                      "fg::nn::data_parallel<names...>: a param is the same for every row; name "
                      "the leaves whose rows are the batch (its inputs and labels)");
        if (options_.parts == 0)
            throw value_error("fg::nn::data_parallel: parts must be at least 1");
        if (options_.loss != reduction::mean && options_.loss != reduction::sum)
            throw value_error(
                "fg::nn::data_parallel: the loss must reduce the rows by mean or by sum");
        replicas_.reserve(options_.parts - 1);
        for (std::size_t k = 1; k < options_.parts; ++k) replicas_.push_back(graph.replica());
    }
    data_parallel_runner(const data_parallel_runner&) = delete;
    data_parallel_runner& operator=(const data_parallel_runner&) = delete;
    ~data_parallel_runner() {
        (graph_->template bind_rows<Split>(), ...);
        graph_->set_batch_offset(base_offset_);
    }

    /// One training step on the batch the split leaves' arrays hold now: every part's forward
    /// and backward, then the graph's gradients (and value()) are the whole batch's, and its
    /// step has advanced by one. Throws shape_error when the split leaves' arrays differ in rows
    /// or hold none, and whatever a part's run throws; then the graph's step is as before and
    /// its gradients are discarded (grad<Name>() throws until the next run), so no optimizer
    /// steps on a part's gradient.
    void run() { run_with(nullptr, nullptr, {}); }

    /// run(), then the optimizer's step on the whole batch's gradients (what `run();
    /// opt.step(graph);` does, with the same bits), inside the same threads: each thread updates
    /// the share of the params whose gradients it has just summed, while they are in its
    /// core's cache, and no thread is started for the update. The optimizer must step this
    /// runner's graph. Throws as run() and as the optimizer's step(); then no param has
    /// changed and the optimizer has not counted the step. Not for gradients that must change
    /// between the backward and the step (clipping, fg::dist's averaging across processes):
    /// run() and then step() the optimizer there.
    template <sharded_optimizer<Graph> Optimizer>
    void run(Optimizer& optimizer) {
        run_with(nullptr, nullptr, refer(optimizer));
    }

    /// As run(), with a loader: `load(first, count)` fills rows [first, first + count) of the
    /// split leaves' arrays, on the thread that then runs those rows, just before it does. The
    /// arrays must already have the batch's rows (fg::nn::dataset::advance() sizes them, and its
    /// fill_rows(first, count) is such a loader). So each thread gathers the rows it trains on:
    /// they land in its core's cache, and the gathering runs in parallel too. The loader is
    /// called for disjoint ranges, possibly at the same time; whatever it throws is rethrown.
    template <class Load>
    requires(!sharded_optimizer<std::remove_cvref_t<Load>, Graph> &&
             std::invocable<Load&, std::size_t, std::size_t>) void run(Load&& load) {
        using L = std::remove_reference_t<Load>;
        run_with(&call_load<L>, const_cast<void*>(static_cast<const void*>(std::addressof(load))),
                 {});
    }

    /// run(load), then the optimizer's step as run(optimizer).
    template <class Load, sharded_optimizer<Graph> Optimizer>
    requires std::invocable<Load&, std::size_t, std::size_t>
    void run(Load&& load, Optimizer& optimizer) {
        using L = std::remove_reference_t<Load>;
        run_with(&call_load<L>, const_cast<void*>(static_cast<const void*>(std::addressof(load))),
                 refer(optimizer));
    }

  private:
    using load_fn = void (*)(void* load, std::size_t first, std::size_t count);
    // run(optimizer)'s optimizer, type-erased: begin_step before the parts, step_share on
    // each thread after its share of the sum, end_step once every thread has succeeded.
    struct optimizer_ref {
        void* self = nullptr;
        void (*begin)(void* self, Graph& graph) = nullptr;
        void (*share)(void* self, Graph& graph, std::size_t t, std::size_t n) = nullptr;
        void (*end)(void* self) = nullptr;
    };

    template <class L>
    static void call_load(void* f, std::size_t first, std::size_t count) {
        (*static_cast<L*>(f))(first, count);
    }
    template <class O>
    static optimizer_ref refer(O& o) {
        return {std::addressof(o), [](void* p, Graph& g) { static_cast<O*>(p)->begin_step(g); },
                [](void* p, Graph& g, std::size_t t, std::size_t n) {
                    static_cast<O*>(p)->step_share(g, t, n);
                },
                [](void* p) { static_cast<O*>(p)->end_step(); }};
    }

    void run_with(load_fn load, void* load_ctx, optimizer_ref optimizer) {
        load_ = load;
        load_ctx_ = load_ctx;
        optimizer_ = optimizer;
        const std::size_t rows = batch_rows();
        parts_ = std::min(options_.parts, rows);
        const std::size_t threads =
            std::min(parts_, options_.threads == 0 ? nn::num_threads() : options_.threads);
        // Every replica gets the graph's settings of now: a user's eval(), set_step() or
        // check_finite() on the graph holds for the parts too.
        const std::uint64_t step = graph_->step();
        for (std::size_t k = 0; k < parts_; ++k) {
            Graph& g = part(k);
            const std::size_t lo = detail::share_begin(rows, parts_, k);
            const std::size_t hi = detail::share_begin(rows, parts_, k + 1);
            first_[k] = lo;
            first_[k + 1] = hi;
            if (k > 0) g.bind_like(*graph_);  // the arrays the graph reads now, then the window
            (g.template bind_rows<Split>(lo, hi - lo), ...);
            g.set_batch_offset(base_offset_ + lo);
            weights_[k] = options_.loss == reduction::mean
                              ? static_cast<double>(hi - lo) / static_cast<double>(rows)
                              : 1.0;
            if (k == 0) continue;
            g.train(graph_->training());
            g.set_step(step);
            g.check_finite(graph_->check_finite());
        }
        for (std::size_t k = 0; k < parts_; ++k)
            typed_weights_[k] = static_cast<value_type>(weights_[k]);
        if (sources_.size() < threads * options_.parts) sources_.resize(threads * options_.parts);
        detail::parts_job job;
        job.parts = parts_;
        job.threads = threads;
        job.ctx = this;
        job.errors = &errors_;
        job.run = [](void* self, std::size_t k) {
            auto& r = *static_cast<data_parallel_runner*>(self);
            if (r.load_) r.load_(r.load_ctx_, r.first_[k], r.first_[k + 1] - r.first_[k]);
            r.part(k).run();
        };
        job.combine = [](void* self, std::size_t t, std::size_t n) {
            static_cast<data_parallel_runner*>(self)->combine(t, n);
        };
        // The optimizer's checks and first-step allocations, before anything has run.
        if (optimizer_.self) optimizer_.begin(optimizer_.self, *graph_);
        try {
            detail::run_parts(job);
        } catch (...) {
            graph_->set_step(step);
            graph_->discard_gradients();
            throw;
        }
        if (optimizer_.self) optimizer_.end(optimizer_.self);
        double v = 0;
        for (std::size_t k = 0; k < parts_; ++k) v += weights_[k] * double(part_values_[k]);
        value_ = static_cast<value_type>(v);
    }

  public:
    /// The whole batch's loss after run(): the parts' values, weighted as their gradients.
    value_type value() const noexcept { return value_; }
    /// The graph whose gradients run() writes (the one the runner was made from).
    Graph& graph() noexcept { return *graph_; }
    /// The settings.
    const data_parallel_options& options() const noexcept { return options_; }
    /// How many parts the last run() cut its batch into (fewer than options().parts for a
    /// batch of fewer rows).
    std::size_t parts_run() const noexcept { return parts_; }

  private:
    Graph& part(std::size_t k) noexcept { return k == 0 ? *graph_ : replicas_[k - 1]; }

    // The rows of the batch: those of the split leaves' arrays, which must agree.
    std::size_t batch_rows() const {
        std::size_t rows = 0;
        bool first = true;
        std::string names;
        auto take = [&](std::size_t r, std::string_view name) {
            names.append(names.empty() ? "" : ", ")
                .append(name)
                .append(" ")
                .append(std::to_string(r));
            if (!first && r != rows)
                throw shape_error(
                    "fg::nn::data_parallel: the split leaves' arrays differ in rows (" + names +
                    ")");
            rows = r;
            first = false;
        };
        (take(graph_->template array_rows<Split>(), Split.view()), ...);
        if (rows == 0)
            throw shape_error("fg::nn::data_parallel: the batch is empty (" + names + " rows)");
        return rows;
    }

    // Thread t of n: its share of every param's elements (detail::share_of), the parts added
    // in part order into the graph's gradient (part 0's own buffer), then the optimizer's
    // update of the same share. The same bits for any slicing (add_parts; the updates are
    // elementwise).
    void combine(std::size_t t, std::size_t n) {
        if (t == 0)
            for (std::size_t k = 0; k < parts_; ++k) part_values_[k] = part(k).value();
        if (parts_ > 1) {  // one part: its gradient is the batch's (weight 1)
            const value_type** src = sources_.data() + t * options_.parts;
            for (std::string_view name : Graph::param_names) {
                const auto dst = graph_->param_grad_buffer(name);
                for (std::size_t k = 1; k < parts_; ++k)
                    src[k] = replicas_[k - 1].param_grad(name).data;
                const auto [lo, hi] = detail::share_of(dst.size(), t, n);
                detail::add_parts(dst.data, src, typed_weights_.data(), parts_, lo, hi);
            }
        }
        if (optimizer_.self) optimizer_.share(optimizer_.self, *graph_, t, n);
    }

    Graph* graph_;
    data_parallel_options options_;
    // The graph's batch offset when the runner was made (a rank's first row under fg::dist,
    // say): the parts' offsets add to it, and the destructor puts it back.
    std::uint64_t base_offset_ = graph_->batch_offset();
    std::vector<Graph> replicas_;  // parts 1 .. parts − 1; part 0 is *graph_
    std::size_t parts_ = 0;        // the parts of the last run()
    std::vector<std::size_t> first_ = std::vector<std::size_t>(options_.parts + 1);  // rows
    load_fn load_ = nullptr;  // run(load)'s loader, type-erased, for the parts' threads
    void* load_ctx_ = nullptr;
    optimizer_ref optimizer_;  // run(optimizer)'s, for the parts' threads
    std::vector<double> weights_ = std::vector<double>(options_.parts);
    std::vector<value_type> typed_weights_ = std::vector<value_type>(options_.parts);
    // Each combining thread's list of the parts' gradients of one param (sized in run()).
    std::vector<const value_type*> sources_;
    std::vector<value_type> part_values_ = std::vector<value_type>(options_.parts);
    std::vector<std::exception_ptr> errors_;  // run_parts' (a loader may run another runner)
    value_type value_{};
};

/// A runner that trains `graph` on `options.parts` parts of each batch on up to as many threads
/// (see the file comment). `Split...` names the leaves whose rows are the batch.
template <fixed_string... Split, class Graph>
data_parallel_runner<Graph, Split...> data_parallel(Graph& graph,
                                                    data_parallel_options options = {}) {
    return data_parallel_runner<Graph, Split...>(graph, options);
}

}  // namespace fusegrad::nn
