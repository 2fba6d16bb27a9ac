#pragma once
// Test support: the special floating-point values tests feed to kernels.

#include <limits>

namespace fusegrad_test {

template <class T>
constexpr T kNaN = std::numeric_limits<T>::quiet_NaN();
template <class T>
constexpr T kInf = std::numeric_limits<T>::infinity();

}  // namespace fusegrad_test
