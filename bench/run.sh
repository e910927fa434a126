#!/usr/bin/env bash
# Build the benchmarks (Release, build/bench), run the C side (mproc and
# the raw OS primitive) and the Python side (multiprocessing, spawn
# context), and print three tables (spawn and pipes; synchronization;
# queues) with ratios and the targets, then draw them as an SVG chart
# (bench/plot.py, gnuplot: one bar group per workload, raw/mproc/Python,
# cost relative to raw on a log scale).
#
#   bench/run.sh                 full run (about 2 minutes on 2 cores)
#   bench/run.sh --secs 0.5      shorter measurements
#   bench/run.sh --no-build      reuse the build directory
#   bench/run.sh --only rtt,bw   some workloads (spawn, rtt, bw, lock, event,
#                                queue, codec, pool, manager, mpi; sync =
#                                lock,event; mpi: the pool on MPI ranks, when
#                                built with MPI, beside mpi4py.futures)
#   bench/run.sh --soak N        the manager soak's cycles (default 10000)
#   bench/run.sh --build DIR     build directory (default build/bench)
#   bench/run.sh --pin MODE      CPUs of the sync and queue workloads'
#                                processes: split (default), same, none
#   bench/run.sh --svg FILE      where the chart goes (default
#                                <build>/bench.svg; docs/bench.svg is one)
#
# Raw RESULT lines are kept in <build>/results.txt (bench/plot.py
# RESULTS OUT.svg redraws a chart from them).  Timings, never
# assertions: the script fails only if a benchmark itself fails (a
# contended lock workload also fails if its shared counter is not exact,
# a queue workload if an item is lost, duplicated or damaged).
# Linux only (as before): the raw baselines are POSIX (fork, socketpair,
# posix_spawn, process-shared sem_t, robust mutexes, sched_setaffinity);
# mproc_bench.c still builds with mingw, without them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
build="$repo/build/bench"
secs=2
only="spawn,rtt,bw,lock,event,queue,codec,pool,manager,mpi"
soak=10000
pin="split"
do_build=1
svg=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --secs) secs="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --build) build="$(realpath -m "$2")"; shift 2 ;;
    --pin) pin="$2"; shift 2 ;;
    --soak) soak="$2"; shift 2 ;;
    --svg) svg="$(realpath -m "$2")"; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

# gnuplot for the chart (quiet; scripts/deps.sh logs to build/logs).
"$repo/scripts/deps.sh" --bench
svg="${svg:-$build/bench.svg}"

if [[ $do_build == 1 ]]; then
  mkdir -p "$build"
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_EXAMPLES=OFF >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log"; exit 1; }
  targets=(mproc_bench bench_tiny pool_bench manager_bench)
  if grep -q '^MPROC_WITH_MPI:BOOL=ON' "$build/CMakeCache.txt"; then
    targets+=(mpi_bench)
  fi
  cmake --build "$build" -j 2 --target "${targets[@]}" >"$build.build.log" 2>&1 ||
    { cat "$build.build.log"; exit 1; }
fi

results="$build/results.txt"
: >"$results"
echo "== C side (mproc, raw) =="
"$build/bench/mproc_bench" --secs "$secs" --only "$only" --pin "$pin" \
  --tiny "$build/bench/bench_tiny" | tee -a "$results"
if [[ ",$only," == *,pool,* ]]; then
  echo "== Pool (mproc, raw 2-worker pipe pool; Python Pool/ProcessPoolExecutor) =="
  "$build/bench/pool_bench" | tee -a "$results"
  python3 "$here/py_pool_bench.py" | tee -a "$results"
fi
if [[ ",$only," == *,manager,* ]]; then
  echo "== Manager (mproc, raw AF_UNIX request/response; Python's Manager) =="
  "$build/bench/manager_bench" --secs "$secs" --soak "$soak" | tee -a "$results"
  python3 "$here/py_manager_bench.py" --secs "$secs" | tee -a "$results"
