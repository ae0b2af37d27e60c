"""Argument checks shared by the Python modules: each error names the argument, what it got and
what was expected."""

from __future__ import annotations

import math
import numbers

import numpy as np


def integer(name: str, value, minimum: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} is {value!r} ({type(value).__name__}); expected an integer")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} is {value}; expected an integer >= {minimum}")
    return value


def real(name: str, value, minimum: float | None = None, below: float | None = None) -> float:
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


def flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} is {value!r} ({type(value).__name__}); expected True or False")
    return bool(value)


def choice(name: str, value, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        expected = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} is {value!r}; expected one of {expected}")
    return value


def array(name: str, value) -> np.ndarray:
    """Any array-like as a numpy array of real numbers or integers."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name} could not be read as an array ({e}); expected numbers") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {a.dtype}; expected real numbers or integers")
    return a


def shape_str(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
