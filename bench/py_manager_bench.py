"""The Python side of bench/manager_bench.c: multiprocessing's Manager
(spawn context) doing the same workloads; RESULT lines."""
import multiprocessing as mp
import sys
import time


def rate(name, fn, secs):
    """The best of 3 windows of secs/3 (as manager_bench.c)."""
    best, n = 0.0, 0
    for _ in range(3):
        n0, t0 = n, time.perf_counter()
        while True:
            for _ in range(256):
                fn(n)
                n += 1
            t = time.perf_counter() - t0
            if t >= secs / 3:
                break
        best = max(best, (n - n0) / t)
    print(f"RESULT {name} python {best:.0f} ops/s", flush=True)


def main():
    secs = float(sys.argv[sys.argv.index("--secs") + 1]) if "--secs" in sys.argv else 2.0
    ctx = mp.get_context("spawn")
    best = 1e9
    for _ in range(5):
        t0 = time.perf_counter()
        m = ctx.Manager()
        best = min(best, time.perf_counter() - t0)
        m.shutdown()
    print(f"RESULT mgr_start python {best * 1e3:.2f} ms", flush=True)
    with ctx.Manager() as m:
        lst, d, lk = m.list(), m.dict(), m.Lock()
        rate("mgr_list_append", lambda i: lst.append(i), secs)
        rate("mgr_dict_set", lambda i: d.__setitem__(i & 1023, i), secs)
        rate("mgr_dict_get", lambda i: d[i & 1023], secs)

        def lock(_):
            lk.acquire()
            lk.release()
        rate("mgr_lock", lock, secs)


if __name__ == "__main__":
    main()
