# Run the remote-manager pair as two unrelated processes and check both.
#
#   cmake -DSERVER=<exe> -DCLIENT=<exe> -DADDRESS=<host>[:<port>]
#         [-DEMULATOR=...] -P check_remote.cmake
#
# Without a port, one is drawn from 20000-29999 (below the ephemeral
# ranges of Linux and Windows), so builds tested side by side on one
# machine seldom meet on the same port.
#
# One pipeline starts both at once (neither starts the other): the
# client's stdout feeds the server's stdin (unused), the server's stdout is
# checked, and both stderrs are collected (the client reports the refused
# wrong key there).
if(NOT ADDRESS MATCHES ":[0-9]+$")
  string(RANDOM LENGTH 4 ALPHABET "0123456789" n)
  string(REGEX REPLACE "^0+" "" n "${n}")
  if(n STREQUAL "")
    set(n 0)
  endif()
  math(EXPR port "20000 + ${n}")
  set(ADDRESS "${ADDRESS}:${port}")
endif()
execute_process(
  COMMAND ${EMULATOR} "${CLIENT}" "${ADDRESS}"
  COMMAND ${EMULATOR} "${SERVER}" "${ADDRESS}"
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  RESULTS_VARIABLE rcs
  TIMEOUT 110)
string(REPLACE "\r" "" out "${out}")
string(REPLACE "\r" "" err "${err}")
set(fail "")
if(NOT rcs STREQUAL "0;0")
  set(fail "exit codes ${rcs}")
elseif(NOT out MATCHES "serving on [^\n]*\nserver got: 'hello'\n")
  set(fail "the server did not get 'hello'")
elseif(NOT err MATCHES "client: a wrong authkey is refused: [^\n]*authentication")
  set(fail "the wrong key was not refused")
endif()
if(fail)
  message("---- server stdout ----\n${out}---- stderr (both) ----\n${err}")
  message(FATAL_ERROR "${fail}")
endif()
