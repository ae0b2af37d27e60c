"""Many-to-one classification of variable-length sequences: which of three symbols occurs most often?

    python examples/classify_sequences.py

Sequences of 5 to 40 tokens over an alphabet of 6 (three counted symbols and three distractors) are
padded into batches with their lengths; the model reads each one and is trained to classify it from its
last valid step (cross-entropy on that step only). Prints the accuracy on held-out sequences.
"""

import numpy as np

import elman
from elman import data


def make(n, rng):
    inputs, labels = [], []
    while len(inputs) < n:
        seq = rng.integers(0, 6, size=rng.integers(5, 41))
        counts = np.bincount(seq, minlength=6)[:3]
        if (counts == counts.max()).sum() == 1:  # keep sequences with one clear winner
            inputs.append(seq)
            labels.append(int(counts.argmax()))
    return inputs, labels


def accuracy(model, dataset):
    right = 0
    for batch in dataset.batches(256, shuffle=False):
        y, _ = model.forward(batch.x, lengths=batch.lengths)
        last = y[batch.lengths - 1, np.arange(batch.lengths.size)]  # each sequence's last valid step
        right += int((last.argmax(axis=1) == batch.target[batch.lengths - 1, np.arange(batch.lengths.size)]).sum())
    return right / len(dataset)


def main():
    rng = np.random.default_rng(0)
    train = data.SequenceDataset(*make(6000, rng), many_to_one=True)
    test = data.SequenceDataset(*make(1000, rng), many_to_one=True)
    model = elman.RNN(6, 64, 3, seed=0)
    trainer = elman.Trainer(model, elman.optim.Adam(model, lr=3e-3), loss="cross_entropy", clip_norm=1.0)
    print(f"accuracy before training {accuracy(model, test):.1%} (chance is about 33%)")
    trainer.fit(data.Loader(train, batch_size=64, seed=0), 2500)
    print(f"accuracy after {trainer.step} steps: {accuracy(model, test):.1%} on {len(test)} held-out sequences")


if __name__ == "__main__":
    main()
