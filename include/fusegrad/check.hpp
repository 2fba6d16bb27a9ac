#pragma once
/// @file
/// fusegrad's gradient checker: `fg::check::gradcheck`, `jacobian`, `verify_rule`. See
/// docs/gradient-checking.md.

#include "fusegrad/check/comparison.hpp"
#include "fusegrad/check/double_arrays.hpp"
#include "fusegrad/check/gradcheck.hpp"
#include "fusegrad/check/gradcheck_run.hpp"
#include "fusegrad/check/input_spec.hpp"
#include "fusegrad/check/jacobian.hpp"
#include "fusegrad/check/options.hpp"
#include "fusegrad/check/random.hpp"
#include "fusegrad/check/report.hpp"
#include "fusegrad/check/text_table.hpp"
#include "fusegrad/check/to_double.hpp"
#include "fusegrad/check/verify_rule.hpp"
