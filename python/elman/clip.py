"""Gradient clipping over m.grads (one flat buffer, one native pass) or any mapping of arrays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _core
from .params import ParamDict


def _arrays(grads: Any) -> list[np.ndarray]:
    if isinstance(grads, ParamDict):
        return [grads.flat]
    if isinstance(grads, Mapping):
        return list(grads.values())
    raise TypeError(f"grads is a {type(grads).__name__}; expected m.grads or a mapping of name to array")


def clip_grad_value(grads: Any, threshold: float) -> None:
    """Clips every gradient element into [-threshold, threshold], in place."""
    _core.clip_grad_value(_arrays(grads), threshold)


def clip_grad_norm(grads: Any, max_norm: float) -> float:
    """Scales all gradients by min(1, max_norm / (total + 1e-6)), in place (PyTorch's rule).

    Returns the total norm measured before scaling.
    """
    return _core.clip_grad_norm(_arrays(grads), max_norm)
