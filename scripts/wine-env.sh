# shellcheck shell=bash
# Source this file to run mproc's Windows build under wine:
#
#   . scripts/wine-env.sh
#   mproc_wine_start        # persistent wineserver, stopped again on EXIT
#   ctest ...               # or any wine64 program.exe
#
# Why each setting (see WINDOWS-NOTES.md): a project-owned prefix keeps the
# ~700 MB wine tree out of the repo and out of ~/.wine; win64 because only
# 64-bit wine is installed; WINEDEBUG=-all keeps wine's chatter out of test
# output; mscoree/mshtml disabled so wine never offers to install Mono or
# Gecko; no DISPLAY so nothing tries to open a window.

MPROC_DEPS_CACHE="${MPROC_DEPS_CACHE:-$HOME/.cache/mproc-deps}"
export MPROC_DEPS_CACHE
export WINEPREFIX="${MPROC_WINEPREFIX:-$MPROC_DEPS_CACHE/wineprefix}"
export WINEARCH=win64
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="mscoree=;mshtml="
unset DISPLAY

# wine64 itself, not /usr/bin/wine: the launcher script warns about the
# missing wine32 on every call.
if command -v wine64 >/dev/null 2>&1; then
  MPROC_WINE="$(command -v wine64)"
elif [[ -x /usr/lib/wine/wine64 ]]; then
  MPROC_WINE=/usr/lib/wine/wine64
else
  MPROC_WINE="$(command -v wine || echo wine)"
fi
if command -v wineserver >/dev/null 2>&1; then
  MPROC_WINESERVER="$(command -v wineserver)"
else
  MPROC_WINESERVER=/usr/lib/wine/wineserver
fi
export MPROC_WINE MPROC_WINESERVER

# Create the prefix once (~2.5 s), then keep one wineserver alive: without
# it every program start costs ~0.3 s and ctest waits ~2.5 s per test for
# wine's background processes to let go of the output pipe.
mproc_wine_start() {
  mkdir -p "$WINEPREFIX"
  if [[ ! -f "$WINEPREFIX/system.reg" ]]; then
    "$MPROC_WINE" wineboot --init >/dev/null 2>&1 || true
  fi
  "$MPROC_WINESERVER" -p >/dev/null 2>&1 || true
  # Start wine's background services (services.exe, rpcss, ...) now, with
  # no pipe of ctest's to inherit: started by the first test instead they
  # hold its output pipe open and the test seems to hang for seconds.
  "$MPROC_WINE" cmd /c exit >/dev/null 2>&1 </dev/null || true
  MPROC_WINE_STARTED=1
  # Stop our server whatever way the calling script ends.
  trap mproc_wine_stop EXIT
}

# Kills only the wineserver of our own WINEPREFIX (and the wine processes
# attached to it), nothing else on the machine.
mproc_wine_stop() {
  if [[ "${MPROC_WINE_STARTED:-0}" == 1 ]]; then
    "$MPROC_WINESERVER" -k >/dev/null 2>&1 || true
    MPROC_WINE_STARTED=0
  fi
}
