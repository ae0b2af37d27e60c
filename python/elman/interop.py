"""ONNX files: one standard RNN operator per layer, the head as MatMul + Add. The `onnx` package is
imported only by export_onnx (it is not a runtime requirement)."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from . import _validate as check
from .files import CONFIG_KEY, atomic_write
from .model import RNN, model_dtype

_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu"}
_MIN_OPSET = 13  # Unsqueeze and Squeeze take their axes as an input from 13 on


def export_onnx(
    model: RNN, path: str | os.PathLike[str], *, opset: int = 17, lengths: bool = False, dtype: Any = "float32"
) -> None:
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
    dtype = model_dtype(dtype).name
    elem = TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT

    L, D, H, I, O = model.num_layers, model.directions, model.hidden_size, model.input_size, model.output_size
    p = model.params
    # each layer's and direction's name suffix (_l{k}, _l{k}_reverse) in the core's order
    suffixes = [name[len("W_xh") :] for name in p if name.startswith("W_xh")]
    nodes: list[Any] = []  # onnx NodeProtos
    weights: dict[str, Any] = {}  # onnx TensorProtos by name

    def const(name: str, value: ArrayLike) -> str:  # the layers share their index constants
        weights.setdefault(name, numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(kind: str, inputs: list[str], output: str, **attributes: Any) -> str:
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
        dirs = suffixes[k * D : (k + 1) * D]
        W = np.stack([p[f"W_xh{s}"] for s in dirs]).astype(dtype)  # (D, H, I or D*H)
        R = np.stack([p[f"W_hh{s}"] for s in dirs]).astype(dtype)  # (D, H, H)
        B = np.stack([np.concatenate([p[f"b_h{s}"], np.zeros(H)]) for s in dirs]).astype(dtype)  # Wb, Rb: (D, 2H)
        h0 = op(
            "Slice",
            [
                "h0",
                const(f"start_l{k}", np.array([k * D])),
                const(f"end_l{k}", np.array([(k + 1) * D])),
                const("axis_0", np.array([0])),
            ],
            f"h0_l{k}",
        )
        Y, Y_h = f"Y_l{k}", f"Y_h_l{k}"  # (T, D, B, H), (D, B, H)
        nodes.append(
            helper.make_node(
                "RNN",
                [
                    layer_input,
                    const(f"W_l{k}", W),
                    const(f"R_l{k}", R),
                    const(f"B_l{k}", B),
                    "lengths" if lengths else "",
                    h0,
                ],
                [Y, Y_h],
                name=f"rnn_l{k}",
                hidden_size=H,
                direction="bidirectional" if D == 2 else "forward",
                activations=[_ACTIVATIONS[model.nonlinearity]] * D,
            )
        )
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
    inputs = [
        helper.make_tensor_value_info("x", elem, [*seq, I]),
        helper.make_tensor_value_info("h0", elem, [L * D, "batch", H]),
    ]
    if lengths:
        inputs.append(helper.make_tensor_value_info("lengths", TensorProto.INT32, ["batch"]))
    outputs = [
        helper.make_tensor_value_info("y", elem, [*seq, O]),
        helper.make_tensor_value_info("h_n", elem, [L * D, "batch", H]),
    ]
    graph = helper.make_graph(nodes, "elman", inputs, outputs, list(weights.values()))
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        graph,
        opset_imports=opsets,
        ir_version=helper.find_min_ir_version_for(opsets),
        producer_name="elman",
        producer_version=_core.__version__,
    )
    helper.set_model_props(proto, {CONFIG_KEY: json.dumps(model.config)})
    onnx.checker.check_model(proto, full_check=True)
    atomic_write(path, proto.SerializeToString())