fi
if [[ ",$only," == *,mpi,* ]]; then
  if [[ -x "$build/bench/mpi_bench" ]]; then
    echo "== Pool on MPI ranks (mproc's MPI backend, its local pool; mpi4py.futures) =="
    mpiexec=(mpiexec --oversubscribe -n 3)
    [[ $(id -u) != 0 ]] || mpiexec+=(--allow-run-as-root)
    "${mpiexec[@]}" "$build/bench/mpi_bench" mpi 7 | tee -a "$results"
    "$build/bench/mpi_bench" local 7 | tee -a "$results"
    "${mpiexec[@]}" /usr/bin/python3 -m mpi4py.futures "$here/py_mpi_bench.py" 7 |
      tee -a "$results"
  else
    echo "== (mpi: not built, CMake found no MPI) =="
  fi
fi
echo "== Python side (multiprocessing, spawn context) =="
python3 "$here/py_bench.py" --secs "$secs" --only "$only" --pin "$pin" |
  tee -a "$results"
echo

python3 - "$results" <<'EOF'
import sys

res = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 5 and f[0] == "RESULT":
        res[(f[1], f[2])] = (float(f[3]), f[4])

# (label, mproc key, raw key, python key, target)
# Times and rates against raw: the ratio is mproc/raw; target ("le", x)
# for times (ratio <= x), ("ge", x) for rates.
rows = [
    ("spawn+join, raw = same binary", ("spawn_join", "mproc"),
     ("spawn_join", "raw_self"), ("spawn_join", "python"), ("le", 1.5)),
    ("spawn+join, raw = tiny binary", ("spawn_join", "mproc"),
     ("spawn_join", "raw_tiny"), ("spawn_join", "python"), ("le", 1.5)),
    ("  (raw same binary + mproc_init)", None,
     ("spawn_join", "raw_self_init"), None, None),
    ("round trip ['spam',42,'egg']", ("rtt_value", "mproc"), ("rtt", "raw"),
     ("rtt_value", "python"), ("le", 1.3)),
    ("round trip 8 bytes", ("rtt_bytes8", "mproc"), ("rtt", "raw"),
     ("rtt_bytes8", "python"), ("le", 1.3)),
    ("  (raw = two pipes)", ("rtt_bytes8", "mproc"), ("rtt", "raw_pipe"),
     None, None),
    ("1 MiB msgs, recv_bytes_into", ("bw_into", "mproc"), ("bw", "raw"),
     ("bw_into", "python"), ("ge", 0.9)),
    ("1 MiB msgs, recv_bytes", ("bw_alloc", "mproc"), ("bw", "raw"),
     ("bw_alloc", "python"), ("ge", 0.9)),
]

# Synchronization: every figure is a time, and the ratio is raw / mproc
# (speed relative to raw: 1.0 = raw speed, higher is better); target
# raw/mproc >= x.  raw/python is Python's speed on the same scale.
sync_rows = [
    ("lock uncontended, raw = sem_t", "lock_uncontended", "raw_sem", 0.8),
    ("lock uncontended, raw = robust mutex", "lock_uncontended",
     "raw_mutex", 0.8),
    ("lock 2 procs contended, raw = sem_t", "lock_contended", "raw_sem", 0.8),
    ("lock 2 procs contended, raw = robust mutex", "lock_contended",
     "raw_mutex", 0.8),
    ("lock 2 procs hand-off, raw = sem_t", "lock_handoff", "raw_sem", 0.8),
    ("lock 2 procs hand-off, raw = robust mutex", "lock_handoff",
     "raw_mutex", 0.8),
    ("event set->wake, one hop, raw = sem_t", "event_pingpong", "raw_sem",
     None),
]

def val(key):
    return res.get(key, (None, ""))[0] if key else None

def fmt(v):
    if v is None:
        return "-"
    return "%.1f" % v if v < 1000 else "%.0f" % v

def ok(x, op, lim):
    good = x <= lim if op == "le" else x >= lim
    return "\u2713" if good else "\u2717"

def show(hdr, table):
    if not table:
        return
    w = [max(len(str(row[i])) for row in [hdr] + table)
         for i in range(len(hdr))]
    line = lambda row: "| " + " | ".join(str(c).ljust(w[i]) for i, c in
                                         enumerate(row)) + " |"
    print(line(hdr))
    print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for row in table:
        print(line(row))
    print()

