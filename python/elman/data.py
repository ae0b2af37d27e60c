"""Data pipelines that feed `RNN.loss_and_grad(x, target, ...)`, all time-major.

Three kinds, one section each:

- text: `Vocabulary`, `encode_file` / `load_tokens` (token files on disk, memory-mapped), `split` and
  `TextBatches`, which gives x (S, B) and y (S, B) int64 tokens for loss "cross_entropy", the way
  char-rnn and min-char-rnn cut a corpus;
- sequences: `SequenceDataset`, variable-length sequences padded per batch, with `lengths`;
- time series: `Normalizer`, `read_csv_column`, `windows` and `TimeSeries`, next-step prediction
  windows x (W, N, F) and y (W, N, F) for loss "mse".

Only numpy and the standard library; batches are built with vectorized indexing, never a Python loop
over time steps.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _validate as check
from . import files

IGNORE = -100  # the class target that loss "cross_entropy" skips, as in PyTorch

# ---------------------------------------------------------------------------------------------- text


class Vocabulary:
    """Characters and their ids: the sorted unique characters, id i is `chars[i]`.

    With `unknown` (one character, added to the set if missing), `encode` maps characters outside the
    vocabulary to its id; without it they are an error.
    """

    def __init__(self, chars, unknown: str | None = None):
        if unknown is not None:
            _character("unknown", unknown)
        if not hasattr(chars, "__iter__"):
            raise TypeError(f"chars is {chars!r} ({type(chars).__name__}); expected a str or an iterable of characters")
        found = set()
        for i, c in enumerate(chars):
            found.add(_character(f"chars[{i}]", c))
        if not found:
            raise ValueError("chars is empty; expected at least one character")
        if unknown is not None:
            found.add(unknown)
        self.chars = "".join(sorted(found))
        self.unknown = unknown
        self._codes = _code_points(self.chars)  # (V,) uint32, ascending: ids by binary search
        self._unknown_id = None if unknown is None else self.chars.index(unknown)

    @classmethod
    def from_text(cls, text: str, unknown: str | None = "\ufffd") -> Vocabulary:
        """The characters of `text`, plus `unknown`."""
        if not isinstance(text, str):
            raise TypeError(f"text is {type(text).__name__}; expected a str")
        if not text:
            raise ValueError("text is empty; expected at least one character")
        return cls(set(text), unknown)

    @classmethod
    def from_file(cls, path, unknown: str | None = "\ufffd", chunk_size: int = 1 << 20) -> Vocabulary:
        """The characters of a UTF-8 text file, read `chunk_size` characters at a time."""
        chunk_size = check.integer("chunk_size", chunk_size, 1)
        found = set()
        for _, chunk in _text_chunks("path", path, chunk_size):
            found.update(chunk)
        return cls(found, unknown)

    @property
    def size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.chars == other.chars and self.unknown == other.unknown

    def __hash__(self) -> int:
        return hash((self.chars, self.unknown))

    def __repr__(self) -> str:
        return f"Vocabulary({self.chars!r}, unknown={self.unknown!r})"

    def encode(self, text: str) -> np.ndarray:
        """Ids (len(text),) int64; an empty text gives an empty array."""
        if not isinstance(text, str):
            raise TypeError(f"text is {type(text).__name__}; expected a str")
        return self._encode(text, 0)

    def _encode(self, text: str, offset: int) -> np.ndarray:
        """`offset` is where `text` starts in the whole input, for error messages."""
        codes = _code_points(text)
        ids = np.searchsorted(self._codes, codes)
        known = self._codes[np.minimum(ids, self.size - 1)] == codes
        if not known.all():
            if self._unknown_id is None:
                i = int(np.argmin(known))
                raise ValueError(
                    f"text[{offset + i}] is {text[i]!r} (U+{ord(text[i]):04X}); expected a character of the "
                    f"vocabulary ({self.size} characters, no unknown character to map others to)"
                )
            ids[~known] = self._unknown_id
        return ids.astype(np.int64, copy=False)

    def decode(self, ids) -> str:
        """The text of ids (N,) (or one id) in [0, size)."""
        ids = check.array("ids", ids)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"ids has dtype {ids.dtype}; expected integers")
        if ids.ndim > 1:
            raise ValueError(f"ids has shape {check.shape_str(ids.shape)}; expected (N,)")
        ids = ids.reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"ids holds {int(ids.min())}..{int(ids.max())}; expected each in [0, {self.size})")
        return self._codes[ids].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    def to_json(self) -> str:
        """A JSON string that `from_json` turns back into an equal vocabulary (model file metadata)."""
        return json.dumps({"chars": self.chars, "unknown": self.unknown})

    @classmethod
    def from_json(cls, s: str) -> Vocabulary:
        if not isinstance(s, str):
            raise TypeError(f"s is {type(s).__name__}; expected a str from Vocabulary.to_json()")
        try:
            d = json.loads(s)
        except json.JSONDecodeError as e:
            raise ValueError(f"s is not valid JSON ({e}); expected a str from Vocabulary.to_json()") from None
        if not isinstance(d, dict) or set(d) != {"chars", "unknown"} or not isinstance(d["chars"], str):
            raise ValueError(f"s is {s[:80]!r}; expected a str from Vocabulary.to_json()")
        vocab = cls(d["chars"], d["unknown"])
        if vocab.chars != d["chars"]:
            # stored ids are positions in the stored string; any other order would silently remap them
            raise ValueError(f"s holds chars {d['chars']!r}; expected sorted unique characters")
        return vocab


def encode_file(src, vocab: Vocabulary, dst, chunk_size: int = 1 << 20) -> np.memmap:
    """Streams the UTF-8 text file `src` into the token file `dst` and returns it, memory-mapped.

    `dst` is a .npy file of shape (N,) with the smallest unsigned dtype that holds vocab.size - 1;
    `src` is read twice (to count, then to encode), `chunk_size` characters at a time, so neither file
    is ever whole in memory. It is written to a temporary file and renamed onto `dst` when complete
    (files.replacing), so `dst` is never seen half-written.
    """
    if not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab is {type(vocab).__name__}; expected an elman.data.Vocabulary")
    chunk_size = check.integer("chunk_size", chunk_size, 1)
    count = sum(len(chunk) for _, chunk in _text_chunks("src", src, chunk_size))
    if count == 0:
        raise ValueError(f"src {os.fspath(src)!r} is empty; expected text")
    dtype = np.min_scalar_type(vocab.size - 1)
    with files.replacing(dst, "dst") as temp:
        out = np.lib.format.open_memmap(temp, mode="w+", dtype=dtype, shape=(count,))
        for offset, chunk in _text_chunks("src", src, chunk_size):
            out[offset : offset + len(chunk)] = vocab._encode(chunk, offset)
        out.flush()
        del out
    return load_tokens(dst)


def load_tokens(path) -> np.memmap:
    """A token file from `encode_file` as a read-only memory map (N,): pages are read on access."""
    tokens = np.load(_existing("path", path), mmap_mode="r")
    if tokens.ndim != 1 or tokens.dtype.kind != "u":
        raise ValueError(
            f"path {os.fspath(path)!r} holds an array {check.shape_str(tokens.shape)} {tokens.dtype}; "
            "expected a token file (N,) of unsigned integers from encode_file"
        )
    return tokens


def split(tokens, val_fraction: float = 0.1):
    """(train, val): the first and last parts of `tokens` along its first axis, as views.

    The validation part has round(N * val_fraction) items; each part must have at least 2.
    """
    return _split("tokens", check.array("tokens", tokens), val_fraction)


@dataclass(frozen=True)
class TextBatch:
    """x (S, B) int64 tokens and y (S, B) int64, the token after each of x's.

    reset: the streams start over at their beginning, so the hidden state carried from the previous
    batch must be zeroed.
    """

    x: np.ndarray
    y: np.ndarray
    reset: bool


class TextBatches:
    """Endless (x, y) windows from B parallel streams over a token array (char-rnn's batching).

    The tokens (N,) are cut into B contiguous streams of L = N // B tokens (the last N % B are unused).
    Each batch takes positions [p, p + S) of every stream as x and [p + 1, p + S + 1) as y, then moves p
    on by S, so the state after one batch carries over to the next. Before a batch, if
    p + S + 1 >= L then p = 0 and the epoch count goes up: min-char-rnn's rule exactly, including its
    habit of skipping a last window that would end exactly at the stream's end. A batch at p = 0 has
    reset=True. With batch_size=1 the windows are min-char-rnn's.

    `tokens` may be a memory map (load_tokens): a batch reads only its S + 1 tokens per stream.
    """

    def __init__(self, tokens, batch_size: int, seq_len: int):
        tokens = check.array("tokens", tokens)
        if tokens.ndim != 1 or tokens.dtype.kind not in "iu":
            raise ValueError(
                f"tokens has shape {check.shape_str(tokens.shape)} and dtype {tokens.dtype}; expected integer tokens (N,)"
            )
        self.batch_size = check.integer("batch_size", batch_size, 1)
        self.seq_len = check.integer("seq_len", seq_len, 1)
        self.stream_length = tokens.shape[0] // self.batch_size
        if self.stream_length < self.seq_len + 2:
            raise ValueError(
                f"tokens has {tokens.shape[0]} tokens, {self.stream_length} per stream for batch_size "
                f"{self.batch_size}; expected at least seq_len + 2 = {self.seq_len + 2} per stream"
            )
        self._tokens = tokens
        # (S + 1, B): where window step t of stream b is, relative to the position p
        self._index = np.arange(self.seq_len + 1)[:, None] + self.stream_length * np.arange(self.batch_size)
        self._position = 0
        self._epoch = 0

    @property
    def steps_per_epoch(self) -> int:
        """Batches in one pass over the streams."""
        return (self.stream_length - 2) // self.seq_len

    @property
    def epoch(self) -> int:
        """How many times the streams have started over."""
        return self._epoch

    def __iter__(self) -> TextBatches:
        return self

    def __next__(self) -> TextBatch:
        p = self._position
        if p + self.seq_len + 1 >= self.stream_length:
            p = 0
            self._epoch += 1
        window = self._tokens[self._index + p].astype(np.int64)  # (S + 1, B)
        self._position = p + self.seq_len
        return TextBatch(window[:-1], window[1:], p == 0)

    def one_pass(self):
        """The batches of one epoch from the streams' start (for validation), leaving self where it is."""
        again = TextBatches.__new__(TextBatches)
        again.__dict__.update(self.__dict__, _position=0, _epoch=0)
        return (next(again) for _ in range(self.steps_per_epoch))

    def state_dict(self) -> dict:
        """Where the next batch starts; JSON-serializable."""
        return {
            "position": self._position,
            "epoch": self._epoch,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "stream_length": self.stream_length,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continues from a `state_dict()` of batches over the same tokens, batch_size and seq_len."""
        expected = self.state_dict()
        if not isinstance(state, dict) or set(state) != set(expected):
            raise ValueError(f"state is {state!r}; expected a dict from TextBatches.state_dict()")
        for key in ("batch_size", "seq_len", "stream_length"):
            if check.integer(f"state[{key!r}]", state[key]) != expected[key]:
                raise ValueError(
                    f"state[{key!r}] is {state[key]}; expected {expected[key]}: the state was saved for other "
                    "tokens, batch_size or seq_len"
                )
        position = check.integer("state['position']", state["position"], 0)
        last = self.steps_per_epoch * self.seq_len
        if position % self.seq_len or position > last:
            raise ValueError(
                f"state['position'] is {position}; expected a multiple of seq_len {self.seq_len} in [0, {last}]"
            )
        self._epoch = check.integer("state['epoch']", state["epoch"], 0)
        self._position = position


# ----------------------------------------------------------------------------------------- sequences


@dataclass(frozen=True)
class Batch:
    """x (T, B, I) float or (T, B) int tokens, target (T, B, O) float or (T, B) int classes, lengths (B,).

    T is the longest sequence of the batch; steps t >= lengths[b] are padding (0 in x and in float
    targets, -100 in class targets).
    """

    x: np.ndarray
    target: np.ndarray
    lengths: np.ndarray | None


class SequenceDataset:
    """Variable-length sequences and their targets, served in padded, time-major batches.

    inputs: a list of N arrays, all (T_i,) integer tokens or all (T_i, I) real features, T_i >= 1.
    targets, many-to-many: a list of N arrays (T_i,) integer classes (or -100 to ignore a step) for loss
    "cross_entropy", or (T_i, O) reals for loss "mse". Many-to-one: N integer class labels; each
    sequence is classified from its last valid step, every other step of the target is -100.
    """

    def __init__(self, inputs, targets, many_to_one: bool = False):
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

    def batches(self, batch_size: int, shuffle: bool = True, seed: int | None = None, drop_last: bool = False):
        """An iterator of `Batch`es over the whole dataset once.

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
            target = np.full((steps, batch), IGNORE, np.int64)
            target[lengths - 1, np.arange(batch)] = self._labels[index]
        else:
            pad = IGNORE if self.loss == "cross_entropy" else 0
            target = np.full((steps, batch) + self._y.shape[1:], pad, self._y.dtype)
            target[valid] = self._y[source]
        return Batch(x, target, lengths)


class Loader:
    """Endless batches over epochs of a SequenceDataset or of time-major arrays (x, target) with the
    batch on axis 1 (such as `windows`' output), reshuffled each epoch from (seed, epoch).

    state_dict()/load_state_dict() hold the epoch and the batch within it, so a resumed run gets the
    same batches as one never stopped.
    """

    def __init__(self, source, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        self.batch_size = check.integer("batch_size", batch_size, 1)
        self.shuffle = check.flag("shuffle", shuffle)
        self.seed = check.integer("seed", seed, 0)
        self.drop_last = check.flag("drop_last", drop_last)
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
            self._take = lambda index: Batch(x[:, index], target[:, index], None)
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

    def __iter__(self) -> Loader:
        return self

    def __next__(self) -> Batch:
        if self._index == self.steps_per_epoch:
            self._epoch, self._index = self._epoch + 1, 0
            self._order = self._epoch_order(self._epoch)
        start = self._index * self.batch_size
        self._index += 1
        return self._take(self._order[start : start + self.batch_size])

    def one_pass(self):
        """Every item once, in order, in batches (for validation)."""
        return (self._take(np.arange(i, min(i + self.batch_size, self._size))) for i in range(0, self._size, self.batch_size))

    def state_dict(self) -> dict:
        return {"epoch": self._epoch, "index": self._index}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or set(state) != {"epoch", "index"}:
            raise ValueError(f"state is {state!r}; expected a dict from Loader.state_dict()")
        index = check.integer("state['index']", state["index"], 0)
        if index > self.steps_per_epoch:
            raise ValueError(f"state['index'] is {index}; expected at most {self.steps_per_epoch}")
        self._epoch = check.integer("state['epoch']", state["epoch"], 0)
        self._index = index
        self._order = self._epoch_order(self._epoch)


def _list(name: str, sequences) -> list:
    """Each sequence as a numpy array of real numbers or integers."""
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__iter__"):
        raise TypeError(f"{name} is {type(sequences).__name__}; expected a list of arrays")
    return [check.array(f"{name}[{i}]", a) for i, a in enumerate(sequences)]


def _stack(name: str, arrays: list, classes: bool) -> np.ndarray:
    """All sequences end to end: (sum T_i,) int64 or (sum T_i, F) float, checked to be all alike.

    Integer 1-D arrays are tokens (inputs) or classes (targets, where -100 is allowed); 2-D arrays are
    features of one width F.
    """
    kind = "class indices" if classes else "tokens"
    first = arrays[0]
    for i, a in enumerate(arrays):
        where = f"{name}[{i}] has shape {check.shape_str(a.shape)} and dtype {a.dtype}"
        if a.ndim == 1 and a.dtype.kind not in "iu":
            raise ValueError(f"{where}; expected integer {kind} (T_i,) or reals (T_i, F): add a feature axis with a[:, None]")
        if a.ndim not in (1, 2) or a.ndim != first.ndim or a.shape[1:] != first.shape[1:]:
            expected = f"integer {kind} (T_i,)" if first.ndim == 1 else f"reals {check.shape_str(('T_i',) + first.shape[1:])}"
            raise ValueError(f"{where}; expected {expected} like {name}[0]")
        if a.shape[0] == 0 or (a.ndim == 2 and a.shape[1] == 0):
            raise ValueError(f"{where}; expected at least one step and one feature")
        if a.ndim == 2 and not np.isfinite(a).all():
            raise ValueError(f"{name}[{i}] holds non-finite values; expected finite numbers")
        if a.ndim == 1:
            bad = (a < 0) & (a != IGNORE) if classes else a < 0
            if bad.any():
                allowed = f"class indices >= 0 or {IGNORE}" if classes else "tokens >= 0"
                raise ValueError(f"{name}[{i}] holds {int(a[bad][0])}; expected {allowed}")
    if first.ndim == 1:
        return np.concatenate(arrays).astype(np.int64, copy=False)
    # float32 stays float32 (no copy in a float32 model); anything else becomes float64
    return np.concatenate(arrays).astype(np.result_type(np.float32, *arrays), copy=False)


def _labels(targets, count: int) -> np.ndarray:
    labels = check.array("targets", targets)
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"targets has dtype {labels.dtype}; expected one integer class label per sequence: many_to_one "
            "supports only class labels (loss 'cross_entropy'), since the mean-squared loss has no per-step "
            "mask to score only the last step"
        )
    if labels.shape != (count,):
        raise ValueError(f"targets has shape {check.shape_str(labels.shape)}; expected ({count},), one label per sequence")
    if labels.min() < 0:
        raise ValueError(f"targets holds {int(labels.min())}; expected class labels >= 0")
    return labels.astype(np.int64)


# --------------------------------------------------------------------------------------- time series


class Normalizer:
    """Per-column standardization, (a - mean) / std, with statistics from the training part only.

    Fitted on (N, F) it transforms any (..., F), such as model outputs (T, B, F); fitted on (N,) it
    has one mean and std for every value. A constant column has std 1 (so it maps to 0).
    """

    def __init__(self):
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, train) -> Normalizer:
        train = _reals("train", train)
        if train.ndim not in (1, 2) or train.shape[0] == 0:
            raise ValueError(f"train has shape {check.shape_str(train.shape)}; expected (N,) or (N, F) with N >= 1")
        self.mean = train.mean(axis=0, dtype=np.float64)
        std = train.std(axis=0, dtype=np.float64)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, a) -> np.ndarray:
        return (self._columns("a", a) - self.mean) / self.std

    def inverse_transform(self, a) -> np.ndarray:
        return self._columns("a", a) * self.std + self.mean

    def _columns(self, name: str, a) -> np.ndarray:
        if self.mean is None:
            raise ValueError("the Normalizer is not fitted; call fit(train) or from_dict(d) first")
        a = _reals(name, a)
        if a.ndim < self.mean.ndim or a.shape[a.ndim - self.mean.ndim :] != self.mean.shape:
            raise ValueError(
                f"{name} has shape {check.shape_str(a.shape)}; expected (..., {self.mean.size}) like the fitted data"
            )
        return a

    def to_dict(self) -> dict:
        """JSON-serializable statistics; from_dict restores them exactly."""
        if self.mean is None:
            raise ValueError("the Normalizer is not fitted; call fit(train) first")
        assert self.std is not None  # fitted together with mean
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        if not isinstance(d, dict) or set(d) != {"mean", "std"}:
            raise ValueError(f"d is {d!r}; expected a dict from Normalizer.to_dict()")
        mean = _reals("d['mean']", d["mean"]).astype(np.float64)
        std = _reals("d['std']", d["std"]).astype(np.float64)
        if mean.ndim > 1 or mean.shape != std.shape or (std <= 0).any():
            raise ValueError(f"d is {d!r}; expected equal-length 'mean' and 'std' with std > 0")
        normalizer = cls()
        normalizer.mean, normalizer.std = mean, std
        return normalizer


