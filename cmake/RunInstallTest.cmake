# Install/consumer test, run as `cmake -D... -P RunInstallTest.cmake` by ctest (install_consumer).
#
# Installs the fusegrad build tree into a scratch prefix, then configures, builds and runs the
# standalone consumer project (tests/install/consumer) against that prefix with
# find_package(fusegrad CONFIG REQUIRED).
#
# Inputs (-D):
#   BUILD_DIR          fusegrad build tree to install
#   CONFIG             configuration to install/build (multi-config generators; may be empty)
#   WORK_DIR           scratch directory (wiped first): holds prefix/ and build/
#   CONSUMER_SOURCE    source dir of the consumer project
#   GENERATOR          CMake generator of the fusegrad build
#   MAKE_PROGRAM       its make program (ninja/make), may be empty
#   CXX_COMPILER       C++ compiler of the fusegrad build
#   CXX_LAUNCHER       compiler launcher (ccache), may be empty
#   BUILD_TYPE         CMAKE_BUILD_TYPE of the fusegrad build (single-config), may be empty
#   EXTRA_CXX_FLAGS    extra compile flags (the sanitizer flags), space separated, may be empty
#   EXTRA_LINK_FLAGS   extra link flags (the sanitizer flags), space separated, may be empty
cmake_minimum_required(VERSION 3.21)

foreach(var BUILD_DIR WORK_DIR CONSUMER_SOURCE GENERATOR CXX_COMPILER)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
        message(FATAL_ERROR "RunInstallTest.cmake: ${var} is not set")
    endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs one step; on failure prints its full output and fails the test.
function(run_step name)
    string(JOIN " " pretty ${ARGN})
    message(STATUS "[install_consumer] ${name}: ${pretty}")
    execute_process(
        COMMAND ${ARGN}
        RESULT_VARIABLE rc
        OUTPUT_VARIABLE out
        ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
        message("${out}")
        message(FATAL_ERROR "[install_consumer] step '${name}' failed (exit code: ${rc})")
    endif()
    set(step_output "${out}" PARENT_SCOPE)
endfunction()

set(config_args "")
if(CONFIG)
    set(config_args --config "${CONFIG}")
endif()

# (a) install
run_step("install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}" ${config_args})
if(NOT EXISTS "${prefix}/include/fusegrad")
    message(FATAL_ERROR "[install_consumer] ${prefix}/include/fusegrad was not installed")
endif()

# (b) configure the consumer against the installed prefix only
set(configure_args
    -S "${CONSUMER_SOURCE}" -B "${consumer_build}"
    -G "${GENERATOR}"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
    "-DCMAKE_PREFIX_PATH=${prefix}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
if(MAKE_PROGRAM)
    list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_LAUNCHER)
    list(APPEND configure_args "-DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_LAUNCHER}")
endif()
if(BUILD_TYPE)
    list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
endif()
if(EXTRA_CXX_FLAGS)
    list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${EXTRA_CXX_FLAGS}")
endif()
if(EXTRA_LINK_FLAGS)
    list(APPEND configure_args "-DCMAKE_EXE_LINKER_FLAGS=${EXTRA_LINK_FLAGS}")
endif()
run_step("configure consumer" "${CMAKE_COMMAND}" ${configure_args})

# (c) build
run_step("build consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" ${config_args})

# (d) run both consumers (fusegrad::fusegrad, and fusegrad::core alone)
foreach(consumer fusegrad_consumer fusegrad_core_consumer)
    if(CONFIG AND EXISTS "${consumer_build}/${CONFIG}/${consumer}")
        set(exe "${consumer_build}/${CONFIG}/${consumer}")
    else()
        set(exe "${consumer_build}/${consumer}")
    endif()
    run_step("run ${consumer}" "${exe}")
    message("${step_output}")
endforeach()
message(STATUS "[install_consumer] passed")