table = []
for label, km, kr, kp, target in rows:
    m, r, p = val(km), val(kr), val(kp)
    unit = res.get(km or kr, (0, ""))[1]
    mr = m / r if m is not None and r else None
    mp = m / p if m is not None and p else None
    t = ""
    if target and mr is not None:
        op, x = target
        t = "mproc/raw %s%.2f %s" % ("<=" if op == "le" else ">=", x,
                                     ok(mr, op, x))
    if m is None and r is None and p is None:
        continue
    table.append((label, unit, fmt(m), fmt(r), fmt(p),
                  "-" if mr is None else "%.2f" % mr,
                  "-" if mp is None else "%.3f" % mp, t))
show(("workload", "unit", "mproc", "raw", "python", "mproc/raw",
      "mproc/python", "target"), table)
if table:
    print("us: lower is better (mproc/raw > 1 is slower than raw); MiB/s: "
          "higher is better (mproc/raw < 1 is slower than raw).")
    print()

table = []
for label, w, raw, target in sync_rows:
    m, r, p = val((w, "mproc")), val((w, raw)), val((w, "python"))
    if m is None and r is None and p is None:
        continue
    unit = res.get((w, "mproc"), res.get((w, raw), (0, "")))[1]
    rm = r / m if m and r is not None else None
    rp = r / p if p and r is not None else None
    t = ""
    if target and rm is not None:
        t = "raw/mproc >=%.2f %s" % (target, ok(rm, "ge", target))
    table.append((label, unit, fmt(m), fmt(r), fmt(p),
                  "-" if rm is None else "%.2f" % rm,
                  "-" if rp is None else "%.2f" % rp, t))
show(("sync workload", "unit", "mproc", "raw", "python", "raw/mproc",
      "raw/python", "target"), table)
if table:
    print("Sync rows are times (lower is better) and their ratios are raw / "
          "mproc: the speed as a fraction of raw's, 1.0 = raw speed, higher is "
          "better (goal >= 0.8, \"mproc reaches 0.8x raw speed\"); "
          "raw/python is Python's on the same scale.")
    print()

# Queues: rates (higher is better); every ratio is mproc / other, so
# above 1 means mproc is faster.  Target ("abs", x): mproc >= x;
# ("pipe", x): mproc / raw pipe >= x.
queue_rows = [
    ("1->1 64 B, put_bytes/get_bytes", "queue_1to1_64", "mproc",
     ("abs", 5.0)),
    ("1->1 64 B, put/get bytes value", "queue_1to1_64", "mproc_value", None),
    ("2->2 64 B, put_bytes/get_bytes", "queue_2to2_64", "mproc",
     ("abs", 2.0)),
    ("2->2 64 B, put/get bytes value", "queue_2to2_64", "mproc_value", None),
    ("1->1 64 KiB, put_bytes/get_bytes", "queue_1to1_64k", "mproc",
     ("pipe", 0.8)),
    ("burst 256 x 64 KiB, no reader, 1 process", "queue_burst_64k", "mproc",
     None),
]

def qfmt(v):
    if v is None:
        return "-"
    return ("%.0f" if v >= 100 else "%.1f" if v >= 10 else
            "%.2f" if v >= 1 else "%.3f") % v

def qratio(m, x):
    if m is None or not x:
        return "-"
    return ("%.1f" if m / x >= 10 else "%.2f") % (m / x)

table = []
for label, w, impl, target in queue_rows:
    m = val((w, impl))
    ring, pipe = val((w, "raw_ring")), val((w, "raw_pipe"))
    pq, ps = val((w, "python_queue")), val((w, "python_simplequeue"))
    if all(x is None for x in (m, ring, pipe, pq, ps)):
        continue
    unit = res.get((w, impl), res.get((w, "raw_pipe"), (0, "")))[1]
    t = ""
    if target and m is not None:
        kind, x = target
        if kind == "abs":
            t = ">=%g M/s %s" % (x, ok(m, "ge", x))
        elif pipe:
            t = "mproc/pipe >=%.2f %s" % (x, ok(m / pipe, "ge", x))
    table.append((label, unit, qfmt(m), qfmt(ring), qfmt(pipe), qfmt(pq),
                  qfmt(ps), qratio(m, ring), qratio(m, pipe), qratio(m, pq),
                  qratio(m, ps), t))
