"""min-char-rnn's recipe through elman's train_step, against the same loop in plain numpy (float64).

Recipe: H=100, 25-step chunks, batch 1, N(0, 0.01^2) weights and zero biases, summed cross-entropy,
clip by value 5, Adagrad lr 0.1, hidden state carried between chunks; smoothed loss is the
0.999/0.001 exponential average of the per-chunk summed loss, started at 25 ln(V) as min-char-rnn does.

    python benchmarks/min_char_rnn.py                      # 100k iterations (about 15 s for elman)
    python benchmarks/min_char_rnn.py --iterations 20000   # quicker
    python benchmarks/min_char_rnn.py --dtypes float64 --inputs tokens,onehot

Input "tokens" passes the (25, 1) character ids; "onehot" passes (25, 1, V) float rows built in the loop
from the ids, as a user who follows min-char-rnn writes it (the model then has a dense input of width V).
Prints the smoothed loss as it goes, then µs per iteration for each and their ratio to numpy's loop
(medians over blocks, all measured in this run).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from numpy_char_rnn import NumpyCharRNN  # noqa: E402

import elman  # noqa: E402
from elman import data  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
BLOCK = 1000  # iterations per timing block


def run_elman(tokens, vocab_size, iterations, dtype, onehot, seed):
    m = elman.RNN(vocab_size, 100, vocab_size, init="normal", dtype=dtype, seed=seed)
    opt = elman.optim.Adagrad(m, lr=0.1, eps=1e-8)
    stream = data.TextBatches(tokens, batch_size=1, seq_len=25)
    eye = np.eye(vocab_size, dtype=dtype)
    smooth = -math.log(1.0 / vocab_size) * 25
    h, block_times, start = None, [], time.perf_counter()
    for n in range(1, iterations + 1):
        batch = next(stream)
        x = eye[batch.x] if onehot else batch.x
        loss, h = m.train_step(x, batch.target, opt, loss="cross_entropy", reduction="sum", clip_value=5.0,
                               h0=None if batch.reset else h)  # fmt: skip
        smooth = 0.999 * smooth + 0.001 * loss
        if n % BLOCK == 0:
            now = time.perf_counter()
            block_times.append((now - start) / BLOCK)
            start = now
        if n % 10_000 == 0:
            print(f"  elman {dtype} {'onehot' if onehot else 'tokens'} iteration {n:7d}  smoothed loss {smooth:.2f}",
                  flush=True)  # fmt: skip
    return smooth, statistics.median(block_times) if block_times else float("nan")


def run_numpy(tokens, vocab_size, iterations, seed):
    model = NumpyCharRNN(vocab_size, 100, seed=seed)
    stream = data.TextBatches(tokens, batch_size=1, seq_len=25)
    h, times, start = np.zeros((100, 1)), [], time.perf_counter()
    block = max(1, min(BLOCK, iterations // 5))
    for n in range(1, iterations + 1):
        batch = next(stream)
        if batch.reset:
            h = np.zeros((100, 1))
        _, h = model.step(batch.x[:, 0], batch.target[:, 0], h)
        if n % block == 0:
            now = time.perf_counter()
            times.append((now - start) / block)
            start = now
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--iterations", type=int, default=100_000, help="elman iterations")
    parser.add_argument("--numpy-iterations", type=int, default=2_000, help="numpy iterations timed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtypes", default="float32,float64", help="elman's dtypes (numpy's loop is float64)")
    parser.add_argument("--inputs", default="tokens,onehot", help="tokens and/or onehot (see above)")
    args = parser.parse_args()

    text = args.corpus.read_text(encoding="utf-8")
    vocab = data.Vocabulary.from_text(text, unknown=None)
    tokens = vocab.encode(text)
    print(f"corpus {args.corpus.name}: {len(tokens)} characters, vocabulary {vocab.size}; "
          f"elman threads {elman.get_num_threads()}")  # fmt: skip

    results = {}
    for dtype in args.dtypes.split(","):
        for inputs in args.inputs.split(","):
            n = args.iterations if dtype == "float32" else min(args.iterations, 10_000)
            smooth, per_iter = run_elman(tokens, vocab.size, n, dtype, inputs == "onehot", args.seed)
            results[dtype, inputs] = (n, smooth, per_iter)
    numpy_per_iter = run_numpy(tokens, vocab.size, args.numpy_iterations, args.seed)

    print()
    print(f"numpy float64 (min-char-rnn's loop):   {1e6 * numpy_per_iter:8.1f} us/iteration")
    for (dtype, inputs), (n, smooth, per_iter) in results.items():
        print(f"elman {dtype} {inputs:6s} train_step: {1e6 * per_iter:8.1f} us/iteration  "
              f"{numpy_per_iter / per_iter:5.1f}x numpy  smoothed loss {smooth:.2f} after {n} iterations")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
