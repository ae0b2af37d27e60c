"""Resident memory over long runs: 100k tiny and 2k medium float32 training steps, and 100k forward
calls, each after a warm-up; the resident set (Linux: /proc/self/statm) must grow by less than 1 MB
during each. Exits non-zero if one grows by more, so .ci/run can run it as a check.

    python benchmarks/memory.py                       # the sizes of benchmarks/train_step.py
    python benchmarks/memory.py --scale 0.1           # a tenth of the calls
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

import numpy as np

import elman

LIMIT_MB = 1.0
SIZES = {"tiny": (8, 32, 8, 1, 100), "medium": (128, 256, 128, 32, 100)}  # I, H, O, B, T


def resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def growth(name: str, call: Callable[[], object], calls: int) -> bool:
    """Runs call() a tenth of `calls` times to warm up, then `calls` times; prints the resident set's
    growth over the latter and returns whether it stayed under LIMIT_MB."""
    for _ in range(max(1, calls // 10)):
        call()
    before, start = resident_mb(), time.perf_counter()
    for _ in range(calls):
        call()
    grew = resident_mb() - before
    ok = grew < LIMIT_MB
    print(f"{name:24s} {calls:7d} calls in {time.perf_counter() - start:6.1f} s: resident set grew "
          f"{grew:+.3f} MB  {'ok' if ok else 'TOO MUCH'}", flush=True)  # fmt: skip
    return ok


def step(size: str) -> Callable[[], object]:
    I, H, O, B, T = SIZES[size]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    target = rng.standard_normal((T, B, O)).astype(np.float32)
    m = elman.RNN(I, H, O, dtype="float32", seed=0)
    opt = elman.optim.Adam(m, lr=1e-3)
    return lambda: m.train_step(x, target, opt, loss="mse", clip_norm=1.0)


def forward(size: str) -> Callable[[], object]:
    I, H, O, B, T = SIZES[size]
    x = np.random.default_rng(1).standard_normal((T, B, I)).astype(np.float32)
    m = elman.RNN(I, H, O, dtype="float32", seed=0)
    return lambda: m.forward(x)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies every number of calls")
    args = p.parse_args()
    print(f"elman {elman.__version__}, {elman.get_num_threads()} threads; limit {LIMIT_MB} MB per run")
    runs = [("tiny train_step", step("tiny"), 100_000), ("medium train_step", step("medium"), 2_000),
            ("tiny forward", forward("tiny"), 100_000)]  # fmt: skip
    results = [growth(name, call, max(1, int(calls * args.scale))) for name, call, calls in runs]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
