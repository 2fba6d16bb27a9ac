# Replacement for Catch2 2.13's CatchAddTests.cmake, the script that catch_discover_tests() runs
# after each build of a test executable (tests/CMakeLists.txt points catch_discover_tests at it).
#
# Why: the stock script splits the listing into a CMake list, so a test name with an unbalanced
# '[' (e.g. "a label outside [0, C) throws") swallows every later name into one ctest test whose
# Catch filter matches nothing, and that test passes without running anything. This script
# walks the listing line by line instead, and also:
#   - escapes all of Catch's test-spec characters (\ , [ ] " ~) in the filter;
#   - runs every test with `--warn NoTests`, so a filter that matches no test case fails;
#   - fails the build when listing the tests fails (a crash, a sanitizer report, or an exit code
#     that is not the number of tests listed, which is what Catch returns).
#
# Inputs (-D, as passed by catch_discover_tests): TEST_TARGET TEST_EXECUTABLE TEST_EXECUTOR
# TEST_WORKING_DIR TEST_SPEC TEST_EXTRA_ARGS TEST_PROPERTIES TEST_PREFIX TEST_SUFFIX TEST_LIST
# CTEST_FILE (TEST_REPORTER and TEST_OUTPUT_* are not supported).
cmake_minimum_required(VERSION 3.21)

if(TEST_REPORTER OR TEST_OUTPUT_DIR)
    message(FATAL_ERROR "FusegradCatchAddTests.cmake: REPORTER/OUTPUT_DIR are not supported")
endif()
if(NOT EXISTS "${TEST_EXECUTABLE}")
    message(FATAL_ERROR "test executable '${TEST_EXECUTABLE}' does not exist")
endif()

execute_process(
    COMMAND ${TEST_EXECUTOR} "${TEST_EXECUTABLE}" ${TEST_SPEC} --list-test-names-only
    WORKING_DIRECTORY "${TEST_WORKING_DIR}"
    RESULT_VARIABLE result
    OUTPUT_VARIABLE output
    ERROR_VARIABLE errors)

# Quotes one argument for a CMake script as a bracket argument.
function(bracket out value)
    set(eq "=")
    while(value MATCHES "\\]${eq}\\]")
        string(APPEND eq "=")
    endwhile()
    set(${out} "[${eq}[${value}]${eq}]" PARENT_SCOPE)
endfunction()

# Collect the names, one per line (no list splitting: names may hold ';', '[' or ']').
string(REPLACE "\r" "" output "${output}")
set(names_count 0)
set(script "")
set(all_names "")
set(rest "${output}")
while(NOT rest STREQUAL "")
    string(FIND "${rest}" "\n" nl)
    if(nl EQUAL -1)
        set(line "${rest}")
        set(rest "")
    else()
        string(SUBSTRING "${rest}" 0 ${nl} line)
        math(EXPR start "${nl} + 1")
        string(SUBSTRING "${rest}" ${start} -1 rest)
    endif()
    if(line STREQUAL "")
        continue()
    endif()
    # Catch prints names that start with '#' in double quotes.
    if(line MATCHES "^\"(#.*)\"$")
        set(line "${CMAKE_MATCH_1}")
    endif()
    math(EXPR names_count "${names_count} + 1")

    # The Catch filter that selects exactly this test case.
    set(filter "")
    string(LENGTH "${line}" len)
    if(len GREATER 0)
        math(EXPR last "${len} - 1")
        foreach(i RANGE 0 ${last})
            string(SUBSTRING "${line}" ${i} 1 c)
            if(c MATCHES "[][\\\\,\"~]")
                string(APPEND filter "\\")
            endif()
            string(APPEND filter "${c}")
        endforeach()
    endif()

    set(name "${TEST_PREFIX}${line}${TEST_SUFFIX}")
    bracket(qname "${name}")
    set(cmd "")
    foreach(arg IN LISTS TEST_EXECUTOR)
        bracket(q "${arg}")
        string(APPEND cmd " ${q}")
    endforeach()
    bracket(q "${TEST_EXECUTABLE}")
    string(APPEND cmd " ${q}")
    bracket(q "${filter}")
    string(APPEND cmd " ${q} --warn NoTests")
    foreach(arg IN LISTS TEST_EXTRA_ARGS)
        bracket(q "${arg}")
        string(APPEND cmd " ${q}")
    endforeach()
    set(props "")
    bracket(q "${TEST_WORKING_DIR}")
    string(APPEND props " WORKING_DIRECTORY ${q}")
    foreach(arg IN LISTS TEST_PROPERTIES)
        bracket(q "${arg}")
        string(APPEND props " ${q}")
    endforeach()
    string(APPEND script "add_test(${qname}${cmd})\n")
    string(APPEND script "set_tests_properties(${qname} PROPERTIES${props})\n")
    string(APPEND all_names " ${qname}")
endwhile()

# Catch exits with the number of test cases it listed (modulo 256); anything else is a failure
# (a signal, a sanitizer's exit code, an exception).
set(ok FALSE)
if(result MATCHES "^[0-9]+$")
    math(EXPR expected "${names_count} % 256")
    if(result EQUAL expected)
        set(ok TRUE)
    endif()
endif()
if(errors MATCHES "Sanitizer|runtime error:")
    set(ok FALSE)
endif()
if(NOT ok)
    message(FATAL_ERROR
        "Listing the tests of '${TEST_EXECUTABLE}' failed (exit: ${result}, ${names_count} names)\n"
        "stdout:\n${output}\nstderr:\n${errors}")
endif()
if(names_count EQUAL 0)
    message(WARNING "Test executable '${TEST_EXECUTABLE}' contains no tests")
endif()
if(NOT errors STREQUAL "")
    message("${errors}")
endif()

if(TEST_LIST)
    string(APPEND script "set(${TEST_LIST}${all_names})\n")
endif()
file(WRITE "${CTEST_FILE}" "${script}")
