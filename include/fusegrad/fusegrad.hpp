#pragma once
/// @file
/// The umbrella header: everything a user of fusegrad needs. `namespace fg = fusegrad;`

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/fixed_string.hpp"
#include "fusegrad/core/leaf.hpp"
#include "fusegrad/core/node.hpp"
#include "fusegrad/core/shape.hpp"
#include "fusegrad/core/tensor_ref.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/expr/builders.hpp"
#include "fusegrad/expr/leaves.hpp"
#include "fusegrad/grad/graph.hpp"
#include "fusegrad/grad/plan.hpp"
#include "fusegrad/kernels/kernels.hpp"
