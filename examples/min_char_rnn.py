"""Karpathy's min-char-rnn, reproduced with elman: H=100, 25-step chunks, batch 1, N(0, 0.01^2)
weights, zero biases, summed cross-entropy, clip by value 5, Adagrad lr 0.1, state carried.

    python examples/min_char_rnn.py [TEXT] [--iterations N]

TEXT defaults to input.txt in the current folder, min-char-rnn's own default; char-rnn's
tinyshakespeare (1.1M characters) is
https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt
Prints the smoothed loss (min-char-rnn's 0.999/0.001 average) every 10k iterations and a sample at the end.
"""

import argparse
import math
import sys
from pathlib import Path

import elman
from elman import data
from elman.sampling import sample_tokens

SHAKESPEARE = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("text", nargs="?", type=Path, default=Path("input.txt"), help="a UTF-8 text file")
    parser.add_argument("--iterations", type=int, default=100_000, help="training steps")
    args = parser.parse_args()
    if not args.text.is_file():
        sys.exit(f"min_char_rnn.py: {args.text} does not exist; pass a text file, or download one: {SHAKESPEARE}")

    text = args.text.read_text(encoding="utf-8")
    vocab = data.Vocabulary.from_text(text, unknown=None)
    stream = data.TextBatches(vocab.encode(text), batch_size=1, seq_len=25)
    model = elman.RNN(vocab.size, 100, vocab.size, init="normal", seed=0)
    opt = elman.optim.Adagrad(model, lr=0.1, eps=1e-8)
    smooth, h = -math.log(1.0 / vocab.size) * 25, None
    print(f"{len(text)} characters, {vocab.size} unique")
    for n in range(1, args.iterations + 1):
        batch = next(stream)
        loss, h = model.train_step(
            batch.x,
            batch.target,
            opt,
            loss="cross_entropy",
            reduction="sum",
            clip_value=5.0,
            h0=None if batch.reset else h,
        )
        smooth = 0.999 * smooth + 0.001 * loss
        if n % 10_000 == 0:
            print(f"iter {n}, smoothed loss {smooth:.2f}")
    # The sample continues the stream: the state after the last chunk, fed the character that follows it.
    tokens = sample_tokens(model, batch.target[-1:, 0], 300, h0=h[:, 0], seed=0)
    print("----\n" + vocab.decode(tokens) + "\n----")


if __name__ == "__main__":
    main()
