#pragma once
/// @file
/// The exceptions fusegrad throws for bad input. Each message names the op and the values.

#include <stdexcept>
#include <string>

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
