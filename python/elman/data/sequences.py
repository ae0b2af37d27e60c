"""Variable-length sequences: `SequenceDataset` pads them per batch, with `lengths`; `Loader` serves
endless shuffled `Batch`es over epochs of a dataset or of time-major arrays."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _validate as check
from .._core import ignore_index
from .batch import Batch


class SequenceDataset:
    """Variable-length sequences and their targets, served in padded, time-major batches.

    inputs: a list of N arrays, all (T_i,) integer tokens or all (T_i, I) real features, T_i >= 1.
    targets, many-to-many: a list of N arrays (T_i,) integer classes (or -100 to ignore a step) for loss
    "cross_entropy", or (T_i, O) reals for loss "mse". Many-to-one: N integer class labels; each
    sequence is classified from its last valid step, every other step of the target is -100.
    """

    def __init__(self, inputs: Any, targets: Any, many_to_one: bool = False) -> None:
        self.many_to_one = check.flag("many_to_one", many_to_one)
        inputs = _list("inputs", inputs)
        if not inputs:
            raise ValueError("inputs is empty; expected at least one sequence")
        self.tokens = inputs[0].ndim == 1
        self._x = _stack("inputs", inputs, classes=False)
        self.input_size = None if self.tokens else self._x.shape[1]
        self.lengths = np.array([a.shape[0] for a in inputs], dtype=np.int64)
        self._offsets = np.cumsum(self.lengths) - self.lengths  # where each sequence starts in _x
        if self.many_to_one:
            self._labels = _labels(targets, len(inputs))
            self.loss = "cross_entropy"
        else:
            targets = _list("targets", targets)
            if len(targets) != len(inputs):
                raise ValueError(f"targets has {len(targets)} sequences; expected {len(inputs)}, one per input")
            for i, (a, t) in enumerate(zip(inputs, targets)):
                if t.ndim >= 1 and t.shape[0] != a.shape[0]:
                    raise ValueError(f"targets[{i}] has {t.shape[0]} steps; expected {a.shape[0]} like inputs[{i}]")
            self._y = _stack("targets", targets, classes=True)
            self.loss = "cross_entropy" if self._y.ndim == 1 else "mse"

    def __len__(self) -> int:
        return self.lengths.shape[0]

    def batches(
        self, batch_size: int, shuffle: bool = True, seed: int | None = None, drop_last: bool = False
    ) -> Iterator[Batch]:
        """The `Batch`es of one pass over the whole dataset (an epoch; `Loader` gives endless epochs).

        Shuffled with numpy's default_rng(seed): the same seed gives the same order. Without
        drop_last the last batch may be smaller.
        """
        batch_size = check.integer("batch_size", batch_size, 1)
        shuffle = check.flag("shuffle", shuffle)
        drop_last = check.flag("drop_last", drop_last)
        seed = None if seed is None else check.integer("seed", seed, 0)
        n = len(self)
        order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
        stop = n - n % batch_size if drop_last else n
        return (self._batch(order[i : i + batch_size]) for i in range(0, stop, batch_size))

    def _batch(self, index: np.ndarray) -> Batch:
        lengths = self.lengths[index]  # (B,)
        steps, batch = int(lengths.max()), index.shape[0]
        t = np.arange(steps)[:, None]
        valid = t < lengths  # (T, B)
        source = (self._offsets[index] + t)[valid]  # rows of _x / _y for the valid (t, b), in that order
        x = np.zeros((steps, batch) + self._x.shape[1:], self._x.dtype)
        x[valid] = self._x[source]
        if self.many_to_one:
            target = np.full((steps, batch), ignore_index, np.int64)
            target[lengths - 1, np.arange(batch)] = self._labels[index]
        else:
            pad = ignore_index if self.loss == "cross_entropy" else 0
            target = np.full((steps, batch) + self._y.shape[1:], pad, self._y.dtype)
            target[valid] = self._y[source]
        return Batch(x, target, lengths)


class Loader:
    """Endless batches over epochs of a SequenceDataset or of time-major arrays (x, target) with the
    batch on axis 1 (such as `windows`' output), reshuffled each epoch from (seed, epoch).

    state_dict()/load_state_dict() hold the epoch and the batch within it, so a resumed run gets the
    same batches as one never stopped.
    """

    def __init__(
        self, source: Any, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False
    ) -> None:
        self.batch_size = check.integer("batch_size", batch_size, 1)
        self.shuffle = check.flag("shuffle", shuffle)
        self.seed = check.integer("seed", seed, 0)
        self.drop_last = check.flag("drop_last", drop_last)
        self._take: Callable[[np.ndarray], Batch]
        if isinstance(source, SequenceDataset):
            self._size, self._take = len(source), source._batch
        elif isinstance(source, (tuple, list)) and len(source) == 2:
            x, target = (check.array(name, a) for name, a in zip(("x", "target"), source))
            if x.ndim < 2 or target.ndim < 2 or x.shape[1] != target.shape[1] or x.shape[0] != target.shape[0]:
                raise ValueError(
                    f"source holds x {check.shape_str(x.shape)} and target {check.shape_str(target.shape)}; "
                    "expected time-major arrays (T, N, ...) with the same T and N"
                )
            self._size = x.shape[1]
            self._take = lambda index: Batch(x[:, index], target[:, index])
        else:
            raise TypeError(f"source is a {type(source).__name__}; expected a SequenceDataset or a pair (x, target)")
        self.steps_per_epoch = self._size // self.batch_size if self.drop_last else -(-self._size // self.batch_size)
        if self.steps_per_epoch < 1:
            raise ValueError(f"source has {self._size} items; expected at least batch_size = {self.batch_size}")
        self._epoch, self._index = 0, 0
        self._order = self._epoch_order(0)

    def _epoch_order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self._size)
        return np.random.default_rng([self.seed, epoch]).permutation(self._size)

    @property
    def epoch(self) -> int:
        """The epoch of the last batch given, counting from 0."""
        return self._epoch

    def __iter__(self) -> Loader:
        """The loader itself: iterating never ends (see one_pass for one epoch)."""
        return self

    def __next__(self) -> Batch:
        """The next batch of the epoch, or the first of the next epoch, freshly shuffled."""
        if self._index == self.steps_per_epoch:
            self._epoch, self._index = self._epoch + 1, 0
            self._order = self._epoch_order(self._epoch)
        start = self._index * self.batch_size
        self._index += 1
        return self._take(self._order[start : start + self.batch_size])

    def one_pass(self) -> Iterator[Batch]:
        """Every item once, in order, in batches (for validation), leaving self where it is."""
        starts = range(0, self._size, self.batch_size)
        return (self._take(np.arange(i, min(i + self.batch_size, self._size))) for i in starts)

    def state_dict(self) -> dict[str, int]:
        """The epoch and the batch within it where the next batch comes from; JSON-serializable."""
        return {"epoch": self._epoch, "index": self._index}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continues from a `state_dict()` of a loader over the same source, batch_size and seed."""
        if not isinstance(state, dict) or set(state) != {"epoch", "index"}:
            raise ValueError(f"state is {state!r}; expected a dict from Loader.state_dict()")
        index = check.integer("state['index']", state["index"], 0)
        if index > self.steps_per_epoch:
            raise ValueError(f"state['index'] is {index}; expected at most {self.steps_per_epoch}")
        self._epoch = check.integer("state['epoch']", state["epoch"], 0)
        self._index = index
        self._order = self._epoch_order(self._epoch)


def _list(name: str, sequences: Any) -> list[np.ndarray]:
    """Each sequence as a numpy array of real numbers or integers."""
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__iter__"):
        raise TypeError(f"{name} is {type(sequences).__name__}; expected a list of arrays")
    return [check.array(f"{name}[{i}]", a) for i, a in enumerate(sequences)]


def _stack(name: str, arrays: list[np.ndarray], classes: bool) -> np.ndarray:
    """All sequences end to end: (sum T_i,) int64 or (sum T_i, F) float, checked to be all alike.

    Integer 1-D arrays are tokens (inputs) or classes (targets, where -100 is allowed); 2-D arrays are
    features of one width F.
    """
    kind = "class indices" if classes else "tokens"
    first = arrays[0]
    for i, a in enumerate(arrays):
        where = f"{name}[{i}] has shape {check.shape_str(a.shape)} and dtype {a.dtype}"
        if a.ndim == 1 and a.dtype.kind not in "iu":
            raise ValueError(
                f"{where}; expected integer {kind} (T_i,) or reals (T_i, F): add a feature axis with a[:, None]"
            )
        if a.ndim not in (1, 2) or a.ndim != first.ndim or a.shape[1:] != first.shape[1:]:
            expected = (
                f"integer {kind} (T_i,)" if first.ndim == 1 else f"reals {check.shape_str(('T_i',) + first.shape[1:])}"
            )
            raise ValueError(f"{where}; expected {expected} like {name}[0]")
        if a.shape[0] == 0 or (a.ndim == 2 and a.shape[1] == 0):
            raise ValueError(f"{where}; expected at least one step and one feature")
        if a.ndim == 2 and not np.isfinite(a).all():
            raise ValueError(f"{name}[{i}] holds non-finite values; expected finite numbers")
        if a.ndim == 1:
            bad = (a < 0) & (a != ignore_index) if classes else a < 0
            if bad.any():
                allowed = f"class indices >= 0 or {ignore_index}" if classes else "tokens >= 0"
                raise ValueError(f"{name}[{i}] holds {int(a[bad][0])}; expected {allowed}")
    if first.ndim == 1:
        return np.concatenate(arrays).astype(np.int64, copy=False)
    # float32 stays float32 (no copy in a float32 model); anything else becomes float64
    return np.concatenate(arrays).astype(np.result_type(np.float32, *arrays), copy=False)


def _labels(targets: npt.ArrayLike, count: int) -> np.ndarray:
    labels = check.array("targets", targets)
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"targets has dtype {labels.dtype}; expected one integer class label per sequence: many_to_one "
            "supports only class labels (loss 'cross_entropy'), since the mean-squared loss has no per-step "
            "mask to score only the last step"
        )
    if labels.shape != (count,):
        raise ValueError(
            f"targets has shape {check.shape_str(labels.shape)}; expected ({count},), one label per sequence"
        )
    if labels.min() < 0:
        raise ValueError(f"targets holds {int(labels.min())}; expected class labels >= 0")
    return labels.astype(np.int64)
