"""One full training step — forward, linear head, MSE, BPTT, clip by value 5, SGD — in elman, PyTorch
(nn.RNN + nn.Linear + torch.optim.SGD) and JAX (jit of the gradient of a lax.scan loss plus the update),
each in its own process, in one run.

    python benchmarks/train_step.py                       # all sizes, float32, every library's defaults
    python benchmarks/train_step.py --load                # the same with a busy loop on one core
    python benchmarks/train_step.py --sizes tiny,small --dtype float64 --threads 1
    python benchmarks/train_step.py --input tokens        # class ids in, cross-entropy (language models)
    python benchmarks/train_step.py --forward             # inference: forward pass and head only

--forward times the forward pass with the head (y for every step, h_n) instead of a training step,
against PyTorch under torch.no_grad() and onnxruntime running elman's ONNX export (float32, dense).

--threads default (the default) leaves every library at its own thread count, as a user gets it;
"elman-1t" is elman at one thread, the yardstick of the load test (at its default under load elman
should be no more than 1.5x slower than at one thread). --load runs a busy-loop process pinned to the
last core this process may use for the whole run, as another program would.

Prints ms/step (the median over --rounds interleaved runs of each run's median), GFLOP/s
(6·T·B·(I·H + H·H + H·O) per step, a third of it for --forward), the growth of peak memory during
the steps, and best-peer-time / elman-time; the machine's sgemm rate (1024 x 1024 float32,
torch.matmul where torch is installed, else numpy) is the ceiling. Peers that are not installed
are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SIZES = {  # I, H, O, B, T
    "tiny": (8, 32, 8, 1, 100),
    "small": (64, 128, 64, 16, 50),
    "medium": (128, 256, 128, 32, 100),
    "large": (512, 1024, 512, 64, 50),
}
FRAMEWORKS = ("elman", "elman-1t", "torch", "jax")
FORWARD_FRAMEWORKS = ("elman", "elman-1t", "torch", "onnxruntime")
DEFAULT = 0  # --threads default: each library's own thread count


def flops(I, H, O, B, T):
    return 6 * T * B * (I * H + H * H + H * O)


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> float:
    """Resets the process's peak resident memory (Linux: VmHWM) and returns the current one, in MB.
    getrusage's ru_maxrss cannot be used: it keeps the parent's peak across fork and exec."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return float("nan")
    return _status_mb("VmRSS")


def peak_mb() -> float:
    return _status_mb("VmHWM")


def timed(step, seconds: float) -> list[float]:
    """Per-step times: warm up, then repeat for about `seconds` (at least 5 steps)."""
    for _ in range(3):
        step()
    times = []
    start = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


def data(size, dtype, tokens):
    """Dense inputs and MSE targets, or (tokens) I-way class ids in and O-way class ids as targets."""
    import numpy as np

    I, H, O, B, T = SIZES[size]
    rng = np.random.default_rng(0)
    if tokens:
        return rng.integers(0, I, size=(T, B)), rng.integers(0, O, size=(T, B))
    return rng.normal(size=(T, B, I)).astype(dtype), rng.normal(size=(T, B, O)).astype(dtype)


def worker_elman(size, dtype, tokens, threads, seconds, forward=False):
    import elman

    I, H, O, B, T = SIZES[size]
    if threads != DEFAULT:
        elman.set_num_threads(threads)
    x, target = data(size, dtype, tokens)
    base = reset_peak()
    m = elman.RNN(I, H, O, dtype=dtype, seed=0)
    if forward:
        return timed(lambda: m.forward(x), seconds), peak_mb() - base
    opt = elman.optim.SGD(m, lr=0.01)
    loss = "cross_entropy" if tokens else "mse"
    times = timed(lambda: m.train_step(x, target, opt, loss=loss, clip_value=5.0), seconds)
    return times, peak_mb() - base


def worker_torch(size, dtype, tokens, threads, seconds, forward=False):
    import torch
    import torch.nn.functional as F

    I, H, O, B, T = SIZES[size]
    if threads != DEFAULT:
        torch.set_num_threads(threads)
    tdtype = getattr(torch, dtype)
    x, target = (torch.from_numpy(a) for a in data(size, dtype, tokens))
    base = reset_peak()
    rnn, head = torch.nn.RNN(I, H, dtype=tdtype), torch.nn.Linear(H, O, dtype=tdtype)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.01)

    def infer():
        with torch.no_grad():
            out, h_n = rnn(x)
            return head(out), h_n

    if forward:
        return timed(infer, seconds), peak_mb() - base

    def step():
        opt.zero_grad()
        if tokens:
            out, _ = rnn(F.one_hot(x, I).to(tdtype))
            loss = F.cross_entropy(head(out).reshape(-1, O), target.reshape(-1))
        else:
            out, _ = rnn(x)
            loss = F.mse_loss(head(out), target)
        loss.backward()
        torch.nn.utils.clip_grad_value_(params, 5.0)
        opt.step()

    times = timed(step, seconds)
    return times, peak_mb() - base


