"""The one batch type every data source gives and elman.Trainer takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Batch:
    """One batch of arguments for `RNN.loss_and_grad(x, target, lengths=..., h0=...)`, time-major.

    x: (T, B, I) reals or (T, B) integer tokens. target: (T, B, O) reals for loss "mse", or (T, B)
    integer classes for loss "cross_entropy" (elman's ignore index, -100, skips a position).
    lengths: (B,) valid steps of each sequence, or None when all T are valid; steps t >= lengths[b]
    are padding (0 in x and in real targets, -100 in class targets).
    reset: whether the batch continues a stream. None: it does not (each batch starts from a zero
    state, as in SequenceDataset and Loader); False: it continues the previous batch of its stream
    (TextBatches), so the state after that batch is its initial state (truncated BPTT); True: the
    streams start over, so the carried state must be zeroed.
    """

    x: np.ndarray
    target: np.ndarray
    lengths: np.ndarray | None = None
    reset: bool | None = None

    @property
    def stream(self) -> bool:
        """Whether the batch is part of a stream, carrying its state from one batch to the next."""
        return self.reset is not None


def as_batch(item: Any, name: str = "batch") -> Batch:
    """`item` if it is a Batch; a Batch built from a tuple (x, target) or (x, target, lengths); else a
    TypeError that names `name`, what it is and what was expected."""
    if isinstance(item, Batch):
        return item
    if isinstance(item, tuple) and len(item) in (2, 3):
        return Batch(*item)
    what = f"a tuple of {len(item)} items" if isinstance(item, tuple) else f"of type {type(item).__name__}"
    raise TypeError(f"{name} is {what}; expected an elman.data.Batch or a tuple (x, target) or (x, target, lengths)")
