"""Data parallelism on MPI against one process, at a fixed global batch: one training step (forward,
head, MSE, BPTT, clip by value 5, SGD; the sizes of benchmarks/train_step.py) taken by

- one process with one thread on the whole batch B,
- 2 ranks with one thread each (`mpiexec -n 2`, `train_step(comm=...)`), B/2 sequences each,
- one process with 2 threads on the whole batch, for comparison,

each in its own processes, the configurations interleaved round by round.

    python benchmarks/distributed.py                      # medium and large, float32, 5 rounds
    python benchmarks/distributed.py --sizes medium --rounds 9 --seconds 3

Prints ms/step (the median over rounds of each run's median), the speed-up over one process with one
thread, and for the 2 ranks the share of a step spent in the all-reduce of the gradient buffer (with
the waiting for the slower rank, which the all-reduce absorbs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from train_step import SIZES  # noqa: E402

CONFIGS = ("1 process, 1 thread", "2 ranks, 1 thread each", "1 process, 2 threads")


def worker(size: str, dtype: str, seconds: float, threads: int, distributed: bool) -> None:
    """Runs in each process: times steps and prints a JSON line (rank 0 only)."""
    import numpy as np

    import elman
    from elman import _mpi

    comm = None
    if distributed:
        import elman.distributed as dist

        comm = dist.init(threads=threads)
    else:
        elman.set_num_threads(threads)
    I, H, O, B, T = SIZES[size]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, B, I)).astype(dtype)
    y = rng.normal(size=(T, B, O)).astype(dtype)
    if comm is not None:
        x = np.ascontiguousarray(dist.shard(x, comm))
        y = np.ascontiguousarray(dist.shard(y, comm))
    m = elman.RNN(I, H, O, dtype=dtype, seed=0)
    opt = elman.optim.SGD(m, lr=1e-3)
    core, buffer = m._core, m._core.reduction_buffer

    def step() -> tuple[float, float]:
        """One step; returns (its seconds, those of its all-reduce)."""
        t0 = time.perf_counter()
        if comm is None:
            m.train_step(x, y, opt, clip_value=5.0)
            return time.perf_counter() - t0, 0.0
        # train_step(comm=comm)'s three parts, timed one by one
        core.gradient_phase(x, y, "mse")
        t1 = time.perf_counter()
        _mpi.sum_in_place(comm, buffer)
        t2 = time.perf_counter()
        core.update_phase(opt._core, "mean", 5.0)
        return time.perf_counter() - t0, t2 - t1

    for _ in range(3):
        step()
    times, reduces = [], []
    start = time.perf_counter()
    while True:
        total, reduce = step()
        times.append(total)
        reduces.append(reduce)
        done = len(times) >= 5 and time.perf_counter() - start >= seconds
        if comm is not None:  # every rank stops at the same step
            done = comm.allreduce(done)
        if done:
            break
    if comm is None or comm.Get_rank() == 0:
        ms = 1e3 * statistics.median(times)
        print(json.dumps({"ms": ms, "reduce_ms": 1e3 * statistics.median(reduces)}), flush=True)


def run(config: str, size: str, dtype: str, seconds: float) -> dict[str, float]:
    here = os.path.abspath(__file__)
    args = ["--worker", size, "--dtype", dtype, "--seconds", str(seconds)]
    env = {k: v for k, v in os.environ.items() if k not in ("ELMAN_NUM_THREADS", "OMP_NUM_THREADS")}
    if config == CONFIGS[1]:
        mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
        command = [mpiexec, "-n", "2", sys.executable, here, *args, "--threads", "1", "--distributed"]
    else:
        command = [sys.executable, here, *args, "--threads", "1" if config == CONFIGS[0] else "2"]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{config} failed: {out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="medium,large")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0, help="timed steps per run")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--distributed", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(a.worker, a.dtype, a.seconds, a.threads, a.distributed)
        return
    print(f"{a.dtype}, global batch fixed, median of {a.rounds} interleaved rounds; cores here: {os.cpu_count()}")
    print(
        "| size (I, H, O, B, T) | " + " | ".join(f"{c} ms" for c in CONFIGS) + " | 2 ranks speed-up | "
        "2 threads speed-up | all-reduce share (2 ranks) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in a.sizes.split(","):
        results: dict[str, list[dict[str, float]]] = {c: [] for c in CONFIGS}
        for _ in range(a.rounds):
            for config in CONFIGS:
                results[config].append(run(config, size, a.dtype, a.seconds))
        ms = {c: statistics.median(r["ms"] for r in results[c]) for c in CONFIGS}
        share = statistics.median(r["reduce_ms"] / r["ms"] for r in results[CONFIGS[1]])
        base = ms[CONFIGS[0]]
        print(
            f"| {size} {SIZES[size]} | "
            + " | ".join(f"{ms[c]:.1f}" for c in CONFIGS)
            + f" | **{base / ms[CONFIGS[1]]:.2f}x** | {base / ms[CONFIGS[2]]:.2f}x | {100 * share:.1f}% |",
            flush=True,
        )


if __name__ == "__main__":
    main()