def worker_onnxruntime(size, dtype, tokens, threads, seconds, forward=True):
    """elman's ONNX export (one RNN operator and the head) in onnxruntime: inference only."""
    import tempfile

    import numpy as np
    import onnxruntime

    import elman

    I, H, O, B, T = SIZES[size]
    x, _ = data(size, "float32", False)
    base = reset_peak()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.onnx")
        elman.export_onnx(elman.RNN(I, H, O, seed=0), path)
        options = onnxruntime.SessionOptions()
        if threads != DEFAULT:
            options.intra_op_num_threads = threads
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {"x": x, "h0": np.zeros((1, B, H), np.float32)}
    return timed(lambda: session.run(["y", "h_n"], feed), seconds), peak_mb() - base


def worker_jax(size, dtype, tokens, threads, seconds, forward=False):
    if threads != DEFAULT:
        os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} " \
                                  f"intra_op_parallelism_threads={threads}"  # fmt: skip
    import jax
    import jax.numpy as jnp

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    I, H, O, B, T = SIZES[size]
    x, target = (jnp.asarray(a) for a in data(size, dtype, tokens))
    base = reset_peak()
    key = jax.random.split(jax.random.PRNGKey(0), 5)
    k = 1 / H**0.5
    params = {
        "W_xh": jax.random.uniform(key[0], (H, I), dtype, -k, k),
        "W_hh": jax.random.uniform(key[1], (H, H), dtype, -k, k),
        "b_h": jax.random.uniform(key[2], (H,), dtype, -k, k),
        "W_hy": jax.random.uniform(key[3], (O, H), dtype, -k, k),
        "b_y": jax.random.uniform(key[4], (O,), dtype, -k, k),
    }

    def loss(p, x, target):
        def cell(h, x_t):
            h = jnp.tanh(x_t @ p["W_xh"].T + h @ p["W_hh"].T + p["b_h"])
            return h, h

        _, hs = jax.lax.scan(cell, jnp.zeros((B, H), dtype), jax.nn.one_hot(x, I, dtype=dtype) if tokens else x)
        y = hs @ p["W_hy"].T + p["b_y"]
        if tokens:
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(y), target[..., None], axis=-1))
        return jnp.mean((y - target) ** 2)

    @jax.jit
    def step(p, x, target):
        g = jax.grad(loss)(p, x, target)
        return jax.tree_util.tree_map(lambda w, d: w - 0.01 * jnp.clip(d, -5.0, 5.0), p, g)

    state = {"p": params}

    def run():
        state["p"] = step(state["p"], x, target)
        jax.block_until_ready(state["p"])

    times = timed(run, seconds)
    return times, peak_mb() - base


def sgemm_gflops(threads: int) -> tuple[float, str]:
    n = 1024
    try:
        import torch

        if threads != DEFAULT:
            torch.set_num_threads(threads)
        a, b = torch.randn(n, n), torch.randn(n, n)
        times = timed(lambda: torch.matmul(a, b), 1.0)
        name = f"torch.matmul ({torch.get_num_threads()} threads)"
    except ImportError:
        import numpy as np

        rng = np.random.default_rng(0)
        a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
        times = timed(lambda: a @ b, 1.0)
        name = "numpy matmul"
    return 2 * n**3 / statistics.median(times) / 1e9, name


def thread_count(text: str) -> int:
    return DEFAULT if text == "default" else int(text)


def busy_loop() -> subprocess.Popen:
    """A process spinning on the last core this one may use, until killed."""
    core = max(os.sched_getaffinity(0))
    code = f"import os\nos.sched_setaffinity(0, {{{core}}})\nwhile True:\n    pass\n"
    return subprocess.Popen([sys.executable, "-c", code])


