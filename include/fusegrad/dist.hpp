#pragma once
/// @file
/// fusegrad's data-parallel training (the target fusegrad::dist, part of fusegrad::fusegrad):
/// the processes of a run and gradient synchronisation across them, fast (bucketed allreduce)
/// or deterministic (one fixed reduction tree over blocks of samples, bitwise the same for
/// any number of processes). See docs/distributed.md.

#include "fusegrad/dist/block_tree.hpp"
#include "fusegrad/dist/communicator.hpp"
#include "fusegrad/dist/gradient_sync.hpp"
