#pragma once
/// @file
/// The registry of ops: `fusegrad::op::all_ops`, every op type of every header in
/// include/fusegrad/ops/, and `op_headers`, their stems. It collects itself: CMake generates
/// fusegrad/ops/all.hpp from the headers on disk, each of which declares
/// `header_ops::<its stem>`, the list of the ops it defines. The gradient-law tests
/// (tests/check/test_op_laws.cpp) run their laws over all_ops; an op without a law fixture
/// fails there, and tests/check/test_op_registry.cpp checks the registry against the files.

#include "fusegrad/grad/plan.hpp"
#include "fusegrad/ops/all.hpp"
