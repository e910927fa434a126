# Run an MPI job and check how it ended (tests/CMakeLists.txt, docs/mpi.md).
#
#   cmake "-DCMD=<mpiexec;args...>" "-DRC=<status;...>" "-DMATCH=<re;re...>"
#         [-DNOMATCH=<re>] -DSECONDS=<n> -P mpi_run.cmake
#
# Fails unless the command exits with a status in RC, every MATCH regex is found
# in its stdout + stderr, NOMATCH is not, and it ended within SECONDS (the
# job must end, never hang: the process is killed at SECONDS + 30).
cmake_policy(SET CMP0057 NEW) # if(... IN_LIST ...)
string(TIMESTAMP t0 "%s")
math(EXPR hard "${SECONDS} + 30")
execute_process(COMMAND ${CMD}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc
  TIMEOUT ${hard})
string(TIMESTAMP t1 "%s")
math(EXPR took "${t1} - ${t0}")
set(all "${out}\n${err}")
message("---- output ----\n${all}\n---- status ${rc}, ${took} s ----")
if(NOT "${rc}" IN_LIST RC)
  message(FATAL_ERROR "exit status '${rc}', wanted one of ${RC}")
endif()
foreach(re IN LISTS MATCH)
  if(NOT all MATCHES "${re}")
    message(FATAL_ERROR "missing from the output: '${re}'")
  endif()
endforeach()
if(DEFINED NOMATCH AND all MATCHES "${NOMATCH}")
  message(FATAL_ERROR "in the output, and should not be: '${NOMATCH}'")
endif()
if(took GREATER ${SECONDS})
  message(FATAL_ERROR "took ${took} s, more than ${SECONDS} s")
endif()
