#!/usr/bin/env python3
"""Draw bench/run.sh's results as an SVG bar chart with gnuplot.

    bench/plot.py RESULTS.txt OUT.svg

bench/run.sh calls it after every run (RESULTS.txt is its results file,
<build>/results.txt); run it by hand to redraw without measuring again.

One group of three horizontal bars per workload -- the raw OS primitive,
mproc, Python's multiprocessing -- on one log scale: the cost relative to
raw (raw = 1, lower is better). For a time that is time / raw time, for a
rate raw rate / rate, so every bar reads the same way: 2 = half raw's
speed, 0.5 = twice raw's. Each bar is labelled with its ratio and the
measured value. Every number comes from RESULTS.txt; a workload that was
not measured (bench/run.sh --only) has no row, and a missing side no bar.
"""
import math
import os
import subprocess
import sys
import tempfile

# (label, workload, mproc impl, raw impl, python impl, what raw is)
ROWS = [
    ("spawn + join", "spawn_join", "mproc", "raw_tiny", "python",
     "posix_spawn of a tiny binary"),
    ("pipe round trip, 8 bytes", "rtt_bytes8", "mproc", ("rtt", "raw"),
     "python", "socketpair"),
    ("pipe round trip, ['spam',42,'egg']", "rtt_value", "mproc",
     ("rtt", "raw"), "python", "socketpair, 8 bytes"),
    ("1 MiB messages, recv_bytes_into", "bw_into", "mproc", ("bw", "raw"),
     "python", "socketpair"),
    ("1 MiB messages, recv_bytes", "bw_alloc", "mproc", ("bw", "raw"),
     "python", "socketpair"),
    ("lock, uncontended", "lock_uncontended", "mproc", "raw_sem", "python",
     "sem_t"),
    ("lock, 2 processes contended", "lock_contended", "mproc", "raw_sem",
     "python", "sem_t"),
    ("lock, 2 processes hand-off", "lock_handoff", "mproc", "raw_sem",
     "python", "sem_t"),
    ("event set -> wake", "event_pingpong", "mproc", "raw_sem", "python",
     "sem_t"),
    ("queue 1->1, 64 B items", "queue_1to1_64", "mproc", "raw_pipe",
     "python_queue", "a pipe"),
    ("queue 2->2, 64 B items", "queue_2to2_64", "mproc", "raw_pipe",
     "python_queue", "a pipe"),
    ("queue 1->1, 64 KiB items", "queue_1to1_64k", "mproc", "raw_pipe",
     "python_queue", "a pipe"),
    ("pool start", "pool_start", "mproc", "raw", "python", "fork"),
    ("pool map, 1000 tasks", "pool_map_1000", "mproc", "raw", "python",
     "2-worker pipe pool"),
    ("pool apply round trip", "pool_apply_rtt", "mproc", "raw", "python",
     "2-worker pipe pool"),
    ("manager dict get", "mgr_dict_get", "mproc", ("mgr_rtt", "raw"),
     "python", "AF_UNIX round trip"),
    ("manager dict set", "mgr_dict_set", "mproc", ("mgr_rtt", "raw"),
     "python", "AF_UNIX round trip"),
]
# Units whose numbers are rates (higher is better); the rest are times.
RATE_UNITS = ("MiB/s", "Mitem/s", "Mtasks/s", "ktasks/s", "ops/s")
SIDES = (("raw", "#8c8c8c"), ("mproc", "#1f6fb4"), ("Python", "#e8832a"))


def read(path):
    res, info = {}, []
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) >= 5 and w[0] == "RESULT":
                try:
                    res[(w[1], w[2])] = (float(w[3]), w[4])
                except ValueError:
                    pass
            elif len(w) == 3 and w[0] == "INFO" and w[1] == "cpus":
                info.append("%s CPUs" % w[2])
            elif len(w) == 3 and w[0] == "INFO" and w[1] == "python":
                info.append("Python %s" % w[2])
    return res, info


def fmt(v, unit):
    if unit == "us" and v >= 10000:
        v, unit = v / 1000, "ms"
    elif unit == "ops/s" and v >= 10000:
        v, unit = v / 1000, "k ops/s"
    s = ("%.0f" if v >= 100 else "%.1f" if v >= 10 else
         "%.2f" if v >= 1 else "%.3f") % v
    return "%s %s" % (s, unit)


