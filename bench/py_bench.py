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
  lock_uncontended  Lock(): acquire(); release() in one process (ns/pair)
  lock_contended    parent and child each do N acquire / counter.value += 1
               / release on a Lock and a RawValue('q'); wall time over 2N,
               the counter must be exact                        (ns/pair)
  lock_handoff the same with ~100 ns of spinning after every pair (an
               inline `for _ in rk: pass`, k calibrated)         (ns/pair)
  event_pingpong  two Events: A sets e1, B waits e1, clears it, sets e2, A
               waits e2, clears it, ...                    (us per one hop)

Options: --secs S (time per measurement, default 2), --only
spawn,rtt,bw,lock,event (or sync, or single workload names), --pin
split|same|none (CPUs of the sync workloads' two processes, as in
mproc_bench: default split, parent on one CPU and child on another).
"""
import argparse
import multiprocessing as mp
import os
import statistics
import struct
import sys
import time

MSG_SIZE = 1 << 20
BW_BATCH = 64
RTT_BATCH = 1000
LOCK_BATCH = 20000   # pairs per uncontended sample
CONTEND_N = 5000     # pairs per process per contended sample
EVENT_BATCH = 200    # round trips (two hops) per event sample
HANDOFF_NS = 100.0
NO_SPIN = 0xFFFFFFFF  # lock_contended: no work outside the lock


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


def spin_cost(k, reps=200000):
    """ns of one inline `for _ in range(k): pass` (the range made once, as
    in the workers), less the bare loop around it; best of 3."""
    rk, outer = range(k), range(reps)
    best = None
    for _ in range(3):
        a = time.perf_counter()
        for _ in outer:
            for _ in rk:
                pass
        b = time.perf_counter()
        for _ in outer:
            pass
        c = time.perf_counter()
        ns = ((b - a) - (c - b)) * 1e9 / reps
        best = ns if best is None else min(best, ns)
    return best


def spin_iters(ns):
    """The k whose inline spin comes closest to ns nanoseconds.  Even k = 0
    costs some 70 ns here (a call to a spin function would cost ~180 ns:
    hence inline), so the work is only roughly ns."""
    best_k, best_err, k = 0, None, 0
    while k <= 64:
        cost = spin_cost(k)
        err = abs(cost - ns)
        if best_err is None or err < best_err:
            best_k, best_err = k, err
        if cost > ns:
            break
        k += 1
    return best_k, spin_cost(best_k)


def pin_self(cpu):
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def lock_worker(conn, lock, counter, cpu):
    """Per command (n, k): n acquire / increment / release / spin k (no
    spin at all for k == NO_SPIN)."""
    pin_self(cpu)
    acquire, release = lock.acquire, lock.release
    try:
        while True:
            n, k = struct.unpack("<II", conn.recv_bytes())
            rk = range(k)
            if k == NO_SPIN:
                for _ in range(n):
                    acquire()
                    counter.value += 1
                    release()
            else:
                for _ in range(n):
                    acquire()
                    counter.value += 1
                    release()
                    for _ in rk:
                        pass
            conn.send_bytes(b"d")
    except EOFError:
        pass


def event_worker(conn, e1, e2, cpu):
    pin_self(cpu)
    try:
        while True:
            n, _ = struct.unpack("<II", conn.recv_bytes())
            for _ in range(n):
                e1.wait()
                e1.clear()
                e2.set()
            conn.send_bytes(b"d")
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


def sampled(secs, sample):
    """One warm-up sample, then samples for secs (at least 5)."""
    sample()
    out = []
    t0 = time.perf_counter()
    while more(t0, len(out), secs, 5, 100000):
        out.append(sample())
    return out


def lock_uncontended(ctx, secs):
    lock = ctx.Lock()
    acquire, release = lock.acquire, lock.release

    def sample():
        s = time.perf_counter()
        for _ in range(LOCK_BATCH):
            acquire()
            release()
        return (time.perf_counter() - s) * 1e9 / LOCK_BATCH

    report("lock_uncontended", sampled(secs, sample), "ns")


def lock_two(ctx, secs, workload, k, cpu):
    lock = ctx.Lock()
    counter = ctx.RawValue("q", 0)
    a, b = ctx.Pipe()
    p = ctx.Process(target=lock_worker, args=(b, lock, counter, cpu))
    p.start()
    b.close()
    acquire, release = lock.acquire, lock.release
    cmd = struct.pack("<II", CONTEND_N, k)
    rk = range(0 if k == NO_SPIN else k)

    def sample():
        counter.value = 0
        s = time.perf_counter()
        a.send_bytes(cmd)
        if k == NO_SPIN:
            for _ in range(CONTEND_N):
                acquire()
                counter.value += 1
                release()
        else:
            for _ in range(CONTEND_N):
                acquire()
                counter.value += 1
                release()
                for _ in rk:
                    pass
        a.recv_bytes()
        e = time.perf_counter()
        if counter.value != 2 * CONTEND_N:
            print("ERROR %s python: shared counter %d, expected %d" % (
                workload, counter.value, 2 * CONTEND_N), flush=True)
            a.close()  # else exit would wait for the child, which waits
            p.join()   # for the next command
            sys.exit(1)
        return (e - s) * 1e9 / (2 * CONTEND_N)

    out = sampled(secs, sample)
    finish(a, p)
    report(workload, out, "ns")


def event_pingpong(ctx, secs, cpu):
    e1, e2 = ctx.Event(), ctx.Event()
    a, b = ctx.Pipe()
    p = ctx.Process(target=event_worker, args=(b, e1, e2, cpu))
    p.start()
    b.close()
    cmd = struct.pack("<II", EVENT_BATCH, 0)

    def sample():
        s = time.perf_counter()
        a.send_bytes(cmd)
        for _ in range(EVENT_BATCH):
            e1.set()
            e2.wait()
            e2.clear()
        e = time.perf_counter()
        a.recv_bytes()
        return (e - s) * 1e6 / (2 * EVENT_BATCH)

    out = sampled(secs, sample)
    finish(a, p)
    report("event_pingpong", out, "us")


def pin_choose(mode):
    """(parent cpu, child cpu) for --pin, or (None, None)."""
    if mode == "none" or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if mode == "split" and len(cpus) < 2:
        print("INFO pin: not enough CPUs; sync workloads not pinned")
        return None, None
    return cpus[0], cpus[1] if mode == "split" else cpus[0]


def wanted(only, workload, group):
    names = only.split(",")
    return workload in names or group in names or (
        group in ("lock", "event") and "sync" in names)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=float, default=2.0)
    ap.add_argument("--only", default="spawn,rtt,bw,lock,event")
    ap.add_argument("--pin", default="split", choices=("split", "same", "none"))
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
    only = args.only
    sync = [w for w, g in (("lock_uncontended", "lock"),
                           ("lock_contended", "lock"),
                           ("lock_handoff", "lock"),
                           ("event_pingpong", "event")) if wanted(only, w, g)]
    cpu = None
    if sync:
        saved = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") \
            else None
        parent_cpu, cpu = pin_choose(args.pin)
        if parent_cpu is not None:
            print("INFO pin %s: parent on cpu %d, child on cpu %d" % (
                args.pin, parent_cpu, cpu), flush=True)
            pin_self(parent_cpu)
    if wanted(only, "lock_uncontended", "lock"):
        lock_uncontended(ctx, args.secs)
    if wanted(only, "lock_contended", "lock"):
        lock_two(ctx, args.secs, "lock_contended", NO_SPIN, cpu)
    if wanted(only, "lock_handoff", "lock"):
        k, cost = spin_iters(HANDOFF_NS)
        print("INFO lock_handoff spin %d iterations = %.0f ns outside the "
              "lock (python)" % (k, cost), flush=True)
        lock_two(ctx, args.secs, "lock_handoff", k, cpu)
    if wanted(only, "event_pingpong", "event"):
        event_pingpong(ctx, args.secs, cpu)
    if sync and saved is not None:
        os.sched_setaffinity(0, saved)


if __name__ == "__main__":
    main()
