"""Karpathy's min-char-rnn, reproduced with elman: H=100, 25-step chunks, batch 1, N(0, 0.01^2)
weights, zero biases, summed cross-entropy, clip by value 5, Adagrad lr 0.1, state carried.

    python examples/min_char_rnn.py [TEXT] [--iterations N]

Prints the smoothed loss (min-char-rnn's 0.999/0.001 average) and a sample every 10k iterations.
"""

import argparse
import math
from pathlib import Path

import numpy as np

import elman
from elman import data

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def sample(model, vocab, h, seed_id, n, rng):
    ids, x = [], seed_id
    for _ in range(n):
        y, h = model.forward(np.array([[x]]), h)
        p = np.exp(y[0, 0] - y[0, 0].max())
        x = int(rng.choice(vocab.size, p=p / p.sum()))
        ids.append(x)
    return vocab.decode(ids)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("text", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--iterations", type=int, default=100_000)
    args = parser.parse_args()

    text = args.text.read_text(encoding="utf-8")
    vocab = data.Vocabulary.from_text(text, unknown=None)
    stream = data.TextBatches(vocab.encode(text), batch_size=1, seq_len=25)
    model = elman.RNN(vocab.size, 100, vocab.size, init="normal", seed=0)
    opt = elman.optim.Adagrad(model, lr=0.1, eps=1e-8)
    rng = np.random.default_rng(0)
    smooth, h = -math.log(1.0 / vocab.size) * 25, None
    print(f"{len(text)} characters, {vocab.size} unique")
    for n in range(1, args.iterations + 1):
        batch = next(stream)
        loss, h = model.train_step(batch.x, batch.y, opt, loss="cross_entropy", reduction="sum", clip_value=5.0,
                                   h0=None if batch.reset else h)  # fmt: skip
        smooth = 0.999 * smooth + 0.001 * loss
        if n % 10_000 == 0:
            print(f"iter {n}, smoothed loss {smooth:.2f}")
    print("----\n" + sample(model, vocab, h, int(batch.x[-1, 0]), 300, rng) + "\n----")


if __name__ == "__main__":
    main()
