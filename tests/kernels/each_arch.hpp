#pragma once
// FUSEGRAD_EACH_ARCH(): placed first in a Catch test case, runs the whole case once per
// instruction set that this CPU and build have (fusegrad::kernels::available_archs()), with the
// kernels switched to that set for the run, and names the set in every failure message.

#include <catch2/catch.hpp>

#include "fusegrad/kernels/arch.hpp"

#define FUSEGRAD_EACH_ARCH()                                                              \
    const ::fusegrad::kernels::arch fusegrad_test_arch_ =                                 \
        GENERATE(from_range(::fusegrad::kernels::available_archs()));                     \
    const ::fusegrad::kernels::arch_scope fusegrad_test_arch_scope_(fusegrad_test_arch_); \
    INFO("kernels on " << ::fusegrad::kernels::arch_name(fusegrad_test_arch_))
