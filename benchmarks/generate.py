"""Per-token time of generating from a character model (V=96), in one run: elman's native loop
(`m.generate`), an `m.step` loop in Python, PyTorch's per-token loop (nn.RNN + nn.Linear under
no_grad, one-hot input, torch.multinomial) and onnxruntime running elman's ONNX export with T=1 and
h_n fed back, at H=256 and H=1024, batch 1 and 32; every loop samples from softmax(y) at temperature 1.

    python benchmarks/generate.py                  # both sizes, batch 1 and 32
    python benchmarks/generate.py --sizes 256 --batches 1 --tokens 100 --rounds 3

Also measures the machine's memory read rate (numpy summing 256 MB, best of 5) and prints the floor
of a token at batch 1 that streams W_hh (H*H float32) from memory. Prints µs per token (the median
over --rounds interleaved rounds) and PyTorch's time / each one's. Peers that are not installed are
skipped. One thread everywhere (torch.set_num_threads(1), onnxruntime's intra-op threads 1).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

import elman

V = 96
PRIME = 16  # tokens of prime before each loop


def memory_read_rate() -> float:
    """Bytes per second numpy reads summing a 256 MB array (best of 5)."""
    a = np.ones(32 * 2**20)  # 256 MB of float64
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a.sum()
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


def make_torch(m: elman.RNN):
    import torch

    torch.set_num_threads(1)
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


def make_onnx(m: elman.RNN, folder: str):
    import onnxruntime

    path = os.path.join(folder, f"m{m.config['hidden_size']}.onnx")
    elman.export_onnx(m, path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="256,1024", help="hidden sizes, comma-separated")
    p.add_argument("--batches", default="1,32", help="batch sizes, comma-separated")
    p.add_argument("--tokens", type=int, default=300, help="tokens generated per timed run")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the median is reported")
    args = p.parse_args()
    elman.set_num_threads(1)
    rate = memory_read_rate()
    print(f"elman {elman.__version__}, {os.cpu_count()} cores, memory read rate {rate / 1e9:.1f} GB/s (numpy sum)")
    print(f"{args.tokens} tokens per run after a prime of {PRIME}, median of {args.rounds} interleaved rounds\n")
    print(
        "| H | batch | generate µs/token | step loop | PyTorch loop | onnxruntime T=1 | "
        "PyTorch / generate | PyTorch / step loop | W_hh read floor |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        for H in map(int, args.sizes.split(",")):
            runs = loops(elman.RNN(V, H, V, seed=0), folder)
            floor = H * H * 4 / rate * 1e6  # µs per token to stream W_hh once
            for B in map(int, args.batches.split(",")):
                med = per_token(runs, B, args.tokens, args.rounds)
                cells = [f"{med[k]:.1f}" if k in med else "-" for k in ("generate", "step", "torch", "onnx")]
                ratios = [f"{med['torch'] / med[k]:.1f}x" if "torch" in med else "-" for k in ("generate", "step")]
                print(f"| {H} | {B} | " + " | ".join(cells + ratios) + f" | {floor:.1f} |")
                sys.stdout.flush()


def loops(m: elman.RNN, folder: str) -> dict[str, Callable[[int, int], float]]:
    """Each installed peer's loop for model m: (batch, tokens) -> seconds."""
    runs: dict[str, Callable[[int, int], float]] = {
        "generate": functools.partial(elman_generate, m),
        "step": functools.partial(elman_step, m),
    }
    try:
        runs["torch"] = functools.partial(torch_loop, make_torch(m))
    except ImportError:
        pass
    try:
        runs["onnx"] = functools.partial(onnx_loop, make_onnx(m, folder), m.config["hidden_size"])
    except ImportError:
        pass
    return runs


def per_token(runs: dict[str, Callable[[int, int], float]], B: int, n: int, rounds: int) -> dict[str, float]:
    """µs per token of each loop: the median over interleaved rounds, after a warm-up."""
    for run in runs.values():
        run(B, 20)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for k, run in runs.items():
            times[k].append(run(B, n) / n * 1e6)
    return {k: statistics.median(v) for k, v in times.items()}


if __name__ == "__main__":
    main()
