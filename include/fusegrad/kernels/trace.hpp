#pragma once
/// @file
/// A record of which kernels ran, for tests that must prove a fused kernel ran (and the
/// unfused ones did not). Off unless a `trace_scope` is alive on the calling thread; then each
/// traced kernel call appends its name. Costs one thread-local load and branch per call.

#include <string_view>
#include <vector>

namespace fusegrad::kernels {

namespace detail {
extern thread_local std::vector<std::string_view>* active_trace;
inline void trace_call(std::string_view kernel) {
    if (active_trace) active_trace->push_back(kernel);
}
}  // namespace detail

/// While alive, records the names of the kernels called on this thread (not nestable).
class trace_scope {
public:
    trace_scope() { detail::active_trace = &calls_; }
    ~trace_scope() { detail::active_trace = nullptr; }
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
