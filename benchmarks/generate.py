"""Per-token time of generating from a character model (V=96), in one run: elman's native loop
(`m.generate`), an `m.step` loop in Python, PyTorch's per-token loop (nn.RNN + nn.Linear under
no_grad, one-hot input, torch.multinomial) and onnxruntime running elman's ONNX export with T=1 and
h_n fed back, at H=256 and H=1024, batch 1 and 32; every loop samples from softmax(y) at temperature 1.

    python benchmarks/generate.py                  # both sizes, batch 1 and 32
    python benchmarks/generate.py --sizes 256 --batches 1 --tokens 100 --rounds 3
    python benchmarks/generate.py --threads 1      # one thread in every library

Also measures the rate at which one core reads memory (the best of numpy's float32 max and dot
over an array read again and again, so that it sits in whichever cache it fits, as W_hh does in a
generation loop; and over 256 MB, from main memory) and prints the floor of a token at batch 1: the
time one core takes to read W_hh (H*H float32) once. Prints µs per token (the median over --rounds
interleaved rounds) and PyTorch's time / each one's. Peers that are not installed are skipped.
--threads default (the default) leaves every library at its own thread count, as a user gets it;
--threads N sets N for all three (torch.set_num_threads, onnxruntime's intra-op threads).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

import elman

V = 96
PRIME = 16  # tokens of prime before each loop


def read_rate(nbytes: int, repeats: int) -> float:
    """Bytes per second one core reads from a float32 array of nbytes, read `repeats` times (the
    best run of numpy's max and of its dot product with itself, both one pass over the array)."""
    a = np.ones(nbytes // 4, dtype=np.float32)
    best = float("inf")
    for reader in (a.max, lambda: a.dot(a)):
        for _ in range(repeats):
            start = time.perf_counter()
            reader()
            best = min(best, time.perf_counter() - start)
    return a.nbytes / best


def sample(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One token per row of probabilities p (B, V), by inverting each row's cumulative sum."""
    c = np.cumsum(p, axis=1)
    u = rng.random((len(p), 1)) * c[:, -1:]
    return np.minimum((c < u).sum(axis=1), V - 1)


def softmax(y: np.ndarray) -> np.ndarray:
    e = np.exp(y - y.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def elman_generate(m: elman.RNN, B: int, n: int) -> float:
    """The native loop, its prime (one forward pass over 16 tokens) included."""
    prime = np.arange(PRIME) % V
    start = time.perf_counter()
    m.generate(prime, n, num_samples=B, seed=0)
    return time.perf_counter() - start


def elman_step(m: elman.RNN, B: int, n: int) -> float:
    rng = np.random.default_rng(0)
    prime = np.arange(PRIME) % V
    h = None
    for t in prime:
        y, h = m.step(np.full(B, t), h)
    start = time.perf_counter()
    for _ in range(n):
        y, h = m.step(sample(softmax(y), rng), h)
    return time.perf_counter() - start


def make_torch(m: elman.RNN, threads: int):
    import torch

    if threads:
        torch.set_num_threads(threads)
    H = m.config["hidden_size"]
    net = torch.nn.Module()
    net.rnn = torch.nn.RNN(V, H)
    net.head = torch.nn.Linear(H, V)
    net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in m.to_torch().items()})
    return net


def torch_loop(net, B: int, n: int) -> float:
    import torch

    generator = torch.Generator().manual_seed(0)
    prime = torch.arange(PRIME) % V
    with torch.no_grad():
        h = None
        for t in prime:
            x = torch.nn.functional.one_hot(torch.full((1, B), int(t)), V).float()
            out, h = net.rnn(x, h)
        start = time.perf_counter()
        for _ in range(n):
            p = torch.softmax(net.head(out[0]), dim=1)
            token = torch.multinomial(p, 1, generator=generator)[:, 0]
            out, h = net.rnn(torch.nn.functional.one_hot(token[None], V).float(), h)
    return time.perf_counter() - start


def make_onnx(m: elman.RNN, folder: str, threads: int):
    import onnxruntime

    path = os.path.join(folder, f"m{m.config['hidden_size']}.onnx")
    elman.export_onnx(m, path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads  # 0: onnxruntime's default
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnx_loop(session, H: int, B: int, n: int) -> float:
    rng = np.random.default_rng(0)
    eye = np.eye(V, dtype=np.float32)
    prime = np.arange(PRIME) % V
    h = np.zeros((1, B, H), np.float32)
    for t in prime:
        y, h = session.run(["y", "h_n"], {"x": eye[np.full((1, B), t)], "h0": h})
    start = time.perf_counter()
    for _ in range(n):
        token = sample(softmax(y[0]), rng)
        y, h = session.run(["y", "h_n"], {"x": eye[token][None], "h0": h})
    return time.perf_counter() - start


LIBRARIES = {"elman": ("generate", "step"), "torch": ("torch",), "onnx": ("onnx",)}


def worker(library: str, sizes: list[int], batches: list[int], tokens: int, threads: int) -> dict[str, float]:
    """In a process of its own (so that no other library's threads spin beside it): µs per token of
    `library`'s loops at every size and batch, as {"loop H B": µs}; a library not installed gives {}."""
    if threads:
        elman.set_num_threads(threads)
    result = {}
    with tempfile.TemporaryDirectory() as folder:
        for H in sizes:
            m = elman.RNN(V, H, V, seed=0)
            try:
                runs = library_loops(library, m, folder, threads)
            except ImportError:
                return {}
            for B in batches:
                for name, run in runs.items():
                    run(B, 20)  # warm-up
                    result[f"{name} {H} {B}"] = run(B, tokens) / tokens * 1e6
    return result


def library_loops(library: str, m: elman.RNN, folder: str, threads: int) -> dict[str, Any]:
    """The loops of `library` for model m: name -> (batch, tokens) -> seconds."""
    if library == "elman":
        return {"generate": functools.partial(elman_generate, m), "step": functools.partial(elman_step, m)}
    if library == "torch":
        return {"torch": functools.partial(torch_loop, make_torch(m, threads))}
    return {"onnx": functools.partial(onnx_loop, make_onnx(m, folder, threads), m.config["hidden_size"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="256,1024", help="hidden sizes, comma-separated")
    p.add_argument("--batches", default="1,32", help="batch sizes, comma-separated")
    p.add_argument("--tokens", type=int, default=300, help="tokens generated per timed run")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the median is reported")
    p.add_argument("--threads", default="default", help="threads of every library: an integer, or default")
    p.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    args = p.parse_args()
    threads = 0 if args.threads == "default" else int(args.threads)
    sizes, batches = [int(h) for h in args.sizes.split(",")], [int(b) for b in args.batches.split(",")]
    if args.worker:
        print(json.dumps(worker(args.worker, sizes, batches, args.tokens, threads)))
        return
    main_memory = read_rate(256 * 2**20, 5)
    print(
        f"elman {elman.__version__} ({elman.get_num_threads() if not threads else threads} threads), "
        f"{os.cpu_count()} cores, "
        + ("each library's default threads" if not threads else f"{threads} threads everywhere")
        + f"; one core reads main memory at {main_memory / 1e9:.1f} GB/s; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{args.tokens} tokens per run after a prime of {PRIME}, median of {args.rounds} interleaved rounds")
    print("(each library in a process of its own per round)\n")
    times: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for library in LIBRARIES:
            command = [sys.executable, __file__, "--worker", library, "--sizes", args.sizes, "--batches", args.batches,
                       "--tokens", str(args.tokens), "--threads", args.threads]  # fmt: skip
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            for key, us in json.loads(out.strip().splitlines()[-1]).items():
                times.setdefault(key, []).append(us)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        "| H | batch | generate µs/token | step loop | PyTorch loop | onnxruntime T=1 | "
        "PyTorch / generate | PyTorch / step loop | one core's W_hh read floor (GB/s) | generate / floor |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for H in sizes:
        rate = read_rate(H * H * 4, 50)
        floor = H * H * 4 / rate * 1e6  # µs per token for one core to read W_hh once
        for B in batches:
            at = {k: med[f"{k} {H} {B}"] for k in ("generate", "step", "torch", "onnx") if f"{k} {H} {B}" in med}
            cells = [f"{at[k]:.1f}" if k in at else "-" for k in ("generate", "step", "torch", "onnx")]
            ratios = [f"{at['torch'] / at[k]:.1f}x" if "torch" in at else "-" for k in ("generate", "step")]
            floor_cells = [f"{floor:.1f} ({rate / 1e9:.0f})", f"{at['generate'] / floor:.2f}x" if B == 1 else "-"]
            print(f"| {H} | {B} | " + " | ".join(cells + ratios + floor_cells) + " |")


if __name__ == "__main__":
    main()
