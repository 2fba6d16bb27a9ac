#pragma once
/// @file
/// fusegrad's training toolkit (the target fusegrad::nn, or fusegrad::fusegrad): optimizers,
/// initialisers, IDX data and batches, metrics, a progress line, thread control, .npy files and
/// checkpoints, PNG and SVG output. The graph itself is fusegrad/fusegrad.hpp.

#include "fusegrad/io/image.hpp"
#include "fusegrad/io/plot.hpp"
#include "fusegrad/nn/adam.hpp"
#include "fusegrad/nn/checkpoint.hpp"
#include "fusegrad/nn/data_error.hpp"
#include "fusegrad/nn/data_parallel.hpp"
#include "fusegrad/nn/dataset.hpp"
#include "fusegrad/nn/idx.hpp"
#include "fusegrad/nn/init.hpp"
#include "fusegrad/nn/metrics.hpp"
#include "fusegrad/nn/npy.hpp"
#include "fusegrad/nn/params.hpp"
#include "fusegrad/nn/progress.hpp"
#include "fusegrad/nn/sgd.hpp"
#include "fusegrad/nn/threads.hpp"