def ratio_text(r):
    return ("%.0fx" if r >= 100 else "%.1fx" if r >= 10 else
            "%.2fx") % r


def bars(res):
    """[(row label, [(side index, ratio, text)])], top row first."""
    out = []
    for label, w, mi, rk, pi, rawname in ROWS:
        rk = rk if isinstance(rk, tuple) else (w, rk)
        raw = res.get(rk)
        if raw is None or raw[0] <= 0:
            continue
        got = []
        for side, key in enumerate((rk, (w, mi), (w, pi))):
            v = res.get(key)
            if v is None or v[0] <= 0:
                continue
            rate = v[1] in RATE_UNITS
            r = raw[0] / v[0] if rate else v[0] / raw[0]
            got.append((side, r, "%s  %s" % (ratio_text(r), fmt(*v))))
        if len(got) > 1:
            out.append(("%s\n(raw: %s)" % (label, rawname), got))
    return out


def gp_str(s):
    """A gnuplot double-quoted string; a newline in s stays one."""
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"').replace(
        "\n", "\\n")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py RESULTS.txt OUT.svg")
    res, info = read(sys.argv[1])
    rows = bars(res)
    if not rows:
        sys.exit("plot.py: no workload with a raw baseline in " + sys.argv[1])
    ratios = [r for _, g in rows for _, r, _ in g]
    xmin = min(0.5, min(ratios) / 2)  # bars start here; raw's stays visible
    xmax = max(ratios) * 12  # room for the labels
    n = len(rows)
    h = 0.26  # bar thickness; three bars per row of height 1
    data = []
    for i, (label, group) in enumerate(rows):
        y0 = n - 1 - i  # top row first
        for side, r, text in group:
            y = y0 + (1 - side) * h * 1.05
            data.append("%g %g %g %g %g %g %d %s" % (
                r, y, xmin, r, y - h / 2, y + h / 2,
                int(SIDES[side][1][1:], 16), gp_str(text)))
    ytics = ", ".join("%s %d" % (gp_str(label), n - 1 - i)
                      for i, (label, _) in enumerate(rows))
    height = 110 + 58 * n
    sub = ", ".join(info)
    script = """
set terminal svg size 1000,{height} dynamic noenhanced font "sans,11" background rgb "white"
set output {out}
set title {title}
set logscale x 10
set xrange [{xmin}:{xmax}]
set yrange [-0.6:{ytop}]
set ytics ({ytics}) nomirror scale 0
set xtics nomirror
set grid xtics
set xlabel {xlabel}
set key bmargin center horizontal
set bmargin 5
set xlabel offset 0,0.3
set style fill solid 0.9 noborder
set arrow from 1, graph 0 to 1, graph 1 nohead dt 2 lc rgb "#444444" back
set style textbox opaque noborder margins 1,0
set lmargin 34
set rmargin 3
plot $data using 3:2:3:4:5:6:7 with boxxyerror lc rgb variable notitle, \\
     $data using 1:2:8 with labels boxed left offset 0.8,0 font ",9" notitle, \\
     {keys}
""".format(
        height=height, out=gp_str(sys.argv[2]),
        title=gp_str("mproc beside the raw OS primitive and Python's "
                     "multiprocessing: cost relative to raw (log scale, "
                     "lower is better)"
                     + ("\n(" + sub + ")" if sub else "")),
        xmin=xmin, xmax=xmax, ytop=n - 0.4, ytics=ytics,
        xlabel=gp_str("time / raw time, or raw rate / rate  (raw = 1; "
                      "each bar: ratio, measured value)"),
        keys=", \\\n     ".join(
            "NaN with boxes lc rgb %s title %s" % (gp_str(c), gp_str(s))
            for s, c in SIDES))
    script = "$data << EOD\n" + "\n".join(data) + "\nEOD\n" + script
    with tempfile.NamedTemporaryFile("w", suffix=".gp", delete=False) as f:
        f.write(script)
    try:
        p = subprocess.run(["gnuplot", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if p.returncode != 0 or not os.path.exists(sys.argv[2]):
        sys.stderr.write(p.stderr)
        sys.exit("plot.py: gnuplot failed")
    print("chart: %s (%d workloads)" % (sys.argv[2], n))


if __name__ == "__main__":
    main()
