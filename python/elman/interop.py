"""PyTorch state dicts and ONNX files: elman's weights under other frameworks' names.

PyTorch: layer k of elman is layer k of nn.RNN with weight_ih = W_xh, weight_hh = W_hh and one bias
b_h = bias_ih + bias_hh; the head is nn.Linear(D*H, O). Neither direction imports torch: tensors are
read through their own .detach().cpu().numpy().

ONNX: one standard RNN operator per layer, the head as MatMul + Add. The `onnx` package is imported
only by export_onnx.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import numpy as np

from . import _core
from . import _validate as check
from .files import atomic_write

_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu"}
_ONNX_DTYPES = ("float32", "float64")
_MIN_OPSET = 13  # Unsqueeze and Squeeze take their axes as an input from 13 on


def _layer(k: int, directions: int) -> list[str]:
    """Layer k's parameter suffixes: _l{k}, then _l{k}_reverse if bidirectional."""
    return [f"_l{k}", f"_l{k}_reverse"][:directions]


def _suffixes(num_layers: int, directions: int) -> list[str]:
    """Every layer's suffixes in nn.RNN's order: _l0, _l0_reverse, _l1, ..."""
    return [s for k in range(num_layers) for s in _layer(k, directions)]


def to_torch(model) -> dict[str, np.ndarray]:
    """The weights under PyTorch's names, as fresh copies in the model's dtype.

    Loads with load_state_dict(strict=True) into a module whose attributes are
    rnn = nn.RNN(I, H, num_layers, nonlinearity=..., bidirectional=...) and head = nn.Linear(D*H, O):
    "rnn.weight_ih_l{k}" = W_xh, "rnn.weight_hh_l{k}" = W_hh, "rnn.bias_ih_l{k}" = b_h,
    "rnn.bias_hh_l{k}" = 0 (the same with "_reverse"), "head.weight" = W_hy, "head.bias" = b_y.
    """
    p = model.params
    state = {}
    for s in _suffixes(model.num_layers, model.directions):
        state[f"rnn.weight_ih{s}"] = p[f"W_xh{s}"].copy()
        state[f"rnn.weight_hh{s}"] = p[f"W_hh{s}"].copy()
        state[f"rnn.bias_ih{s}"] = p[f"b_h{s}"].copy()
        state[f"rnn.bias_hh{s}"] = np.zeros_like(p[f"b_h{s}"])
    state["head.weight"] = p["W_hy"].copy()
    state["head.bias"] = p["b_y"].copy()
    return state


def from_torch(state_dict, *, nonlinearity="tanh", batch_first=False, dtype=None):
    """An elman.RNN holding the weights of a PyTorch state dict (numpy arrays or torch tensors).

    The keys are those of to_torch: "rnn.*" for the nn.RNN, "head.weight" and "head.bias" for the
    nn.Linear. The nn.RNN's keys may also come bare ({**rnn.state_dict(), "head.weight": ...,
    "head.bias": ...}), all one way or all the other. Sizes, num_layers and bidirectional are read
    from the names and shapes; nonlinearity and batch_first are not in a state dict, so they are
    arguments. b_h = bias_ih + bias_hh; an nn.RNN built with bias=False (no bias entries at all) gives
    b_h = 0, and an nn.Linear with bias=False (no "head.bias") gives b_y = 0.
    dtype None means float64 if any entry is float64, else float32.

    Raises ValueError naming every missing, unexpected, misshapen or non-finite entry.
    """
    from .model import RNN  # model.py imports this module to offer RNN.from_torch

    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict is a {type(state_dict).__name__}; expected a dict of name -> array or tensor")
    arrays, problems = {}, []
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

    def size(key: str, axis: int, ndim: int):
        a = arrays.get(key)
        return a.shape[axis] if a is not None and a.ndim == ndim else None

    H = _first(size(f"{prefix}weight_hh_l0", 0, 2), size(f"{prefix}weight_ih_l0", 0, 2))
    I = size(f"{prefix}weight_ih_l0", 1, 2)
    O = _first(size("head.weight", 0, 2), size("head.bias", 0, 1))
    H_, I_, O_ = ("H" if H is None else H), ("I" if I is None else I), ("O" if O is None else O)
    DH = "D*H" if H is None else directions * H
    expected = {}
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
            "state_dict does not describe an elman.RNN:\n" + "".join(f"  {p}\n" for p in problems)
            + f"expected the state_dict of rnn = nn.RNN({I_}, {H_}, num_layers={num_layers}, "
            f"bidirectional={directions == 2}{bias}) and head = nn.Linear({DH}, {O_}) ({keys}, 'head.weight', "
            "'head.bias'), as read from its names and shapes"
        )

    if dtype is None:
        dtype = "float64" if any(a.dtype == np.float64 for a in arrays.values()) else "float32"
    model = RNN(I, H, O, num_layers=num_layers, nonlinearity=nonlinearity, bidirectional=directions == 2,
                batch_first=batch_first, dtype=dtype, seed=0)  # fmt: skip
    p = model.params
    for s in _suffixes(num_layers, directions):
        p[f"W_xh{s}"] = arrays[f"{prefix}weight_ih{s}"]
        p[f"W_hh{s}"] = arrays[f"{prefix}weight_hh{s}"]
        if rnn_bias:  # summed in float64: one rounding to the model's dtype
            p[f"b_h{s}"] = np.add(arrays[f"{prefix}bias_ih{s}"], arrays[f"{prefix}bias_hh{s}"], dtype=np.float64)
        else:
            p[f"b_h{s}"][...] = 0
    p["W_hy"] = arrays["head.weight"]
    if "head.bias" in arrays:
        p["b_y"] = arrays["head.bias"]
    else:
        p["b_y"][...] = 0
    return model


