// The thread-local sink behind fusegrad::kernels::trace_scope.
#include "fusegrad/kernels/trace.hpp"

namespace fusegrad::kernels::detail {
thread_local std::vector<std::string_view>* active_trace = nullptr;
}
