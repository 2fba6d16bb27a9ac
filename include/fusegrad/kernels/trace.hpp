#pragma once
/// @file
/// A record of which kernels ran, for tests that must prove a fused kernel ran (and the
/// unfused ones did not). Off unless a `trace_scope` is alive on the calling thread; then each
/// traced kernel call appends its name. Costs one out-of-line call, a thread-local load and a
/// branch per kernel call.

#include <cstddef>
#include <string_view>
#include <vector>

namespace fusegrad::kernels {

namespace detail {
// Defined in src/kernels/trace.cpp, which owns the thread-local sink. (An `extern
// thread_local` read from inline code trips UBSan's null-store check through the TLS wrapper.)
void trace_call(std::string_view kernel) noexcept;
void set_trace_sink(std::vector<std::string_view>* sink) noexcept;
}  // namespace detail

/// While alive, records the names of the kernels called on this thread (not nestable).
class trace_scope {
  public:
    trace_scope() { detail::set_trace_sink(&calls_); }
    ~trace_scope() { detail::set_trace_sink(nullptr); }
    trace_scope(const trace_scope&) = delete;
    trace_scope& operator=(const trace_scope&) = delete;

    const std::vector<std::string_view>& calls() const noexcept { return calls_; }
    /// How many calls of `kernel` were recorded.
    std::size_t count(std::string_view kernel) const noexcept {
        std::size_t n = 0;
        for (auto c : calls_) n += c == kernel;
        return n;
    }

  private:
    std::vector<std::string_view> calls_;
};

}  // namespace fusegrad::kernels
