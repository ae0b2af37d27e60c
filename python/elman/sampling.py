"""Text generation from a character model, char-rnn's sample.lua: feed a prime, then draw one
character at a time from softmax(y / temperature), restricted to the top_k likeliest, then to the
smallest set reaching top_p; temperature 0 is greedy. The tokens come from `RNN.generate`, the native
loop, which checks its arguments; this module adds what is about text: the vocabulary (by default the
one `elman train` stores in the model file's metadata), which must fit the model, and the characters.

    m = elman.load("model.safetensors")
    for ch in stream_text(m, "The ", 500, temperature=0.8):
        print(ch, end="", flush=True)
"""

from __future__ import annotations

import operator
import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from .data import Vocabulary
from .model import RNN

VOCABULARY_KEY = "vocabulary"  # the metadata entry `elman train` writes: Vocabulary.to_json()


def vocabulary_of(model: RNN) -> Vocabulary:
    """The vocabulary in model.metadata (as `elman train` writes it), checked to fit the model."""
    if not isinstance(model, RNN):
        raise TypeError(f"model is of type {type(model).__name__}; expected an elman.RNN")
    if VOCABULARY_KEY not in model.metadata:
        raise ValueError(
            f"model has no {VOCABULARY_KEY!r} in its metadata; expected a model written by `elman train`, "
            f"or pass vocab="
        )
    try:
        vocab = Vocabulary.from_json(model.metadata[VOCABULARY_KEY])
    except (TypeError, ValueError) as e:
        raise ValueError(f"model holds a damaged vocabulary in its metadata ({e})") from None
    _check_fits(model, vocab)
    return vocab


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


def sample_texts(
    model: RNN,
    prime: str,
    length: int,
    *,
    num_samples: int = 1,
    vocab: Vocabulary | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> list[str]:
    """`num_samples` texts of `length` characters that follow `prime`, drawn as one batch; the prime
    is not repeated in them. vocab: None for the one in the model's metadata."""
    vocab, tokens = _encoded(model, vocab, prime)
    drawn = model.generate(
        tokens, length, temperature=temperature, top_k=top_k, top_p=top_p, num_samples=num_samples, seed=seed
    )
    return [vocab.decode(row) for row in drawn]


def sample_text(
    model: RNN,
    prime: str,
    length: int,
    *,
    vocab: Vocabulary | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> str:
    """The `length` characters that follow `prime`: one of sample_texts."""
    texts = sample_texts(
        model, prime, length, vocab=vocab, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed
    )
    return texts[0]


def stream_text(
    model: RNN,
    prime: str,
    length: int,
    *,
    vocab: Vocabulary | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> Iterator[str]:
    """The characters of sample_text, yielded one by one as they are drawn (for a terminal or a
    server). With the same seed they join to exactly sample_text's result: each step continues the
    native loop from the state and the random draw where the last one stopped."""
    vocab, tokens = _encoded(model, vocab, prime)
    seed = secrets.randbits(63) if seed is None else seed
    options: dict[str, Any] = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "seed": seed}
    options["return_state"] = True
    # The first draw runs now, so that bad arguments raise here rather than at the first next().
    first = model.generate(tokens, 1 if _count(length) > 0 else length, **options)
    return _continue(model, vocab, first, _count(length), options)


def _count(length: object) -> int:
    """length as an int for the loop; anything the native loop refuses becomes 0 and reaches it."""
    try:
        return operator.index(length) if not isinstance(length, bool) else 0  # type: ignore[arg-type]
    except TypeError:
        return 0


def _continue(
    model: RNN, vocab: Vocabulary, first: tuple[np.ndarray, np.ndarray], length: int, options: dict[str, Any]
) -> Iterator[str]:
    drawn, h = first
    for i in range(length):
        if i > 0:
            drawn, h = model.generate(drawn[0], 1, h0=h[:, 0], first_draw=i, **options)
        yield vocab.decode(drawn[0])


def _encoded(model: RNN, vocab: Vocabulary | None, prime: str) -> tuple[Vocabulary, np.ndarray]:
    """The vocabulary (checked to fit the model) and the prime's tokens."""
    if vocab is None:
        vocab = vocabulary_of(model)
    elif not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab is of type {type(vocab).__name__}; expected an elman.data.Vocabulary or None")
    else:
        _check_fits(model, vocab)
    if not isinstance(prime, str):
        raise TypeError(f"prime is of type {type(prime).__name__}; expected a str")
    if not prime:
        raise ValueError("prime is empty; expected at least one character")
    unknown = sorted(set(prime) - set(vocab.chars))
    if unknown and vocab.unknown is None:
        raise ValueError(f"prime holds characters the vocabulary does not have: {''.join(unknown)!r}")
    return vocab, vocab.encode(prime)


def _check_fits(model: RNN, vocab: Vocabulary) -> None:
    if not isinstance(model, RNN):
        raise TypeError(f"model is of type {type(model).__name__}; expected an elman.RNN")
    if vocab.size != model.input_size or vocab.size != model.output_size:
        raise ValueError(
            f"vocab has {vocab.size} characters but the model has input_size {model.input_size} and output_size "
            f"{model.output_size}; expected both equal to the vocabulary's size"
        )
