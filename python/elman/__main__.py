"""`python -m elman` (or `elman`): trains a small model on a generated task and prints its falling loss.

The task: from a noisy sum of two sine waves, predict the next value, 64 sequences at a time.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import RNN, clip_grad_norm


def sine_batch(rng: np.random.Generator, steps: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """x (T, B, 1) and the next value of each step as target (T, B, 1)."""
    t = np.arange(steps + 1)[:, None] * 0.1 + rng.uniform(0, 2 * np.pi, size=batch)
    freq = rng.uniform(0.5, 1.5, size=batch)
    wave = np.sin(freq * t) + 0.5 * np.sin(2.3 * freq * t) + 0.02 * rng.normal(size=t.shape)
    return wave[:-1, :, None], wave[1:, :, None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="elman", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    parser.add_argument("--steps", type=int, default=600, help="training steps")
    parser.add_argument("--hidden", type=int, default=48, help="hidden units")
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    parser.add_argument("--clip", type=float, default=1.0, help="gradient norm limit")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and data")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.hidden < 1 or not args.lr > 0 or not args.clip > 0:
        parser.error("--steps and --hidden must be positive integers, --lr and --clip positive numbers")

    rng = np.random.default_rng(args.seed)
    model = RNN(1, args.hidden, 1, seed=args.seed)
    x_val, y_val = sine_batch(rng, 100, 256)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y = sine_batch(rng, 50, 64)
        loss, grads, _ = model.loss_and_grad(x, y)
        clip_grad_norm(grads, args.clip)
        model.params.flat[:] -= args.lr * grads.flat
        if step == 1 or step % (args.steps // 10 or 1) == 0:
            pred, _ = model.forward(x_val)
            val = float(np.mean((pred - y_val) ** 2))
            print(f"step {step:5d}  train mse {loss:.5f}  validation mse {val:.5f}", flush=True)
    elapsed = time.perf_counter() - start
    print(f"{args.steps} steps in {elapsed:.1f} s ({1000 * elapsed / args.steps:.2f} ms/step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
