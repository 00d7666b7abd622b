# Counts the instructions of equal_cost (see equal_cost.cpp) under callgrind for each kind of
# rejection and fails unless an unknown id costs what a wrong secret costs (within 2%; 10% in
# the memory store, whose probe runs differ), and
# unless the early-return defect is told apart (it must cost far less).
# cmake -DVALGRIND=... -DPROGRAM=... -DSTORE=memory|default -P equal_cost.cmake
function(instructions kind out)
    execute_process(COMMAND ${VALGRIND} --tool=callgrind --callgrind-out-file=/dev/null ${PROGRAM} ${STORE} ${kind}
                    RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "equal_cost ${STORE} ${kind} failed (${rc}):\n${err}")
    endif()
    string(REGEX MATCH "Collected : ([0-9]+)" m "${err}")
    if(NOT m)
        message(FATAL_ERROR "no instruction count from callgrind:\n${err}")
    endif()
    set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
endfunction()

instructions(bad_secret wrong_secret)
instructions(unknown unknown_id)
math(EXPR diff "${unknown_id} - ${wrong_secret}")
if(diff LESS 0)
    math(EXPR diff "0 - ${diff}")
endif()
math(EXPR permille "${diff} * 1000 / ${wrong_secret}")
message(STATUS "${STORE}: wrong secret ${wrong_secret} instructions, unknown id ${unknown_id}: differ by ${permille} per mille")
# The default verify does the same work for both; the memory store's probe runs differ a
# little (see equal_cost.cpp).
set(tolerance 20)
if(STORE STREQUAL "memory")
    set(tolerance 100)
endif()
if(permille GREATER tolerance)
    message(FATAL_ERROR "an unknown id does not cost what a wrong secret costs (${permille} per mille apart)")
endif()
if(STORE STREQUAL "default")
    instructions(skip_hash early)
    math(EXPR saved "(${wrong_secret} - ${early}) * 1000 / ${wrong_secret}")
    message(STATUS "the early-return defect costs ${early} instructions: ${saved} per mille less")
    if(saved LESS 200)
        message(FATAL_ERROR "the check cannot tell the early-return defect apart (only ${saved} per mille)")
    endif()
endif()
