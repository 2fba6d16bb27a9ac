#pragma once
/// @file
/// The exceptions fusegrad throws for bad input. Each message names the op and the values.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace fusegrad {

/// Operand shapes that do not fit an op, e.g. `linear: x has 785 columns but W has 784 rows`.
class shape_error : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

/// A class index outside [0, classes), e.g. `nll: label y[17] = 12 is outside [0, 10)`.
class label_error : public std::out_of_range {
  public:
    using std::out_of_range::out_of_range;
};

/// The label_error of every op that indexes with an integer array: "<op>: <entry>[<i>] =
/// <value> is outside [0, <bound>)<more>", e.g. `nll: label y[17] = 12 is outside [0, 10)`
/// (entry "label y"), `embedding: index idx[1] = 4 is outside [0, 4)` (entry "index idx").
[[noreturn]] inline void throw_label_outside(std::string_view op, std::string_view entry,
                                             std::size_t i, long long value, std::size_t bound,
                                             std::string_view more = {}) {
    std::string m(op);
    m.append(": ").append(entry).append("[").append(std::to_string(i)).append("] = ");
    m.append(std::to_string(value)).append(" is outside [0, ").append(std::to_string(bound));
    m.append(")").append(more);
    throw label_error(m);
}

/// A graph used in a way its bindings do not allow (two arrays bound to one leaf name, ...).
class binding_error : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

/// An input value outside an op's domain, e.g. `binary_cross_entropy: p[3] = 1.5 is not a
/// probability in [0, 1]`.
class value_error : public std::domain_error {
  public:
    using std::domain_error::domain_error;
};

}  // namespace fusegrad
