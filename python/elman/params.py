"""Named views into a model's flat parameter (or gradient) buffer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from ._validate import shape_str


class ParamDict(Mapping):
    """Maps each parameter name to a live numpy view of one flat buffer.

    Writing into a view, or assigning an array to a name, changes the buffer itself. `flat` is the
    whole buffer as one 1-D array: clipping and optimizer updates work on it in a single pass.
    """

    def __init__(self, flat: np.ndarray, tensors):
        self.flat = flat
        self._views = {
            name: flat[offset : offset + int(np.prod(shape))].reshape(shape) for name, shape, offset in tensors
        }

    def __getitem__(self, name: str) -> np.ndarray:
        return self._views[name]

    def __setitem__(self, name: str, value) -> None:
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


def param_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """The name and shape of every parameter of RNN(**config), in buffer order, without building it."""
    I, H, O = int(config["input_size"]), int(config["hidden_size"]), int(config["output_size"])
    L, D = int(config.get("num_layers", 1)), 2 if config.get("bidirectional", False) else 1
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(L):
        for direction in range(D):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            shapes["W_xh" + suffix] = (H, I if layer == 0 else D * H)
            shapes["W_hh" + suffix] = (H, H)
            shapes["b_h" + suffix] = (H,)
    shapes["W_hy"] = (O, D * H)
    shapes["b_y"] = (O,)
    return shapes