def read_csv_column(path, column: str) -> np.ndarray:
    """The values (N,) float64 of the column named `column` of a CSV file with a header row."""
    if not isinstance(column, str):
        raise TypeError(f"column is {column!r} ({type(column).__name__}); expected a column name (str)")
    path = _existing("path", path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"path {path!r} is empty; expected a CSV file with a header row")
        if column not in header:
            raise ValueError(f"column is {column!r}, which {path!r} does not have; expected one of {header}")
        index = header.index(column)
        values: list[float] = []
        for row in reader:
            if not row:
                continue
            cell = row[index] if index < len(row) else ""
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ValueError(
                    f"{path!r} row {len(values) + 1} (line {reader.line_num}), column {column!r}, holds {cell!r}; "
                    "expected a finite number"
                )
            values.append(value)
    if len(values) < 2:
        raise ValueError(f"{path!r} has {len(values)} rows of data; expected at least 2")
    return np.array(values)


def windows(series, window: int, stride: int = 1):
    """Next-step prediction windows: x (W, K, F) and y (W, K, F), with y[t, k] = series[k*stride + t + 1].

    series: (N,) or (N, F) (one feature for (N,)); W = window; window k starts at k*stride, and
    K = (N - 1 - W) // stride + 1. Both are contiguous float arrays, ready for the model.
    """
    return _windows("series", series, window, stride)


