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
  queue_1to1_64   a producer child puts 64-byte bytes items, the parent
               gets them                                  (M items/s)
  queue_2to2_64   two producer children, two consumers (the parent and a
               child)                                 (total M items/s)
  queue_1to1_64k  as queue_1to1_64 with 64 KiB items              (MiB/s)
  Each queue workload runs twice, with ctx.Queue() (impl python_queue)
  and ctx.SimpleQueue() (python_simplequeue).  Items as in mproc_bench:
  the first 8 bytes are producer << 48 | sequence number, each producer
  ends a sample with an end-marker item, and the consumers' count, sum
  and sum of squares of the ids must match (else an ERROR line, exit 1).

  codec_bytes64   pickle.loads(pickle.dumps(64-byte bytes))          (ns)
  codec_ints1000  the same for list(range(1000))                    (us)

Options: --secs S (time per measurement, default 2), --only
spawn,rtt,bw,lock,event,queue,codec (or sync, or single workload names), --pin
split|same|none (CPUs of the sync and queue workloads' processes, as in
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
Q_SMALL = 64         # queue items: small (bytes)
Q_BIG = 64 << 10     # and big
Q_SMALL_N = 20000    # items per producer per sample, 1->1 64 B
Q_PAIR_N = 10000     # the same for 2->2
Q_BIG_N = 500        # the same for 64 KiB items
Q_BURST_N = 256      # items of a burst (queue_burst_64k)
Q_END = (1 << 64) - 1  # the id of a producer's end marker
Q_SEQ_MASK = (1 << 48) - 1
Q_ID = struct.Struct("<Q")


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


def q_produce(put, who, seq, n, size):
    """n items (ids who << 48 | seq...), then the end marker; the next
    seq."""
    pad = bytes(size - 8)
    base = who << 48
    for s in range(seq, seq + n):
        put((base | s).to_bytes(8, "little") + pad)
    put(Q_END.to_bytes(8, "little") + pad)
    return seq + n


def q_consume(get, size):
    """Items until the first end marker: (count, sum, sumsq, bad)."""
    unpack = Q_ID.unpack_from
    last = [0, 0]
    count = total = sq = bad = 0
    while True:
        item = get()
        if len(item) != size:
            bad += 1
            continue
        (v,) = unpack(item)
        if v == Q_END:
            return count, total, sq, bad
        p, s = v >> 48, v & Q_SEQ_MASK
        if p > 1 or s < last[p]:  # FIFO per producer
            bad += 1
        else:
            last[p] = s + 1
        count += 1
        total += v
        sq += v * v


def q_producer(conn, q, cpu, who):
    pin_self(cpu)
    seq = 0
    try:
        while True:
            n, size = struct.unpack("<II", conn.recv_bytes())
            seq = q_produce(q.put, who, seq, n, size)
    except EOFError:
        pass


def q_consumer(conn, q, cpu):
    pin_self(cpu)
    try:
        while True:
            n, size = struct.unpack("<II", conn.recv_bytes())
            conn.send(q_consume(q.get, size))
    except EOFError:
        pass


def report(workload, values, unit, impl="python"):
    values = sorted(values)
    print("RESULT %s %s %.3f %s n=%d min=%.3f max=%.3f" % (
        workload, impl, statistics.median(values), unit, len(values),
        values[0], values[-1]), flush=True)


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


def queue_workload(ctx, secs, workload, simple, nprod, ncons, size, n,
                   cpus):
    """As mproc_bench's bench_queue: nprod producer children, the parent
    and ncons consumer children; cpus: (parent cpu, child cpu) or Nones.
    One sample: from the first command to the last consumer's answer."""
    q = ctx.SimpleQueue() if simple else ctx.Queue()
    impl = "python_simplequeue" if simple else "python_queue"
    conns, procs = [], []
    for k in range(nprod + ncons):
        # mproc_bench's q_cpu: producers on the child CPU, consumers on the
        # parent's.
        cpu = cpus[1] if k < nprod else cpus[0]
        a, b = ctx.Pipe()
        if k < nprod:
            p = ctx.Process(target=q_producer, args=(b, q, cpu, k))
        else:
            p = ctx.Process(target=q_consumer, args=(b, q, cpu))
        p.start()
        b.close()
        conns.append(a)
        procs.append(p)
    cmd = struct.pack("<II", n, size)
    get = q.get
    base = [0]

    def sample():
        s = time.perf_counter()
        for a in conns:
            a.send_bytes(cmd)
        count, total, sq, bad = q_consume(get, size)
        for a in conns[nprod:]:
            c2, t2, s2, b2 = a.recv()
            count, total, sq, bad = count + c2, total + t2, sq + s2, bad + b2
        e = time.perf_counter()
        ids = [p << 48 | i for p in range(nprod)
               for i in range(base[0], base[0] + n)]
        if (count != nprod * n or total != sum(ids) or
                sq != sum(i * i for i in ids) or bad):
            print("ERROR %s %s: %d items (expected %d), %d of a wrong length "
                  "or order, checksum %s" % (
                      workload, impl, count, nprod * n, bad,
                      "ok" if total == sum(ids) else "WRONG"), flush=True)
            for a, p in zip(conns, procs):
                a.close()
                p.terminate()  # a consumer may wait for a lost item
            sys.exit(1)
        base[0] += n
        items = nprod * n
        if size > Q_SMALL:
            return items * size / (1 << 20) / (e - s)
        return items / (e - s) * 1e-6

    out = sampled(secs, sample)
    for a, p in zip(conns, procs):
        finish(a, p)
    report(workload, out, "MiB/s" if size > Q_SMALL else "Mitem/s", impl)


def queue_burst(ctx, secs):
    """As mproc_bench's queue_burst_64k: one process, a new Queue(), 256
    puts of 64 KiB with nobody reading (the feeder thread takes them), then
    256 gets.  SimpleQueue cannot: its put writes the pipe itself and would
    block on a full pipe with no reader."""
    items = [struct.pack("<Q", i) + bytes(Q_BIG - 8) for i in range(Q_BURST_N)]

    def sample():
        s = time.perf_counter()
        q = ctx.Queue()
        for x in items:
            q.put(x)
        for i in range(Q_BURST_N):
            x = q.get()
            if len(x) != Q_BIG or struct.unpack_from("<Q", x)[0] != i:
                print("ERROR queue_burst_64k python_queue: item %d" % i,
                      flush=True)
                sys.exit(1)
        q.close()
        q.join_thread()
        e = time.perf_counter()
        return Q_BURST_N * Q_BIG / (1 << 20) / (e - s)

    report("queue_burst_64k", sampled(secs, sample), "MiB/s", "python_queue")


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


# name: (producers, consumer children beside the parent, item size, items
# per producer per sample)
QUEUE_WORKLOADS = {
    "queue_1to1_64": (1, 0, Q_SMALL, Q_SMALL_N),
    "queue_2to2_64": (2, 1, Q_SMALL, Q_PAIR_N),
    "queue_1to1_64k": (1, 0, Q_BIG, Q_BIG_N),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=float, default=2.0)
    ap.add_argument("--only",
                    default="spawn,rtt,bw,lock,event,queue,codec")
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
    queues = [w for w in QUEUE_WORKLOADS if wanted(only, w, "queue")]
    sync = [w for w, g in (("lock_uncontended", "lock"),
                           ("lock_contended", "lock"),
                           ("lock_handoff", "lock"),
                           ("event_pingpong", "event")) if wanted(only, w, g)]
    cpu = parent_cpu = None
    if sync or queues:
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
    for w in queues:
        nprod, ncons, size, n = QUEUE_WORKLOADS[w]
        for simple in (False, True):
            queue_workload(ctx, args.secs, w, simple, nprod, ncons, size, n,
                           (parent_cpu, cpu))
    if wanted(only, "queue_burst_64k", "queue"):
        queue_burst(ctx, args.secs)
    if (sync or queues) and saved is not None:
        os.sched_setaffinity(0, saved)
    for w, obj, batch, scale, unit in (
            ("codec_bytes64", b"x" * 64, 100000, 1e9, "ns"),
            ("codec_ints1000", list(range(1000)), 1000, 1e6, "us")):
        if wanted(only, w, "codec"):
            report(w, codec(args.secs, obj, batch, scale), unit)


def codec(secs, obj, batch, scale):
    import pickle

    def sample():
        t = time.perf_counter()
        for _ in range(batch):
            pickle.loads(pickle.dumps(obj))
        return (time.perf_counter() - t) * scale / batch
    return sampled(secs, sample)


if __name__ == "__main__":
    main()
