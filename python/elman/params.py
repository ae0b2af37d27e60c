"""Named views into a model's flat parameter (or gradient) buffer, in the layout the core defines."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from . import _core
from ._validate import shape_str

Tensors = list[tuple[str, tuple[int, ...], int]]
"""Every parameter as (name, shape, offset into the flat buffer), in buffer order."""


def layout(config: Mapping[str, Any]) -> tuple[dict[str, Any], Tensors]:
    """The core's check of a model configuration (RNN's arguments; dtype is not the core's and is
    ignored) and the layout of its parameters, without building the model. Raises TypeError or
    ValueError naming the argument."""
    native = {k: v for k, v in config.items() if k != "dtype"}
    return _core.layout(**native)


def param_shapes(config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The name and shape of every parameter of RNN(**config), in buffer order."""
    return {name: shape for name, shape, _ in layout(config)[1]}


class ParamDict(Mapping[str, np.ndarray]):
    """Maps each parameter name to a live numpy view of one flat buffer.

    Writing into a view, or assigning an array to a name, changes the buffer itself. `flat` is the
    whole buffer as one 1-D array: clipping and optimizer updates work on it in a single pass.
    """

    def __init__(self, flat: np.ndarray, tensors: Tensors) -> None:
        self.flat = flat
        self._views = {
            name: flat[offset : offset + int(np.prod(shape))].reshape(shape) for name, shape, offset in tensors
        }

    def __getitem__(self, name: str) -> np.ndarray:
        return self._views[name]

    def __setitem__(self, name: str, value: Any) -> None:
        """Copies `value` (same shape, finite real numbers) into the parameter's view."""
        if name not in self._views:
            raise KeyError(f"{name!r} is not a parameter; expected one of {', '.join(self._views)}")
        view = self._views[name]
        value = np.asarray(value)
        if value.shape != view.shape:
            raise ValueError(f"{name} has shape {shape_str(value.shape)}; expected {shape_str(view.shape)}")
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{name} has dtype {value.dtype}; expected real numbers")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} holds non-finite values; expected finite numbers")
        view[...] = value

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}: {shape_str(v.shape)}" for k, v in self._views.items())
        return f"ParamDict({{{items}}})"
