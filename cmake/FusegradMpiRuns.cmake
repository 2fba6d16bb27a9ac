# Runs programs across processes for ctest (examples/CMakeLists.txt, tests/CMakeLists.txt).
# Two modes:
#
#   -DMODE=same_weights -DEXE=<example> -DMPIRUN=<launcher;flags> -DARGS=<args> -DOUT=<dir>
#       -DRUNS=<np:threads;...> -DFILES=<W1.npy;...>
#     Runs the program EXE once per entry of RUNS (np 0: on its own, without mpirun; otherwise
#     mpirun -np <np>) with --threads <threads> and --out <dir>/<np>_<threads>, and fails unless
#     every run succeeds and writes FILES with bitwise the same bytes as the first run.
#
#   -DMODE=must_fail -DCOMMAND=<command;args> -DEXPECT=<regex> -DWITHIN=<seconds>
#     Fails unless the command exits non-zero, prints something matching EXPECT, and ends
#     within WITHIN seconds (a failing rank must end every rank, not leave them waiting).
#
# Every list argument comes joined by "|".
cmake_minimum_required(VERSION 3.21)
foreach(var MPIRUN ARGS RUNS FILES COMMAND)
    string(REPLACE "|" ";" ${var} "${${var}}")
endforeach()

if(MODE STREQUAL "same_weights")
    file(REMOVE_RECURSE "${OUT}")
    set(first "")
    foreach(run IN LISTS RUNS)
        string(REPLACE ":" ";" parts "${run}")
        list(GET parts 0 np)
        list(GET parts 1 threads)
        set(dir "${OUT}/${np}_${threads}")
        if(np EQUAL 0)
            set(cmd "${EXE}")
        else()
            set(cmd ${MPIRUN} -np ${np} "${EXE}")
        endif()
        message(STATUS "run: ${cmd} ${ARGS} --threads ${threads} --out ${dir}")
        execute_process(COMMAND ${cmd} ${ARGS} --threads ${threads} --out "${dir}"
                        RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
        if(NOT rc EQUAL 0)
            message(FATAL_ERROR "np ${np}, ${threads} thread(s) exited with ${rc}:\n${out}\n${err}")
        endif()
        string(REGEX MATCH "test accuracy[^\n]*" acc "${out}")
        message(STATUS "  ${acc}")
        if(first STREQUAL "")
            set(first "${dir}")
            continue()
        endif()
        foreach(f IN LISTS FILES)
            file(SHA256 "${first}/${f}" a)
            file(SHA256 "${dir}/${f}" b)
            if(NOT a STREQUAL b)
                message(FATAL_ERROR "${f} differs between ${first} and ${dir}")
            endif()
        endforeach()
        message(STATUS "  ${FILES}: the same bytes as ${first}")
    endforeach()
elseif(MODE STREQUAL "must_fail")
    string(TIMESTAMP t0 "%s")
    execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    string(TIMESTAMP t1 "%s")
    math(EXPR seconds "${t1} - ${t0}")
    message(STATUS "exit ${rc} after ${seconds} s:\n${err}")
    if(rc EQUAL 0)
        message(FATAL_ERROR "the run succeeded; it should have failed")
    endif()
    if(NOT "${out}${err}" MATCHES "${EXPECT}")
        message(FATAL_ERROR "no line matches '${EXPECT}' in:\n${out}\n${err}")
    endif()
    if(seconds GREATER WITHIN)
        message(FATAL_ERROR "took ${seconds} s, more than ${WITHIN}")
    endif()
else()
    message(FATAL_ERROR "mpi_runs.cmake: unknown MODE '${MODE}'")
endif()
