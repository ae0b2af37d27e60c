"""Argument checks shared by the Python modules: each error names the argument, what it got and
what was expected."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np


def integer(name: str, value: Any, minimum: int | None = None) -> int:
    """`value` as an int, if it is an integer (not a bool) of at least `minimum`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} is {value!r} ({type(value).__name__}); expected an integer")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} is {value}; expected an integer >= {minimum}")
    return value


def real(name: str, value: Any, minimum: float | None = None, below: float | None = None) -> float:
    """`value` as a float, if it is a finite real number (not a bool) in [minimum, below)."""
    if type(value) is not float:  # the common case skips the abstract-class checks (train_step's hot path)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} is {value!r} ({type(value).__name__}); expected a real number")
        value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} is {value}; expected a finite number")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} is {value}; expected a number >= {minimum}")
    if below is not None and value >= below:
        raise ValueError(f"{name} is {value}; expected a number < {below}")
    return value


def flag(name: str, value: Any) -> bool:
    """`value` as a bool, if it is a Python or numpy bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} is {value!r} ({type(value).__name__}); expected True or False")
    return bool(value)


def choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    """`value`, if it is one of the strings in `options`."""
    if not isinstance(value, str) or value not in options:
        expected = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} is {value!r}; expected one of {expected}")
    return value


def array(name: str, value: Any) -> np.ndarray:
    """Any array-like as a numpy array of real numbers or integers."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name} could not be read as an array ({e}); expected numbers") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {a.dtype}; expected real numbers or integers")
    return a


def shape_str(shape: Sequence[int | str]) -> str:
    """A shape as Python writes a tuple: (3, 4), (3,) or ()."""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