def run_worker(framework, size, dtype, inputs, threads, seconds, forward):
    if framework == "elman-1t":
        framework, threads = "elman", 1
    cmd = [sys.executable, __file__, "--worker", framework, "--sizes", size, "--dtype", dtype, "--input", inputs,
           "--threads", str(threads), "--seconds", str(seconds)] + (["--forward"] if forward else [])  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        return None, last
    return json.loads(out.stdout.strip().splitlines()[-1]), ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument(
        "--input",
        default="dense",
        choices=["dense", "tokens"],
        help="tokens: I-way class ids in (one-hot for the peers), cross-entropy on O classes",
    )
    parser.add_argument("--threads", type=thread_count, default=DEFAULT, help="an integer, or default")
    parser.add_argument("--load", action="store_true", help="a busy loop on one core during the run")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing budget per framework and size")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each framework per size, interleaved")
    parser.add_argument("--frameworks", help="comma-separated (default: all for the mode)")
    parser.add_argument("--forward", action="store_true", help="time inference (forward and head), not training")
    parser.add_argument("--worker", choices=("elman", "torch", "jax", "onnxruntime"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        fn = {"elman": worker_elman, "torch": worker_torch, "jax": worker_jax, "onnxruntime": worker_onnxruntime}[
            args.worker
        ]
        times, mem = fn(args.sizes, args.dtype, args.input == "tokens", args.threads, args.seconds, args.forward)
        print(json.dumps({"ms": 1000 * statistics.median(times), "steps": len(times), "mb": mem}))
        return 0

    if args.forward and (args.input == "tokens" or args.dtype != "float32"):
        parser.error("--forward times float32 dense inputs (onnxruntime's RNN runs float32 only)")
    load = busy_loop() if args.load else None
    try:
        return compare(args)
    finally:
        if load is not None:
            load.kill()


def compare(args: argparse.Namespace) -> int:
    threads = "each library's default threads" if args.threads == DEFAULT else f"{args.threads} threads"
    rate, how = sgemm_gflops(args.threads) if args.dtype == "float32" else (float("nan"), "")
    print(
        ("forward and head only, " if args.forward else "training step, ")
        + f"{args.dtype}, {args.input} input, {threads}, {os.cpu_count()} cores"
        + (", a busy loop on one core" if args.load else ", no load of ours")
        + f"; sgemm ceiling {rate:.0f} GFLOP/s ({how}); load average at start {os.getloadavg()[0]:.1f}"
    )
    header = f"{'size':7s} {'framework':9s} {'ms/step':>9s} {'GFLOP/s':>8s} {'peak MB':>8s}"
    print(header)
    frameworks = (args.frameworks or ",".join(FORWARD_FRAMEWORKS if args.forward else FRAMEWORKS)).split(",")
    for size in args.sizes.split(","):
        gflop = flops(*SIZES[size]) / 1e9 / (3 if args.forward else 1)  # forward: a third of a step
        # Rounds interleave the frameworks, so that a burst of load from elsewhere on a shared machine
        # hits one round of each rather than all of one framework's time; each reports the median of
        # its round medians.
        rounds: dict[str, list[dict]] = {fw: [] for fw in frameworks}
        errors = {}
        for _ in range(args.rounds):
            for fw in frameworks:
                if fw in errors:
                    continue
                result, error = run_worker(
                    fw, size, args.dtype, args.input, args.threads, args.seconds / args.rounds, args.forward
                )
                if result is None:
                    errors[fw] = error
                else:
                    rounds[fw].append(result)
        results = {}
        for fw in frameworks:
            if fw in errors:
                print(f"{size:7s} {fw:9s} skipped ({errors[fw]})")
                continue
            ms = statistics.median(r["ms"] for r in rounds[fw])
            results[fw] = ms
            mb = max(r["mb"] for r in rounds[fw])
            print(f"{size:7s} {fw:9s} {ms:9.3f} {gflop / ms * 1000:8.1f} {mb:8.0f}", flush=True)
        peers = [ms for fw, ms in results.items() if not fw.startswith("elman")]
        if "elman" in results and peers:
            ratio = min(peers) / results["elman"]
            extra = ""
            if size == "large" and rate == rate:
                extra = f", {100 * gflop / results['elman'] * 1000 / rate:.0f}% of sgemm"
            print(f"{size:7s} best peer / elman = {ratio:.2f}x{extra}", flush=True)
        if "elman" in results and "elman-1t" in results:
            print(f"{size:7s} elman at its default / at one thread = {results['elman'] / results['elman-1t']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
