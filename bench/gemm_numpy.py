"""Peer for `optiformer bench kernels`: fp32 GEMM through numpy, which calls OpenBLAS.

Protocol: one JSON request per line on stdin, one JSON answer per line on stdout. The first
line out describes the peer. Threads are fixed for the process by OPENBLAS_NUM_THREADS, set by
the caller before start. Requests:
  {"op": "gemm", "m": M, "k": K, "n": N, "seconds": S}
      times C = A @ B (A M×K, B K×N, C-contiguous float32, C preallocated) for about S seconds
      and answers {"gflops": G, "calls": n}.
"""
import ctypes
import json
import os
import sys
import time


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


try:
    import numpy as np
except ImportError as e:  # the peer is optional: say why it is missing
    out({"error": "numpy not installed (%s); apt-get install python3-numpy libopenblas0-pthread" % e})
    sys.exit(0)


def blas_info():
    """Name and core type of the BLAS numpy loaded, read from the process's own mappings."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "blas" in os.path.basename(path):
                libs.add(path)
    info = {"libraries": sorted(libs)}
    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
            corename = lib.openblas_get_corename
            corename.restype = ctypes.c_char_p
            info["openblas_core"] = corename().decode()
            config = lib.openblas_get_config
            config.restype = ctypes.c_char_p
            info["openblas_config"] = config().decode()
            threads = lib.openblas_get_num_threads
            info["threads"] = threads()
            break
        except (OSError, AttributeError):
            continue
    return info


def rate(fn, seconds):
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        el = time.perf_counter() - t0
        if el >= seconds or n >= 1 << 30:
            return n, el
        n = max(n + 1, min(int(n * 1.2 * seconds / max(el, 1e-9)), 100 * n))


def main():
    # numpy must be linked with OpenBLAS, not the slow reference BLAS.
    info = blas_info()
    if "openblas_core" not in info:
        out({"error": "numpy is not using OpenBLAS (loaded: %s); apt-get install libopenblas0-pthread" % info["libraries"]})
        return
    out({"ready": True, "numpy": np.__version__, **info})
    cache = {}
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("op") != "gemm":
            out({"error": "unknown op %r" % req.get("op")})
            continue
        m, k, n = req["m"], req["k"], req["n"]
        key = (m, k, n)
        if key not in cache:
            rng = np.random.default_rng(1)
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            c = np.empty((m, n), dtype=np.float32)
            cache = {key: (a, b, c)}
        a, b, c = cache[key]
        calls, el = rate(lambda: np.matmul(a, b, out=c), req.get("seconds", 0.1))
        out({"gflops": 2.0 * m * n * k * calls / el / 1e9, "calls": calls})


main()
