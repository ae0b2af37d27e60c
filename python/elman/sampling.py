"""Text generation from a character model, char-rnn's sample.lua: feed a prime, then draw one
character at a time from softmax(y / temperature), restricted to the top_k likeliest; temperature 0
is greedy. The tokens come from `RNN.generate`, the native loop, which checks its arguments; this
module adds what is about text: the vocabulary, which must fit the model, and the characters."""

from __future__ import annotations

from typing import TextIO

import numpy as np
import numpy.typing as npt

from .data import Vocabulary
from .model import RNN


def sample_tokens(
    model: RNN,
    prime: npt.ArrayLike,
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    h0: npt.ArrayLike | None = None,
) -> np.ndarray:
    """The `length` tokens (length,) int64 that follow `prime` (P,), P >= 1, integer tokens in [0, I):
    one sample of `model.generate` (see there). The same seed gives the same tokens; h0 is the state
    before the prime, (L, H), None for zeros."""
    if not isinstance(model, RNN):
        raise TypeError(f"model is of type {type(model).__name__}; expected an elman.RNN")
    tokens = model.generate(prime, length, temperature=temperature, top_k=top_k, top_p=top_p, h0=h0, seed=seed)
    return tokens[0]


def sample_text(
    model: RNN,
    vocab: Vocabulary,
    prime: str,
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    stream: TextIO | None = None,
) -> str:
    """The `length` characters that follow `prime` (see sample_tokens), also written to `stream` when
    one is given; the prime itself is not repeated in the result."""
    if not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab is of type {type(vocab).__name__}; expected an elman.data.Vocabulary")
    if vocab.size != model.input_size or vocab.size != model.output_size:
        raise ValueError(
            f"vocab has {vocab.size} characters but the model has input_size {model.input_size} and output_size "
            f"{model.output_size}; expected both equal to the vocabulary's size"
        )
    if not isinstance(prime, str):
        raise TypeError(f"prime is of type {type(prime).__name__}; expected a str")
    unknown = sorted(set(prime) - set(vocab.chars))
    if unknown and vocab.unknown is None:
        raise ValueError(f"prime holds characters the vocabulary does not have: {''.join(unknown)!r}")
    tokens = sample_tokens(
        model, vocab.encode(prime), length, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed
    )
    text = vocab.decode(tokens)
    if stream is not None:
        stream.write(text)
        stream.flush()
    return text