class TimeSeries:
    """A series split into training and validation parts (the tail), normalized with the training part's
    statistics.

    series: (N,) or (N, F). `train` (N_train, F) and `val` (N_val, F) are the normalized parts;
    `normalizer` undoes it (for forecasts) and can be stored with to_dict().
    """

    def __init__(self, series, val_fraction: float = 0.2):
        series = _reals("series", series)
        if series.ndim not in (1, 2):
            raise ValueError(f"series has shape {check.shape_str(series.shape)}; expected (N,) or (N, F)")
        train, val = _split("series", series.reshape(series.shape[0], -1), val_fraction)
        self.normalizer = Normalizer().fit(train)
        self.train = self.normalizer.transform(train)
        self.val = self.normalizer.transform(val)

    def train_windows(self, window: int, stride: int = 1):
        """`windows` of the normalized training part: x (W, K, F), y (W, K, F)."""
        return _windows("the training part", self.train, window, stride)

    def val_windows(self, window: int, stride: int = 1):
        """`windows` of the normalized validation part: x (W, K, F), y (W, K, F)."""
        return _windows("the validation part", self.val, window, stride)


def _windows(name: str, series, window: int, stride: int):
    series = _reals(name, series)
    window = check.integer("window", window, 1)
    stride = check.integer("stride", stride, 1)
    if series.ndim not in (1, 2):
        raise ValueError(f"{name} has shape {check.shape_str(series.shape)}; expected (N,) or (N, F)")
    if series.shape[0] < window + 1:
        raise ValueError(f"{name} has {series.shape[0]} steps; expected at least window + 1 = {window + 1}")
    if series.dtype.kind != "f":
        series = series.astype(np.float64)
    columns = series.reshape(series.shape[0], -1)
    spans = sliding_window_view(columns, window + 1, axis=0)[::stride]  # (K, F, W + 1), a view
    spans = spans.transpose(2, 0, 1)  # (W + 1, K, F)
    return np.ascontiguousarray(spans[:-1]), np.ascontiguousarray(spans[1:])


