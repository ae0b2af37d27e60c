"""Checks the data modules share: splitting off a validation tail, finite reals, existing files."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .. import _validate as check


def split_tail(name: str, a: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(head, tail) views of `a` along its first axis, the tail holding round(N * val_fraction) items."""
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


def reals(name: str, value: Any) -> np.ndarray:
    """`value` as a numpy array of finite numbers."""
    a = check.array(name, value)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds non-finite values; expected finite numbers")
    return a


def existing(name: str, path: str | os.PathLike[str]) -> str:
    """`path` as a str, if it names an existing file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name} {path!r} is not a file; expected an existing file")
    return os.fsdecode(path)