def _numpy(value) -> np.ndarray:
    if all(hasattr(value, a) for a in ("detach", "cpu", "numpy")):  # a torch tensor, read without importing torch
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _first(*values):
    return next((v for v in values if v is not None), None)


def export_onnx(model, path, *, opset: int = 17, lengths: bool = False, dtype="float32") -> None:
    """Writes `model` as an ONNX file: one standard RNN operator per layer, the head as MatMul + Add.

    Inputs: "x" (T, B, I) float, or (B, T, I) for a batch_first model, with T and B dynamic; "h0"
    (L*D, B, H) (feed zeros for none); with lengths=True also "lengths" (B,) int32, each in [0, T],
    with m.forward's semantics: y = 0 and the state kept past each length, the reverse direction
    starting at each sequence's last valid step. Outputs: "y" (T, B, O) (or (B, T, O)) and "h_n"
    (L*D, B, H). Integer tokens are not an input here: feed their one-hot rows.

    dtype is the file's dtype, float32 by default whatever the model's, because onnxruntime's RNN
    kernel runs float32 only; dtype="float64" keeps a float64 model's weights exactly, for runtimes
    that implement the standard's double RNN. The graph passes onnx.checker (full_check) and is
    written atomically; the model's config is kept in the metadata under "elman.config".
    """
    from .model import RNN  # model.py imports this module

    if not isinstance(model, RNN):
        raise TypeError(f"model is a {type(model).__name__}; expected an elman.RNN")
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ImportError("export_onnx needs the onnx package: pip install onnx") from None
    newest = onnx.defs.onnx_opset_version()
    opset = check.integer("opset", opset)
    if not _MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset is {opset}; expected {_MIN_OPSET}..{newest} (the onnx package's newest)")
    lengths = check.flag("lengths", lengths)
    try:
        dtype = np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"dtype is {dtype!r}; expected 'float32' or 'float64'") from None
    if dtype not in _ONNX_DTYPES:
        raise ValueError(f"dtype is {dtype}; expected 'float32' or 'float64'")
    elem = TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT

    L, D, H, I, O = model.num_layers, model.directions, model.hidden_size, model.input_size, model.output_size
    p = model.params
    nodes: list = []
    weights: dict = {}

    def const(name: str, value) -> str:  # the layers share their index constants
        weights.setdefault(name, numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(kind: str, inputs: list[str], output: str, **attributes) -> str:
        nodes.append(helper.make_node(kind, inputs, [output], name=output, **attributes))
        return output

    x = op("Transpose", ["x"], "x_time_major", perm=[1, 0, 2]) if model.batch_first else "x"
    if lengths:
        lengths_64 = op("Cast", ["lengths"], "lengths_int64", to=TensorProto.INT64)
        lengths_b = op("Unsqueeze", [lengths_64, const("axes_0_2", np.array([0, 2]))], "lengths_1b1")  # (1, B, 1)
        zero = const("zero_int64", np.array(0))
        steps = op("Gather", [op("Shape", [x], "x_shape"), zero], "steps", axis=0)
        t = op("Range", [zero, steps, const("one_int64", np.array(1))], "t")
        t = op("Unsqueeze", [t, const("axes_1_2", np.array([1, 2]))], "t_t11")  # (T, 1, 1)
        valid = op("Less", [t, lengths_b], "valid")  # (T, B, 1)
        has_steps = op("Greater", [lengths_b, zero], "has_steps")  # (1, B, 1)

    layer_input, states = x, []
    for k in range(L):
        dirs = _layer(k, D)
        W = np.stack([p[f"W_xh{s}"] for s in dirs]).astype(dtype)  # (D, H, I or D*H)
        R = np.stack([p[f"W_hh{s}"] for s in dirs]).astype(dtype)  # (D, H, H)
        B = np.stack([np.concatenate([p[f"b_h{s}"], np.zeros(H)]) for s in dirs]).astype(dtype)  # Wb, Rb: (D, 2H)
        h0 = op("Slice", ["h0", const(f"start_l{k}", np.array([k * D])), const(f"end_l{k}", np.array([(k + 1) * D])),
                          const("axis_0", np.array([0]))], f"h0_l{k}")  # fmt: skip
        Y, Y_h = f"Y_l{k}", f"Y_h_l{k}"  # (T, D, B, H), (D, B, H)
        nodes.append(helper.make_node(
            "RNN", [layer_input, const(f"W_l{k}", W), const(f"R_l{k}", R), const(f"B_l{k}", B),
                    "lengths" if lengths else "", h0], [Y, Y_h], name=f"rnn_l{k}",
            hidden_size=H, direction="bidirectional" if D == 2 else "forward",
            activations=[_ACTIVATIONS[model.nonlinearity]] * D,
        ))  # fmt: skip
        if lengths:  # onnxruntime gives zeros as the state of an empty sequence; elman keeps h0
            Y_h = op("Where", [has_steps, Y_h, h0], f"h_n_l{k}")
        states.append(Y_h)
        Y = op("Transpose", [Y], f"Y_l{k}_tbdh", perm=[0, 2, 1, 3])  # (T, D, B, H) -> (T, B, D, H)
        layer_input = op("Reshape", [Y, const(f"shape_tb{D * H}", np.array([0, 0, D * H]))], f"out_l{k}")
    op("Concat", states, "h_n", axis=0)

    y = op("MatMul", [layer_input, const("W_hy_T", p["W_hy"].T.astype(dtype))], "head_matmul")
    y = op("Add", [y, const("b_y", p["b_y"].astype(dtype))], "head")  # (T, B, O)
    if lengths:
        y = op("Where", [valid, y, const("zero", np.zeros((), dtype))], "head_masked")
    if model.batch_first:
        op("Transpose", [y], "y", perm=[1, 0, 2])
    else:
        op("Identity", [y], "y")

    seq = ["batch", "time"] if model.batch_first else ["time", "batch"]
    inputs = [helper.make_tensor_value_info("x", elem, [*seq, I]),
              helper.make_tensor_value_info("h0", elem, [L * D, "batch", H])]  # fmt: skip
    if lengths:
        inputs.append(helper.make_tensor_value_info("lengths", TensorProto.INT32, ["batch"]))
    outputs = [helper.make_tensor_value_info("y", elem, [*seq, O]),
               helper.make_tensor_value_info("h_n", elem, [L * D, "batch", H])]  # fmt: skip
    graph = helper.make_graph(nodes, "elman", inputs, outputs, list(weights.values()))
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets),
                              producer_name="elman", producer_version=_core.__version__)  # fmt: skip
    helper.set_model_props(proto, {"elman.config": json.dumps(model.config)})
    onnx.checker.check_model(proto, full_check=True)
    atomic_write(path, proto.SerializeToString())