# ----------------------------------------------------------------------------------------- shared


def _split(name: str, a: np.ndarray, val_fraction: float):
    val_fraction = check.real("val_fraction", val_fraction, 0.0, 1.0)
    if a.ndim == 0:
        raise ValueError(f"{name} is a scalar; expected an array (N, ...)")
    n = a.shape[0]
    n_val = round(n * val_fraction)
    if n - n_val < 2 or n_val < 2:
        raise ValueError(
            f"{name} has {n} items, which val_fraction {val_fraction} splits into {n - n_val} for training and "
            f"{n_val} for validation; expected at least 2 in each"
        )
    return a[: n - n_val], a[n - n_val :]


def _reals(name: str, value) -> np.ndarray:
    a = check.array(name, value)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds non-finite values; expected finite numbers")
    return a


def _character(name: str, c) -> str:
    if not isinstance(c, str) or len(c) != 1:
        raise TypeError(f"{name} is {c!r}; expected a single character (str of length 1)")
    return c


def _code_points(text: str) -> np.ndarray:
    """(len(text),) uint32 Unicode code points, lone surrogates included."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _existing(name: str, path) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name} {path!r} is not a file; expected an existing file")
    return path


def _text_chunks(name: str, path, chunk_size: int):
    """(offset, text) pieces of a UTF-8 file, `chunk_size` characters each; newlines kept as they are."""
    with open(_existing(name, path), encoding="utf-8", newline="") as f:
        offset = 0
        while chunk := f.read(chunk_size):
            yield offset, chunk
            offset += len(chunk)
