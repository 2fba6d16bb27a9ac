#pragma once
/// @file
/// A progress line for training loops: epoch, batch, throughput, running loss and ETA.
///
/// On a terminal one line is redrawn in place (carriage return, at most ten times a second).
/// Anywhere else (a pipe, a log file, CI) carriage returns would pile up into one unreadable
/// line, so the same information is written as plain lines: one per epoch, plus one every
/// `plain_every` batches if asked.

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <ostream>
#include <string>
#include <utility>

#include <unistd.h>

namespace fusegrad::nn {

/// Whether standard output is a terminal (POSIX isatty).
inline bool stdout_is_terminal() noexcept {
    return ::isatty(::fileno(stdout)) == 1;
}

/// A progress display for `epochs` epochs of `batches` batches each.
class progress {
  public:
    /// Seconds from some fixed origin; the default reads std::chrono::steady_clock.
    using clock = std::function<double()>;

    /// `interactive`: redraw one line in place (use stdout_is_terminal()); otherwise plain
    /// lines. `plain_every` > 0 adds a plain line every that many batches.
    progress(std::ostream& out, std::size_t epochs, std::size_t batches, bool interactive,
             std::size_t plain_every = 0, clock now = {})
        : out_(out),
          epochs_(epochs),
          batches_(batches),
          interactive_(interactive),
          plain_every_(plain_every),
          now_(now ? std::move(now) : clock(&steady_seconds)) {
        start_ = now_();
    }

    /// Begins epoch `epoch` (counted from 1).
    void start_epoch(std::size_t epoch) {
        epoch_ = epoch;
        batch_ = 0;
        loss_sum_ = 0.0;
        epoch_samples_ = 0;
        epoch_start_ = now_();
    }

    /// Records that batch `batch` (counted from 1) of `samples` samples finished with `loss`.
    void update(std::size_t batch, std::size_t samples, double loss) {
        batch_ = batch;
        loss_sum_ += loss;
        epoch_samples_ += samples;
        ++batches_done_;
        const double t = now_();
        last_update_ = t;
        if (interactive_) {
            if (t - last_draw_ >= 0.1 || batch == batches_) {
                last_draw_ = t;
                out_ << '\r' << line(t) << "\x1b[K" << std::flush;
                drawn_ = true;
            }
        } else if (plain_every_ > 0 && batch % plain_every_ == 0 && batch != batches_) {
            out_ << line(t) << '\n' << std::flush;
        }
    }

    /// Ends the epoch: its final line as of the last update (so that an evaluation run before
    /// this call is not counted as training time), followed by `summary`, kept on screen.
    void end_epoch(const std::string& summary = {}) {
        const double t = batch_ > 0 ? last_update_ : now_();
        if (interactive_ && drawn_) out_ << '\r';
        out_ << line(t) << "  " << format_seconds(t - epoch_start_) << " this epoch";
        if (!summary.empty()) out_ << "  " << summary;
        out_ << (interactive_ ? "\x1b[K\n" : "\n") << std::flush;
        drawn_ = false;
    }

    /// The text of the progress line at time `t`.
    std::string line(double t) const {
        const double elapsed = t - epoch_start_;
        const double total_elapsed = t - start_;
        char buf[256];
        const double rate = elapsed > 0 ? static_cast<double>(epoch_samples_) / elapsed : 0.0;
        const double mean_loss = batch_ > 0 ? loss_sum_ / static_cast<double>(batch_) : 0.0;
        const std::size_t left = epochs_ * batches_ - batches_done_;
        const double eta = batches_done_ > 0 ? total_elapsed / static_cast<double>(batches_done_) *
                                                   static_cast<double>(left)
                                             : 0.0;
        std::snprintf(buf, sizeof buf,
                      "epoch %zu/%zu  batch %zu/%zu  %.0f samples/s  loss %.4f  ETA %s", epoch_,
                      epochs_, batch_, batches_, rate, mean_loss, format_seconds(eta).c_str());
        return buf;
    }

    /// The mean loss over the batches of the current epoch so far.
    double mean_loss() const noexcept {
        return batch_ > 0 ? loss_sum_ / static_cast<double>(batch_) : 0.0;
    }

    /// "0.42 s", "12.3 s", "3m05s".
    static std::string format_seconds(double s) {
        char buf[32];
        if (s < 10)
            std::snprintf(buf, sizeof buf, "%.2f s", s);
        else if (s < 60)
            std::snprintf(buf, sizeof buf, "%.1f s", s);
        else
            std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60,
                          static_cast<int>(s) % 60);
        return buf;
    }

  private:
    std::ostream& out_;
    std::size_t epochs_, batches_;
    bool interactive_;
    std::size_t plain_every_;
    clock now_;
    double start_ = 0, epoch_start_ = 0, last_draw_ = -1e300, last_update_ = 0;
    std::size_t epoch_ = 0, batch_ = 0, batches_done_ = 0, epoch_samples_ = 0;
    double loss_sum_ = 0;
    bool drawn_ = false;

    static double steady_seconds() {
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }
};

}  // namespace fusegrad::nn
