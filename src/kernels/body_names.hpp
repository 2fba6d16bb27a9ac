#pragma once
/// @file
/// Internal: the traced name of a body's backward ("sigmoid_backward"), shared by the unary and
/// binary front doors.

#include <string>

namespace fusegrad::kernels::detail {

template <class K>
const std::string& backward_name() {
    static const std::string s = std::string(K::name) + "_backward";
    return s;
}

}  // namespace fusegrad::kernels::detail
