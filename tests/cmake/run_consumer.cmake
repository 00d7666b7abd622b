# cmake -DMODE=subdirectory|package|build_tree|pkgconfig|no_sodium -DSOURCE_DIR=... -DWORK_DIR=...
#       -P run_consumer.cmake
# Builds and runs tests/cmake/consumer against tokenauth consumed in the given way.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
    endif()
endfunction()

set(consumer_args -S ${SOURCE_DIR}/tests/cmake/consumer -B ${WORK_DIR}/consumer -DMODE=${MODE})
set(library_args -S ${SOURCE_DIR} -B ${WORK_DIR}/lib -DTOKENAUTH_BUILD_TESTS=OFF -DTOKENAUTH_BUILD_SERVER=OFF
    -DTOKENAUTH_BUILD_BENCHMARKS=OFF -DTOKENAUTH_INSTALL=ON)
if(MODE STREQUAL "pkgconfig")
    # Installed, then compiled with only what pkg-config says (no CMake on the consumer side).
    run(${CMAKE_COMMAND} ${library_args})
    run(${CMAKE_COMMAND} --install ${WORK_DIR}/lib --prefix ${WORK_DIR}/prefix)
    set(ENV{PKG_CONFIG_PATH} ${WORK_DIR}/prefix/lib/pkgconfig)
    execute_process(COMMAND pkg-config --cflags --libs tokenauth RESULT_VARIABLE rc OUTPUT_VARIABLE flags
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "pkg-config does not know tokenauth")
    endif()
    separate_arguments(flags UNIX_COMMAND "${flags}")
    run(c++ -std=c++17 -Wall -Wextra -Werror ${SOURCE_DIR}/tests/cmake/consumer/main.cpp ${flags}
        -o ${WORK_DIR}/consumer_pc)
    run(${WORK_DIR}/consumer_pc)
    message(STATUS "consumer (pkgconfig): ok")
    return()
elseif(MODE STREQUAL "build_tree")
    # Configured only, never installed: the exported build tree is the package.
    run(${CMAKE_COMMAND} ${library_args})
    list(APPEND consumer_args -Dtokenauth_DIR=${WORK_DIR}/lib)
elseif(MODE STREQUAL "no_sodium")
    run(${CMAKE_COMMAND} ${library_args})
    run(${CMAKE_COMMAND} --install ${WORK_DIR}/lib --prefix ${WORK_DIR}/prefix)
    list(APPEND consumer_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
    run(${CMAKE_COMMAND} ${consumer_args})
    message(STATUS "consumer (no_sodium): ok")
    return()
elseif(MODE STREQUAL "package")
    # Install the library alone into a private prefix, then consume the installed package.
    run(${CMAKE_COMMAND} ${library_args})
    run(${CMAKE_COMMAND} --install ${WORK_DIR}/lib --prefix ${WORK_DIR}/prefix)
    if(NOT EXISTS ${WORK_DIR}/prefix/include/tokenauth/tokenauth.hpp)
        message(FATAL_ERROR "install did not place the headers")
    endif()
    list(APPEND consumer_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
else()
    list(APPEND consumer_args -DTOKENAUTH_SOURCE_DIR=${SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} ${consumer_args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${WORK_DIR}/consumer/consumer)
message(STATUS "consumer (${MODE}): ok")
