"""py_pool_bench.py - Python's Pool and ProcessPoolExecutor (spawn
context) on the workloads of pool_bench.c; prints the same RESULT lines.

  python3 bench/py_pool_bench.py [--reps N]
"""
import multiprocessing as mp
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

N_MAP = 100000
N_ASYNC = 10000
# As pool_bench.c: maps before the timed ones, and the timed ones.
MAP_WARM = 20
MAP_REPS = 11


def square(x):
    return x * x


def result(w, impl, v, unit):
    v = sorted(v)
    print("RESULT %s %s %.3f %s n=%d min=%.3f max=%.3f"
          % (w, impl, statistics.median(v), unit, len(v), v[0], v[-1]),
          flush=True)


def bench_pool(ctx, reps):
    data = list(range(N_MAP))
    v, vf = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        p = ctx.Pool(2)
        p.apply(square, (3,))
        v.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        p.map(square, data, 1000)
        vf.append(N_MAP / (time.perf_counter() - t0) / 1e6)
        p.terminate()
        p.join()
    result("pool_start", "python", v, "ms")
    result("pool_map_first", "python", vf, "Mtasks/s")
    with ctx.Pool(2) as p:
        for cs, name in ((1000, "pool_map_1000"), (None, "pool_map_def")):
            v = []
            for r in range(-MAP_WARM, MAP_REPS):
                t0 = time.perf_counter()
                p.map(square, data, cs)
                if r >= 0:
                    v.append(N_MAP / (time.perf_counter() - t0) / 1e6)
            result(name, "python", v, "Mtasks/s")
        v = []
        for _ in range(reps):
            t0 = time.perf_counter()
            rs = [p.apply_async(square, (3,)) for _ in range(N_ASYNC)]
            for r in rs:
                r.get()
            v.append(N_ASYNC / (time.perf_counter() - t0) / 1e3)
        result("pool_async", "python", v, "ktasks/s")
        v = []
        for _ in range(2000):
            t0 = time.perf_counter()
            p.apply(square, (3,))
            v.append((time.perf_counter() - t0) * 1e6)
        result("pool_apply_rtt", "python", v, "us")


def bench_executor(ctx, reps):
    data = list(range(N_MAP))
    v = []
    for _ in range(reps):
        t0 = time.perf_counter()
        ex = ProcessPoolExecutor(2, mp_context=ctx)
        ex.submit(square, 3).result()
        v.append((time.perf_counter() - t0) * 1e3)
        ex.shutdown()
    result("pool_start", "python_futures", v, "ms")
    with ProcessPoolExecutor(2, mp_context=ctx) as ex:
        v = []
        for r in range(-MAP_WARM, MAP_REPS):
            t0 = time.perf_counter()
            list(ex.map(square, data, chunksize=1000))
            if r >= 0:
                v.append(N_MAP / (time.perf_counter() - t0) / 1e6)
        result("pool_map_1000", "python_futures", v, "Mtasks/s")
        v = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fs = [ex.submit(square, 3) for _ in range(N_ASYNC)]
            for f in fs:
                f.result()
            v.append(N_ASYNC / (time.perf_counter() - t0) / 1e3)
        result("pool_async", "python_futures", v, "ktasks/s")
        v = []
        for _ in range(500):
            t0 = time.perf_counter()
            ex.submit(square, 3).result()
            v.append((time.perf_counter() - t0) * 1e6)
        result("pool_apply_rtt", "python_futures", v, "us")


if __name__ == "__main__":
    reps = 5
    if len(sys.argv) > 2 and sys.argv[1] == "--reps":
        reps = int(sys.argv[2])
    ctx = mp.get_context("spawn")
    bench_pool(ctx, reps)
    bench_executor(ctx, reps)
