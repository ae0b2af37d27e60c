"""Character text: `Vocabulary`, token files on disk (`encode_file`, `load_tokens`, memory-mapped),
`split` and `TextBatches`, which cuts a corpus into x (S, B) and target (S, B) int64 tokens for loss
"cross_entropy" the way char-rnn and min-char-rnn do."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _validate as check
from .. import files
from ._shared import existing, split_tail
from .batch import Batch


class Vocabulary:
    """Characters and their ids: the sorted unique characters, id i is `chars[i]`.

    With `unknown` (one character, added to the set if missing), `encode` maps characters outside the
    vocabulary to its id; without it they are an error.
    """

    def __init__(self, chars: Iterable[str], unknown: str | None = None) -> None:
        if unknown is not None:
            _character("unknown", unknown)
        if not hasattr(chars, "__iter__"):
            raise TypeError(f"chars is {chars!r} ({type(chars).__name__}); expected a str or an iterable of characters")
        found: set[str] = set()
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
    def from_file(
        cls, path: str | os.PathLike[str], unknown: str | None = "\ufffd", chunk_size: int = 1 << 20
    ) -> Vocabulary:
        """The characters of a UTF-8 text file, read `chunk_size` characters at a time."""
        chunk_size = check.integer("chunk_size", chunk_size, 1)
        found: set[str] = set()
        for _, chunk in _text_chunks("path", path, chunk_size):
            found.update(chunk)
        return cls(found, unknown)

    @property
    def size(self) -> int:
        """The number of characters (ids are 0..size-1)."""
        return len(self.chars)

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other: object) -> bool:
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

    def decode(self, ids: npt.ArrayLike) -> str:
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
        """The vocabulary `to_json` wrote; anything else (or reordered characters) is a ValueError."""
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


def encode_file(
    src: str | os.PathLike[str], vocab: Vocabulary, dst: str | os.PathLike[str], chunk_size: int = 1 << 20
) -> np.memmap:
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


def load_tokens(path: str | os.PathLike[str]) -> np.memmap:
    """A token file from `encode_file` as a read-only memory map (N,): pages are read on access."""
    tokens = np.load(existing("path", path), mmap_mode="r")
    if tokens.ndim != 1 or tokens.dtype.kind != "u":
        raise ValueError(
            f"path {os.fspath(path)!r} holds an array {check.shape_str(tokens.shape)} {tokens.dtype}; "
            "expected a token file (N,) of unsigned integers from encode_file"
        )
    return tokens


def split(tokens: npt.ArrayLike, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(train, val): the first and last parts of `tokens` along its first axis, as views.

    The validation part has round(N * val_fraction) items; each part must have at least 2.
    """
    return split_tail("tokens", check.array("tokens", tokens), val_fraction)


class TextBatches:
    """Endless `Batch`es of windows from B parallel streams over a token array (char-rnn's batching).

    The tokens (N,) are cut into B contiguous streams of L = N // B tokens (the last N % B are unused).
    Each batch takes positions [p, p + S) of every stream as x (S, B) and [p + 1, p + S + 1) as target
    (S, B), int64, then moves p on by S, so the state after one batch carries over to the next
    (reset=False). Before a batch, if p + S + 1 >= L then p = 0 and the epoch count goes up:
    min-char-rnn's rule exactly, including its habit of skipping a last window that would end exactly
    at the stream's end. A batch at p = 0 has reset=True. With batch_size=1 the windows are
    min-char-rnn's.

    `tokens` may be a memory map (load_tokens): a batch reads only its S + 1 tokens per stream.
    """

    def __init__(self, tokens: npt.ArrayLike, batch_size: int, seq_len: int) -> None:
        tokens = check.array("tokens", tokens)
        if tokens.ndim != 1 or tokens.dtype.kind not in "iu":
            shape = check.shape_str(tokens.shape)
            raise ValueError(f"tokens has shape {shape} and dtype {tokens.dtype}; expected integer tokens (N,)")
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
        """The batches themselves: iterating never ends (see one_pass for one epoch)."""
        return self

    def __next__(self) -> Batch:
        """The next window of every stream; reset=True when the streams start over."""
        p = self._position
        if p + self.seq_len + 1 >= self.stream_length:
            p = 0
            self._epoch += 1
        window = self._tokens[self._index + p].astype(np.int64)  # (S + 1, B)
        self._position = p + self.seq_len
        return Batch(window[:-1], window[1:], reset=p == 0)

    def one_pass(self) -> Iterator[Batch]:
        """The batches of one epoch from the streams' start (for validation), leaving self where it is."""
        again = TextBatches.__new__(TextBatches)
        again.__dict__.update(self.__dict__, _position=0, _epoch=0)
        return (next(again) for _ in range(self.steps_per_epoch))

    def state_dict(self) -> dict[str, int]:
        """Where the next batch starts; JSON-serializable."""
        return {
            "position": self._position,
            "epoch": self._epoch,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "stream_length": self.stream_length,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
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


def _character(name: str, c: Any) -> str:
    if not isinstance(c, str) or len(c) != 1:
        raise TypeError(f"{name} is {c!r}; expected a single character (str of length 1)")
    return c


def _code_points(text: str) -> np.ndarray:
    """(len(text),) uint32 Unicode code points, lone surrogates included."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _text_chunks(name: str, path: str | os.PathLike[str], chunk_size: int) -> Iterator[tuple[int, str]]:
    """(offset, text) pieces of a UTF-8 file, `chunk_size` characters each; newlines kept as they are."""
    with open(existing(name, path), encoding="utf-8", newline="") as f:
        offset = 0
        while chunk := f.read(chunk_size):
            yield offset, chunk
            offset += len(chunk)
