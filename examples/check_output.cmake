# Run an example and check its output against an expect file.
#
#   cmake -DEXE=<program> [-DEMULATOR=<wine...>] -DEXPECT_FILE=<file>
#         -P check_output.cmake
#
# Fails if the program exits non-zero or if any pattern of the expect file
# is missing from its standard output (carriage returns removed, so wine's
# CRLF lines match too). The expect file holds one pattern a line:
#
#   # a comment; blank lines are skipped
#   con2 got: \['spam', 42, 'egg'\]     a CMake regex that must match somewhere
#   3x hello alvin                      ... that must match at least 3 times
#   then end                            ... that must match after the previous
#                                       pattern's (last counted) match
#
# Patterns are CMake regular expressions (^ and $ mean the whole output's
# start and end, not a line's); \t and \n in a pattern stand for a tab and a
# newline, so [^\n]* stays within one line.

foreach(var EXE EXPECT_FILE)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_output.cmake: -D${var}=... is required")
  endif()
endforeach()

# EMULATOR may be empty, a path, or a list (a program and its arguments).
execute_process(COMMAND ${EMULATOR} "${EXE}"
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  RESULT_VARIABLE rc)
string(REPLACE "\r" "" out "${out}")

if(NOT rc STREQUAL "0")
  message("---- stdout ----\n${out}---- stderr ----\n${err}")
  message(FATAL_ERROR "${EXE} exited with '${rc}'")
endif()

# Read the expect file as text and split it by hand: CMake lists would
# mangle patterns holding ';', '[' or ']'.
file(READ "${EXPECT_FILE}" expect)
string(REPLACE "\r" "" expect "${expect}")
string(ASCII 9 tab)
set(rest_from 0)   # where a `then` pattern starts looking
set(checked 0)
while(NOT expect STREQUAL "")
  string(FIND "${expect}" "\n" nl)
  if(nl EQUAL -1)
    set(line "${expect}")
    set(expect "")
  else()
    string(SUBSTRING "${expect}" 0 ${nl} line)
    math(EXPR nl "${nl} + 1")
    string(SUBSTRING "${expect}" ${nl} -1 expect)
  endif()
  if(line STREQUAL "" OR line MATCHES "^#")
    continue()
  endif()

  set(want 1)
  set(ordered 0)
  if(line MATCHES "^([0-9]+)x (.*)$")
    set(want ${CMAKE_MATCH_1})
    set(line "${CMAKE_MATCH_2}")
  endif()
  if(line MATCHES "^then (.*)$")
    set(ordered 1)
    set(line "${CMAKE_MATCH_1}")
  endif()
  string(REPLACE "\\t" "${tab}" pattern "${line}")
  string(REPLACE "\\n" "\n" pattern "${pattern}")

  set(text "${out}")
  set(base 0)
  if(ordered)
    string(SUBSTRING "${out}" ${rest_from} -1 text)
    set(base ${rest_from})
  endif()

  # Count the matches by cutting the text after each one.
  set(found 0)
  set(last_end ${base})
  set(scan "${text}")
  set(scan_base ${base})
  while(found LESS want)
    string(REGEX MATCH "${pattern}" hit "${scan}")
    if(hit STREQUAL "")
      break()
    endif()
    math(EXPR found "${found} + 1")
    string(FIND "${scan}" "${hit}" at)
    string(LENGTH "${hit}" len)
    math(EXPR cut "${at} + ${len}")
    math(EXPR last_end "${scan_base} + ${cut}")
    string(SUBSTRING "${scan}" ${cut} -1 scan)
    math(EXPR scan_base "${scan_base} + ${cut}")
  endwhile()

  if(found LESS want)
    message("---- stdout ----\n${out}---- stderr ----\n${err}")
    if(ordered)
      set(where " after the previous pattern's match")
    else()
      set(where "")
    endif()
    message(FATAL_ERROR
      "missing from the output${where}: '${line}' "
      "(wanted ${want} match(es), found ${found}; ${EXPECT_FILE})")
  endif()
  set(rest_from ${last_end})
  math(EXPR checked "${checked} + 1")
endwhile()

if(checked EQUAL 0)
  message(FATAL_ERROR "${EXPECT_FILE} holds no patterns")
endif()
message("${out}")
message("check_output: ${checked} patterns found")
