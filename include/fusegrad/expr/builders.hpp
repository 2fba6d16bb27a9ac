#pragma once
/// @file
/// The first thirteen ops' builders, for code that includes this header: each builder now lives
/// in its op's header (fusegrad/ops/<op>.hpp) with the op's forward and vjp, as every later op's
/// does. fusegrad/fusegrad.hpp (or fusegrad/ops/all.hpp) brings every op.

#include "fusegrad/ops/add.hpp"
#include "fusegrad/ops/exp.hpp"
#include "fusegrad/ops/linear.hpp"
#include "fusegrad/ops/log.hpp"
#include "fusegrad/ops/log_softmax.hpp"
#include "fusegrad/ops/matmul.hpp"
#include "fusegrad/ops/neg.hpp"
#include "fusegrad/ops/nll.hpp"
#include "fusegrad/ops/reduce.hpp"
#include "fusegrad/ops/relu.hpp"
#include "fusegrad/ops/scale.hpp"
#include "fusegrad/ops/softmax.hpp"
#include "fusegrad/ops/softmax_xent.hpp"
#include "fusegrad/ops/sub.hpp"
