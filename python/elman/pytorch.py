"""PyTorch state dicts: elman's parameters under the names of an nn.RNN + nn.Linear module, both ways.

Layer k of elman is layer k of nn.RNN with weight_ih = W_xh, weight_hh = W_hh and one bias
b_h = bias_ih + bias_hh; the head is nn.Linear(D*H, O). torch is never imported: tensors are read
through their own .detach().cpu().numpy(). elman's names come from the core's layout; this module
knows only how each maps to PyTorch's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

import numpy as np

from . import _validate as check
from .params import layout

_LAYER_TENSOR = re.compile(r"(W_xh|W_hh|b_h)(_l\d+(?:_reverse)?)")
_RNN_NAMES = {"W_xh": "weight_ih", "W_hh": "weight_hh", "b_h": "bias_ih"}
_HEAD_NAMES = {"W_hy": "head.weight", "b_y": "head.bias"}


def torch_name(name: str, prefix: str = "rnn.") -> str:
    """PyTorch's name for elman's parameter `name` (b_h_l{k} is bias_ih_l{k}; bias_hh_l{k} is 0)."""
    match = _LAYER_TENSOR.fullmatch(name)
    if match:
        return prefix + _RNN_NAMES[match[1]] + match[2]
    return _HEAD_NAMES[name]


def to_torch(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The parameters under PyTorch's names, as fresh copies in their dtype, in nn.Module order.

    Loads with load_state_dict(strict=True) into a module whose attributes are
    rnn = nn.RNN(I, H, num_layers, nonlinearity=..., bidirectional=...) and head = nn.Linear(D*H, O).
    """
    state = {}
    for name, value in params.items():
        key = torch_name(name)
        state[key] = value.copy()
        if key.startswith("rnn.bias_ih"):
            state[key.replace("bias_ih", "bias_hh")] = np.zeros_like(value)
    return state


def _layer(k: int, directions: int) -> list[str]:
    """Layer k's name suffixes in a state dict: _l{k}, then _l{k}_reverse if bidirectional."""
    return [f"_l{k}", f"_l{k}_reverse"][:directions]


