#pragma once
// Shared by the kernel tests: buffers deliberately off alignment, positive test values, the
// (value, label index) type pairs the label kernels are instantiated for, and the SIMD sets to
// compare with the scalar reference.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "fusegrad/kernels/arch.hpp"

namespace fusegrad_test {

/// n elements starting one element past a 64-byte boundary, so that no SIMD load of a kernel
/// under test is aligned by luck.
template <class T>
class unaligned {
  public:
    explicit unaligned(std::size_t n, T value = T(0)) : storage_(n + 64 / sizeof(T) + 1, value) {
        const auto addr = reinterpret_cast<std::uintptr_t>(storage_.data());
        data_ = storage_.data() + ((64 - addr % 64) % 64) / sizeof(T) + 1;
        n_ = n;
    }
    unaligned(const unaligned& o) : unaligned(o.n_) {
        for (std::size_t i = 0; i < n_; ++i) data_[i] = o.data_[i];
    }
    unaligned& operator=(const unaligned&) = delete;
    T* data() { return data_; }
    const T* data() const { return data_; }
    T& operator[](std::size_t i) { return data_[i]; }
    const T& operator[](std::size_t i) const { return data_[i]; }
    std::size_t size() const { return n_; }

  private:
    std::vector<T> storage_;
    T* data_ = nullptr;
    std::size_t n_ = 0;
};

/// Positive values in about [0.1, 2], e.g. class weights or unnormalised targets.
template <class T>
std::vector<T> positives(std::size_t count, unsigned seed) {
    std::vector<T> v(count);
    for (std::size_t i = 0; i < count; ++i)
        v[i] = static_cast<T>(1.05 + 0.95 * std::cos(1.91 * static_cast<double>(i) + seed));
    return v;
}

/// Pairs a value type with a label index type for the label kernels.
template <class T, class I>
struct Types {
    using value = T;
    using index = I;
};
using F32I32 = Types<float, std::int32_t>;
using F32I64 = Types<float, std::int64_t>;
using F64I32 = Types<double, std::int32_t>;
using F64I64 = Types<double, std::int64_t>;

/// The SIMD sets only: the scalar reference is what they are compared with.
inline std::vector<fusegrad::kernels::arch> simd_archs() {
    std::vector<fusegrad::kernels::arch> out;
    for (fusegrad::kernels::arch a : fusegrad::kernels::available_archs())
        if (a != fusegrad::kernels::arch::scalar) out.push_back(a);
    return out;
}

/// Runs f() with the kernels on `a`.
template <class F>
void on(fusegrad::kernels::arch a, F f) {
    const fusegrad::kernels::arch_scope scope(a);
    f();
}

/// Machine epsilon of T, as a double for bounds.
template <class T>
constexpr double kEps = std::numeric_limits<T>::epsilon();

}  // namespace fusegrad_test
