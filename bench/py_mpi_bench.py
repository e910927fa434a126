"""mpi4py.futures.MPIPoolExecutor on the MPI backend's workloads
(bench/mpi_bench.c): a map of 100 000 tiny tasks, chunksize 1000, and
1 000 tasks of 1 ms (a spin on the clock), chunksize 1, and 1 000 tasks
sleeping 1 ms (ideal: the sum of their measured times / 2); 2 worker ranks.

    mpiexec -n 3 /usr/bin/python3 -m mpi4py.futures bench/py_mpi_bench.py [reps]

(Debian's python3-mpi4py, for Debian's /usr/bin/python3.)  RESULT lines
as the C benchmarks print.
"""
import sys
import time

from mpi4py.futures import MPIPoolExecutor

N_MAP = 100000
N_MS = 1000


def square(x):
    return x * x


def one_ms(x):
    end = time.monotonic() + 1e-3
    while time.monotonic() < end:
        pass


def sleep_ms(x):
    t0 = time.monotonic()
    time.sleep(1e-3)
    return time.monotonic() - t0


def result(w, v, unit):
    v = sorted(v)
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    print("RESULT %s mpi4py %.3f %s n=%d min=%.3f max=%.3f"
          % (w, med, unit, n, v[0], v[-1]), flush=True)


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with MPIPoolExecutor(max_workers=2) as ex:
        for _ in range(20):  # warm-up, as mpi_bench.c
            list(ex.map(square, range(N_MAP), chunksize=1000))
        v = []
        for _ in range(reps):
            t0 = time.monotonic()
            list(ex.map(square, range(N_MAP), chunksize=1000))
            v.append(N_MAP / (time.monotonic() - t0) / 1e6)
        result("mpi_map_tiny", v, "Mtasks/s")
        v = []
        for _ in range(reps):
            t0 = time.monotonic()
            list(ex.map(one_ms, range(N_MS), chunksize=1))
            v.append((time.monotonic() - t0) / (N_MS * 1e-3 / 2))
        result("mpi_1ms_vs_ideal", v, "x")
        v = []
        for _ in range(reps):
            t0 = time.monotonic()
            ts = list(ex.map(sleep_ms, range(N_MS), chunksize=1))
            v.append((time.monotonic() - t0) / (sum(ts) / 2))
        result("mpi_sleep1ms_vs_ideal", v, "x")
        rt = []
        for _ in range(2000):
            t0 = time.monotonic()
            ex.submit(square, 3).result()
            rt.append((time.monotonic() - t0) * 1e6)
        result("mpi_apply_rtt", rt, "us")


if __name__ == "__main__":
    main()