show(("queue workload", "unit", "mproc", "raw ring", "raw pipe", "py Queue",
      "py SimpleQ", "mproc/ring", "mproc/pipe", "mproc/Queue",
      "mproc/SimpleQ", "target"), table)
if table:
    print("Queue rows are rates (higher is better); ratios are mproc / other "
          "(above 1: mproc is faster).  Mitem/s = million items per second. "
          "raw ring: a minimal 1-producer/1-consumer ring in shared memory "
          "(no 2->2 row); raw pipe: one write/read per item (2->2: one pipe "
          "shared by all four processes); burst: put all with nobody "
          "reading (the buffer grows), then get all.")
    print()

# Manager: start is a time (lower is better); the calls are rates from
# this process to the server process (higher is better).  Targets: start
# <= 5 ms; dict ops >= 0.75x the raw AF_UNIX round trip and >= 70 k/s.
mgr_rows = [
    ("manager start (until ready)", "mgr_start", None),
    ("list.append", "mgr_list_append", None),
    ("dict set", "mgr_dict_set", 0.75),
    ("dict get", "mgr_dict_get", 0.75),
    ("Lock acquire+release (2 calls)", "mgr_lock", None),
]
rtt = val(("mgr_rtt", "raw"))
table = []
for label, w, target in mgr_rows:
    m, p = val((w, "mproc")), val((w, "python"))
    if m is None and p is None:
        continue
    unit = res.get((w, "mproc"), res.get((w, "python"), (0, "")))[1]
    t = ""
    if w == "mgr_start" and m is not None:
        t = "<=5 ms %s" % ok(m, "le", 5.0)
        mp = "%.3f" % (m / p) if p else "-"
    else:
        mp = "%.1f" % (m / p) if m is not None and p else "-"
    mr = "%.2f" % (m / rtt) if m is not None and rtt and w != "mgr_start" \
        else "-"
    if target and m is not None and rtt:
        t = ">=%.2fx raw, >=70k %s" % (target, ok(min(m / rtt / target,
                                                      m / 70000), "ge", 1))
    table.append((label, unit, fmt(m), fmt(rtt) if w != "mgr_start" else "-",
                  fmt(p), mr, mp, t))
show(("manager workload", "unit", "mproc", "raw rtt", "python", "mproc/raw",
      "mproc/python", "target"), table)
if table:
    print("raw rtt: a client and a server process doing 16-byte request/"
          "response over an AF_UNIX stream socket (the manager's transport). "
          "mproc and raw rates: the best of 10 interleaved windows each; "
          "Python: the best of 3.")
    for line in open(sys.argv[1]):
        if line.startswith("RESULT mgr_soak"):
            print("Soak: " + " ".join(line.split()[3:]))
    print()

# Codec: one process, no I/O; times (lower is better).  decode_keys: keys
# crafted against mproc's old fixed hash vs ordinary keys; linear means
# crafted/ordinary ~1 and 2 MB/1 MB ~2.
codec_rows = [
    ("encode+decode 64-byte bytes", ("codec_bytes64", "mproc"),
     ("codec_bytes64", "python")),
    ("encode+decode list of 1000 ints", ("codec_ints1000", "mproc"),
     ("codec_ints1000", "python")),
    ("decode 1 MB dict, crafted keys", ("decode_keys_1mb", "crafted"), None),
    ("decode 1 MB dict, ordinary keys", ("decode_keys_1mb", "ordinary"), None),
    ("decode 2 MB dict, crafted keys", ("decode_keys_2mb", "crafted"), None),
    ("decode 2 MB dict, ordinary keys", ("decode_keys_2mb", "ordinary"), None),
]
table = []
for label, km, kp in codec_rows:
    m, p = val(km), val(kp)
    if m is None and p is None:
        continue
    unit = res.get(km, (0, ""))[1]
    table.append((label, unit, fmt(m), fmt(p),
                  "-" if m is None or not p else "%.3f" % (m / p)))
show(("codec workload", "unit", "mproc", "python pickle", "mproc/python"),
     table)
