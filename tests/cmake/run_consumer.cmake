# cmake -DMODE=subdirectory|package -DSOURCE_DIR=... -DWORK_DIR=... -P run_consumer.cmake
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
if(MODE STREQUAL "package")
    # Install the library alone into a private prefix, then consume the installed package.
    run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/lib -DTOKENAUTH_BUILD_TESTS=OFF
        -DTOKENAUTH_BUILD_SERVER=OFF -DTOKENAUTH_BUILD_BENCHMARKS=OFF -DTOKENAUTH_INSTALL=ON)
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