def from_torch(state_dict: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray | float], str]:
    """The sizes (RNN's input_size, hidden_size, output_size, num_layers, bidirectional) and elman's
    parameters, by name, of a PyTorch state dict (numpy arrays or torch tensors), for RNN.from_torch,
    and the dtype they suggest: float64 if any entry is float64, else float32.

    The keys are those of to_torch: "rnn.*" for the nn.RNN, "head.weight" and "head.bias" for the
    nn.Linear. The nn.RNN's keys may also come bare ({**rnn.state_dict(), "head.weight": ...,
    "head.bias": ...}), all one way or all the other. Sizes, num_layers and bidirectional are read
    from the names and shapes (nonlinearity and batch_first are not in a state dict).
    b_h = bias_ih + bias_hh; an nn.RNN built with bias=False (no bias entries at all) gives b_h = 0,
    and an nn.Linear with bias=False (no "head.bias") gives b_y = 0.

    Raises ValueError naming every missing, unexpected, misshapen or non-finite entry.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict is a {type(state_dict).__name__}; expected a dict of name -> array or tensor")
    arrays: dict[str, np.ndarray | None] = {}  # None: an entry that cannot be read (one of the problems)
    problems: list[str] = []
    for key, value in state_dict.items():
        try:
            arrays[key] = _numpy(value)
        except (TypeError, ValueError, RuntimeError) as e:
            arrays[key] = None
            problems.append(f"{key} cannot be read as an array ({e})")

    names = [k for k in arrays if isinstance(k, str)]
    prefix = "rnn." if any(k.startswith("rnn.") for k in names) else ""
    pattern = re.compile(re.escape(prefix) + r"(weight|bias)_(?:ih|hh)_l(\d+)(_reverse)?")
    found = [m for m in map(pattern.fullmatch, names) if m]
    if not found:
        raise ValueError(
            f"state_dict has no {prefix or 'rnn.'}weight_ih_l0 (keys: {', '.join(map(str, arrays)) or 'none'}); "
            "expected the state_dict of a module with rnn = nn.RNN(...) and head = nn.Linear(...)"
        )
    present = sorted({int(m[2]) for m in found})
    num_layers = present[-1] + 1
    gaps = [(a + 1, b - 1) for a, b in zip([-1, *present], present) if b - a > 1]
    if gaps:  # named as ranges: a stray "weight_ih_l999999999" must not list a billion missing entries
        layers = ", ".join(str(a) if a == b else f"{a} to {b}" for a, b in gaps)
        one = len(gaps) == 1 and gaps[0][0] == gaps[0][1]
        problems.append(f"no entries at all for layer{'' if one else 's'} {layers}")
    directions = 2 if any(m[3] for m in found) else 1
    rnn_bias = any(m[1] == "bias" for m in found)

    def size(key: str, axis: int, ndim: int) -> int | None:
        a = arrays.get(key)
        return a.shape[axis] if a is not None and a.ndim == ndim else None

    H = _first(size(f"{prefix}weight_hh_l0", 0, 2), size(f"{prefix}weight_ih_l0", 0, 2))
    I = size(f"{prefix}weight_ih_l0", 1, 2)
    O = _first(size("head.weight", 0, 2), size("head.bias", 0, 1))
    H_, I_, O_ = ("H" if H is None else H), ("I" if I is None else I), ("O" if O is None else O)
    DH = "D*H" if H is None else directions * H
    expected: dict[str, tuple[int | str, ...]] = {}
    for k in present:
        for s in _layer(k, directions):
            expected[f"{prefix}weight_ih{s}"] = (H_, I_ if k == 0 else DH)
            expected[f"{prefix}weight_hh{s}"] = (H_, H_)
            if rnn_bias:
                expected[f"{prefix}bias_ih{s}"] = (H_,)
                expected[f"{prefix}bias_hh{s}"] = (H_,)
    expected["head.weight"] = (O_, DH)
    if "head.bias" in arrays:
        expected["head.bias"] = (O_,)

    missing = [k for k in expected if k not in arrays]
    unexpected = [str(k) for k in arrays if k not in expected]
    for key, shape in expected.items():
        a = arrays.get(key)
        if a is None:
            continue
        if a.dtype.kind not in "biuf":
            problems.append(f"{key} has dtype {a.dtype}; expected real numbers")
        elif a.shape != shape:
            problems.append(f"{key} has shape {check.shape_str(a.shape)}; expected {check.shape_str(shape)}")
        elif not np.all(np.isfinite(a)):
            problems.append(f"{key} holds non-finite values; expected finite weights")
    if unexpected:
        problems.insert(0, f"unexpected {', '.join(unexpected)}")
    if missing:
        problems.insert(0, f"missing {', '.join(missing)}")
    if problems:
        bias = "" if rnn_bias else ", bias=False"
        keys = "'rnn.*'" if prefix else "bare nn.RNN keys"
        raise ValueError(
            "state_dict does not describe an elman.RNN:\n"
            + "".join(f"  {p}\n" for p in problems)
            + f"expected the state_dict of rnn = nn.RNN({I_}, {H_}, num_layers={num_layers}, "
            f"bidirectional={directions == 2}{bias}) and head = nn.Linear({DH}, {O_}) ({keys}, 'head.weight', "
            "'head.bias'), as read from its names and shapes"
        )

    sizes = {
        "input_size": I,
        "hidden_size": H,
        "output_size": O,
        "num_layers": num_layers,
        "bidirectional": directions == 2,
    }
    readable = cast(dict[str, np.ndarray], arrays)  # no None left: an unreadable entry raised above
    params: dict[str, np.ndarray | float] = {}
    for name, _, _ in layout(sizes)[1]:
        key = torch_name(name, prefix)
        if key.startswith(prefix + "bias_ih"):  # summed in float64: one rounding to the model's dtype
            bias_hh = key.replace("bias_ih", "bias_hh")
            params[name] = np.add(readable[key], readable[bias_hh], dtype=np.float64) if rnn_bias else 0.0
        elif key == "head.bias" and key not in arrays:
            params[name] = 0.0
        else:
            params[name] = readable[key]
    dtype = "float64" if any(a.dtype == np.float64 for a in readable.values()) else "float32"
    return sizes, params, dtype


def _numpy(value: Any) -> np.ndarray:
    if all(hasattr(value, a) for a in ("detach", "cpu", "numpy")):  # a torch tensor, read without importing torch
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)