c1, c2 = val(("decode_keys_1mb", "crafted")), val(("decode_keys_2mb", "crafted"))
o1, o2 = val(("decode_keys_1mb", "ordinary")), val(("decode_keys_2mb", "ordinary"))
if None not in (c1, c2, o1, o2) and o1 and o2 and c1:
    print("Hash flooding: crafted/ordinary %.2f (1 MB), %.2f (2 MB); 2 MB/1 MB "
          "crafted %.2f, ordinary %.2f (linear: ~1 and ~2; the old fixed hash "
          "took 7.9 s and 35 s)." % (c1 / o1, c2 / o2, c2 / c1, o2 / o1))

# The Pool (docs/pool.md "Figures"): 2 workers each.  Maps: the median of
# 11 after 20 untimed warm-up maps, on every side; "first map": the first
# one on a new pool.  Targets (issue 9): start <= 2 ms, map at chunksize
# 1000 >= 40 M tasks/s, apply_async >= 300 k/s, apply <= 1.5x raw.
pool_rows = [("Pool(2) start to first result", "pool_start", ("le", 2.0)),
             ("first map on a new pool, chunksize 1000", "pool_map_first",
              None),
             ("map 100 000 x*x, chunksize 1000", "pool_map_1000",
              ("ge", 40.0)),
             ("map, default chunksize", "pool_map_def", None),
             ("10 000 apply_async, get all", "pool_async", ("ge", 300.0)),
             ("apply round trip", "pool_apply_rtt", ("raw", 1.5))]
table = []
for label, w, target in pool_rows:
    m, r, p, f = (val((w, i)) for i in ("mproc", "raw", "python",
                                        "python_futures"))
    if m is None and p is None:
        continue
    unit = res.get((w, "mproc"), res.get((w, "python"), (0, "")))[1]
    t = "-"
    if target and m is not None:
        op, x = target
        if op == "raw":
            if r:
                t = "<= %.1fx raw %s" % (x, ok(m / r, "le", x))
        else:
            t = "%s %g %s" % ("<=" if op == "le" else ">=", x, ok(m, op, x))
    table.append((label, unit.split()[0], fmt(m), fmt(r), fmt(p), fmt(f),
                  "-" if m is None or not p else "%.1f" % (
                      m / p if unit.startswith(("M", "k")) else p / m), t))
show(("pool workload", "unit", "mproc", "raw pool", "Python Pool",
      "executor", "mproc vs Python (x faster)", "target"), table)

# The pool on MPI ranks (docs/mpi.md): 2 workers each.
mpi_rows = [("map 100 000 x*x, chunksize 1000", "mpi_map_tiny"),
            ("1 000 tasks of 1 ms, time / ideal", "mpi_1ms_vs_ideal"),
            ("1 000 tasks sleeping 1 ms, time / ideal", "mpi_sleep1ms_vs_ideal"),
            ("apply round trip", "mpi_apply_rtt"),
            ("pool start to first result", "mpi_pool_start")]
table = []
for label, w in mpi_rows:
    m, l, p = (val((w, i)) for i in ("mproc_mpi", "mproc_local", "mpi4py"))
    if m is None and p is None:
        continue
    unit = res.get((w, "mproc_mpi"), (0, ""))[1]
    if w == "mpi_map_tiny":
        r = "-" if m is None or not p else "%.1f" % (m / p)
        tgt = "-" if m is None or not p else "%s >= 10" % ok(m / p, "ge", 10)
    elif w.endswith("vs_ideal"):
        r = "-" if m is None or not p else "%.2f" % (m / p)
        tgt = "-" if m is None else "%s <= 1.10" % ok(m, "le", 1.10)
    else:
        r = "-" if m is None or not p else "%.2f" % (m / p)
        tgt = "-"
    table.append((label, unit, "%.2f" % m if m is not None else "-",
                  "%.2f" % l if l is not None else "-",
                  "%.2f" % p if p is not None else "-", r, tgt))
show(("MPI pool workload", "unit", "mproc MPI", "mproc local", "mpi4py.futures",
      "mproc MPI / mpi4py", "target"), table)
EOF
echo
python3 "$here/plot.py" "$results" "$svg"
