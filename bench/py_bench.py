#!/usr/bin/env python3
"""py_bench.py - the Python side of bench/run.sh.

Python's multiprocessing (spawn context) on the workloads of
mproc_bench.c, printing the same lines:

    RESULT <workload> python <median> <unit> n=<samples> min=<..> max=<..>

  spawn_join   ctx.Process(target=empty).start(); join()            (us)
  rtt_value    Pipe(): send(['spam', 42, 'egg']) -> echo -> recv       (us)
  rtt_bytes8   send_bytes(8 bytes) -> echo -> recv_bytes              (us)
  bw_into      child send_bytes(1 MiB); parent recv_bytes_into(a reused
               bytearray)                                          (MiB/s)
  bw_alloc     the same with recv_bytes()                          (MiB/s)

Options: --secs S (time per measurement, default 2), --only spawn,rtt,bw.
"""
import argparse
import multiprocessing as mp
import statistics
import struct
import sys
import time

MSG_SIZE = 1 << 20
BW_BATCH = 64
RTT_BATCH = 1000


def empty():
    pass


def echo_value(conn):
    try:
        while True:
            conn.send(conn.recv())
    except EOFError:
        pass


def echo_bytes(conn):
    try:
        while True:
            conn.send_bytes(conn.recv_bytes())
    except EOFError:
        pass


def bw_sender(conn):
    buf = b"x" * MSG_SIZE
    try:
        while True:
            (count,) = struct.unpack("<I", conn.recv_bytes())
            for _ in range(count):
                conn.send_bytes(buf)
    except EOFError:
        pass


def report(workload, values, unit):
    values = sorted(values)
    print("RESULT %s python %.3f %s n=%d min=%.3f max=%.3f" % (
        workload, statistics.median(values), unit, len(values), values[0],
        values[-1]), flush=True)


def more(t0, n, secs, lo, hi):
    return n < lo or (n < hi and time.perf_counter() - t0 < secs)


def spawn_join(ctx, secs):
    out = []
    for _ in range(2):  # warm-up
        p = ctx.Process(target=empty)
        p.start()
        p.join()
    t0 = time.perf_counter()
    while more(t0, len(out), secs, 10, 5000):
        a = time.perf_counter()
        p = ctx.Process(target=empty)
        p.start()
        p.join()
        out.append((time.perf_counter() - a) * 1e6)
        p.close()
    report("spawn_join", out, "us")


def with_child(ctx, target):
    a, b = ctx.Pipe()
    p = ctx.Process(target=target, args=(b,))
    p.start()
    b.close()
    return a, p


def finish(a, p):
    a.close()
    p.join()
    if p.exitcode != 0:
        sys.exit("py_bench: child exited with %s" % p.exitcode)


def rtt(ctx, secs, workload, target, once):
    a, p = with_child(ctx, target)
    out = []
    batch = -1
    t0 = 0.0
    while batch < 0 or more(t0, len(out), secs, 5, 100000):
        s = time.perf_counter()
        for _ in range(RTT_BATCH):
            once(a)
        if batch < 0:
            t0 = time.perf_counter()
        else:
            out.append((time.perf_counter() - s) * 1e6 / RTT_BATCH)
        batch += 1
    finish(a, p)
    report(workload, out, "us")


def bw(ctx, secs, into):
    a, p = with_child(ctx, bw_sender)
    buf = bytearray(MSG_SIZE)
    cmd = struct.pack("<I", BW_BATCH)
    out = []
    batch = -1
    t0 = 0.0
    while batch < 0 or more(t0, len(out), secs, 5, 100000):
        s = time.perf_counter()
        a.send_bytes(cmd)
        for _ in range(BW_BATCH):
            if into:
                n = a.recv_bytes_into(buf)
            else:
                n = len(a.recv_bytes())
            if n != MSG_SIZE:
                sys.exit("py_bench: short message")
        if batch < 0:
            t0 = time.perf_counter()
        else:
            out.append(BW_BATCH * MSG_SIZE / (1 << 20) /
                       (time.perf_counter() - s))
        batch += 1
    finish(a, p)
    report("bw_into" if into else "bw_alloc", out, "MiB/s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=float, default=2.0)
    ap.add_argument("--only", default="spawn,rtt,bw")
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    value = ["spam", 42, "egg"]
    eight = b"\x01\x02\x03\x04\x05\x06\x07\x08"

    def once_value(c):
        c.send(value)
        c.recv()

    def once_bytes(c):
        c.send_bytes(eight)
        c.recv_bytes()

    print("INFO python %s" % sys.version.split()[0], flush=True)
    if "spawn" in args.only:
        spawn_join(ctx, args.secs)
    if "rtt" in args.only:
        rtt(ctx, args.secs, "rtt_value", echo_value, once_value)
        rtt(ctx, args.secs, "rtt_bytes8", echo_bytes, once_bytes)
    if "bw" in args.only:
        bw(ctx, args.secs, True)
        bw(ctx, args.secs, False)


if __name__ == "__main__":
    main()
