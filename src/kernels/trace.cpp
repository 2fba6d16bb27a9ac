// The thread-local sink behind fusegrad::kernels::trace_scope.
#include "fusegrad/kernels/trace.hpp"

namespace fusegrad::kernels::detail {

namespace {
thread_local std::vector<std::string_view>* active_trace = nullptr;
}

void trace_call(std::string_view kernel) noexcept {
    if (active_trace) {
        try {
            active_trace->push_back(kernel);
        } catch (...) {  // a trace that cannot grow loses an entry, never the kernel's work
        }
    }
}

void set_trace_sink(std::vector<std::string_view>* sink) noexcept {
    active_trace = sink;
}

}  // namespace fusegrad::kernels::detail
