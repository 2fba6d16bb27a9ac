# Compile-fail test, run by ctest as `cmake -D... -P RunCompileFailTest.cmake`.
#
# Builds the (EXCLUDE_FROM_ALL) object target of one tests/compile_fail/<stem>.cpp and passes
# when the build fails AND the compiler output matches the regular expression given on the
# file's first line, `// expect: <regex>`. The source's path and name are scrubbed from the
# output before matching, so a regex cannot match the file name instead of the diagnostic.
#
# Inputs (-D): BUILD_DIR, TARGET, CONFIG (may be empty), SOURCE
cmake_minimum_required(VERSION 3.21)

file(STRINGS "${SOURCE}" first_line LIMIT_COUNT 1)
if(NOT first_line MATCHES "^[ \t]*//[ \t]*expect:[ \t]*(.*[^ \t\r])[ \t\r]*$")
    message(FATAL_ERROR "${SOURCE}: the first line must be `// expect: <regex>`")
endif()
set(expect "${CMAKE_MATCH_1}")

set(config_args "")
if(CONFIG)
    set(config_args --config "${CONFIG}")
endif()
execute_process(
    COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}" ${config_args}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE out)

get_filename_component(stem "${SOURCE}" NAME_WE)
set(scrubbed "${out}")
string(REPLACE "${SOURCE}" "<source>" scrubbed "${scrubbed}")
string(REPLACE "${stem}" "<stem>" scrubbed "${scrubbed}")

if(rc EQUAL 0)
    message("${out}")
    message(FATAL_ERROR "${SOURCE} compiled, but it must not (expected: ${expect})")
endif()
if(NOT scrubbed MATCHES "${expect}")
    message("${out}")
    message(FATAL_ERROR "${SOURCE} failed to compile, but without the expected message: ${expect}")
endif()
message(STATUS "${stem}: fails to compile as expected (${expect})")
