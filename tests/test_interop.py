"""elman.interop against its real peers: torch.nn.RNN + nn.Linear, onnx's checker, onnxruntime and
onnx's reference evaluator (the one runtime here with a float64 RNN)."""

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import elman
from elman import interop

from conftest import assert_close

TOL = {"float64": 1e-12, "float32": 1e-5}
I, H, O = 4, 6, 3
OPTIONS = list(itertools.product([1, 2], [False, True], ["tanh", "relu"], [False, True]))
OPTION_IDS = [f"L{L}-{'bi' if bi else 'uni'}-{f}-{'bf' if bf else 'tm'}" for L, bi, f, bf in OPTIONS]
options = pytest.mark.parametrize("layers,bidirectional,nonlinearity,batch_first", OPTIONS, ids=OPTION_IDS)
dtypes = pytest.mark.parametrize("dtype", ["float32", "float64"])


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def onnx():
    return pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def ort(onnx):
    return pytest.importorskip("onnxruntime")


def make(layers, bidirectional, nonlinearity, batch_first, dtype, seed=0):
    return elman.RNN(
        I,
        H,
        O,
        num_layers=layers,
        bidirectional=bidirectional,
        nonlinearity=nonlinearity,
        batch_first=batch_first,
        dtype=dtype,
        seed=seed,
    )


def batch(rng, m, T, B, dtype=None):
    """x in the model's layout and a random h0, float32-representable so a float32 file sees the same input."""
    dtype = dtype or m.dtype
    x = rng.normal(size=(B, T, m.input_size) if m.batch_first else (T, B, m.input_size)).astype(np.float32)
    h0 = (0.5 * rng.normal(size=(m.num_layers * m.directions, B, m.hidden_size))).astype(np.float32)
    return x.astype(dtype), h0.astype(dtype)


def torch_module(torch, layers, bidirectional, nonlinearity, batch_first, dtype, *, bias=True, head_bias=True):
    """A module with attributes rnn = nn.RNN(...) and head = nn.Linear(D*H, O), PyTorch's own init."""
    net = torch.nn.Module()
    net.rnn = torch.nn.RNN(
        I,
        H,
        layers,
        nonlinearity=nonlinearity,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dtype=getattr(torch, dtype),
    )
    net.head = torch.nn.Linear((2 if bidirectional else 1) * H, O, bias=head_bias, dtype=getattr(torch, dtype))
    return net


def torch_run(torch, net, x, h0=None):
    with torch.no_grad():
        out, h_n = net.rnn(torch.from_numpy(x), None if h0 is None else torch.from_numpy(h0))
        return net.head(out).numpy(), h_n.numpy()


def assert_same_model(a, b):
    assert list(a.params) == list(b.params)
    for name in a.params:
        assert a.params[name].dtype == b.params[name].dtype, name
        np.testing.assert_array_equal(a.params[name], b.params[name], err_msg=name)


# PyTorch


@dtypes
@options
def test_to_torch_loads_strictly_and_matches_torch(torch, layers, bidirectional, nonlinearity, batch_first, dtype):
    m = make(layers, bidirectional, nonlinearity, batch_first, dtype)
    net = torch_module(torch, layers, bidirectional, nonlinearity, batch_first, dtype)
    state = m.to_torch()
    assert list(state) == list(net.state_dict())
    assert all(isinstance(v, np.ndarray) and v.dtype == m.dtype for v in state.values())
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x, h0 = batch(np.random.default_rng(1), m, T=7, B=3)
    for h in (None, h0):
        y_t, h_n_t = torch_run(torch, net, x, h)
        y, h_n = m.forward(x, h)
        assert_close(y, y_t, TOL[dtype], "y")
        assert_close(h_n, h_n_t, TOL[dtype], "h_n")


def test_to_torch_copies_and_puts_the_bias_into_bias_ih():
    m = make(2, True, "tanh", False, "float64")
    state = m.to_torch()
    for s in ("_l0", "_l0_reverse", "_l1", "_l1_reverse"):
        np.testing.assert_array_equal(state[f"rnn.bias_ih{s}"], m.params[f"b_h{s}"])
        np.testing.assert_array_equal(state[f"rnn.bias_hh{s}"], np.zeros(H))
    before = m.params.flat.copy()
    for v in state.values():
        v[...] = 7.0
    np.testing.assert_array_equal(m.params.flat, before)


@dtypes
@options
def test_from_torch_matches_torch_with_both_biases(torch, layers, bidirectional, nonlinearity, batch_first, dtype):
    torch.manual_seed(layers * 8 + bidirectional * 4 + (nonlinearity == "relu") * 2 + batch_first)
    net = torch_module(torch, layers, bidirectional, nonlinearity, batch_first, dtype)
    state = net.state_dict()
    assert all(state[k].abs().min() > 0 for k in state if "bias" in k)  # PyTorch's init: both biases nonzero
    m = elman.RNN.from_torch(state, nonlinearity=nonlinearity, batch_first=batch_first)
    assert (m.input_size, m.hidden_size, m.output_size, m.num_layers) == (I, H, O, layers)
    assert (m.bidirectional, m.nonlinearity, m.batch_first) == (bidirectional, nonlinearity, batch_first)
    assert m.dtype == dtype
    x, h0 = batch(np.random.default_rng(2), m, T=6, B=4)
    for h in (None, h0):
        y_t, h_n_t = torch_run(torch, net, x, h)
        y, h_n = m.forward(x, h)
        assert_close(y, y_t, TOL[dtype], "y")
        assert_close(h_n, h_n_t, TOL[dtype], "h_n")


@dtypes
@options
def test_round_trips_are_bitwise(torch, layers, bidirectional, nonlinearity, batch_first, dtype):
    m = make(layers, bidirectional, nonlinearity, batch_first, dtype, seed=5)
    kwargs = dict(nonlinearity=nonlinearity, batch_first=batch_first)
    assert_same_model(elman.RNN.from_torch(m.to_torch(), **kwargs), m)
    net = torch_module(torch, layers, bidirectional, nonlinearity, batch_first, dtype)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in m.to_torch().items()})
    back = elman.RNN.from_torch(net.state_dict(), **kwargs)
    assert_same_model(back, m)
    config = {k: v for k, v in back.config.items() if k not in ("seed", "init")}
    assert config == {k: v for k, v in m.config.items() if k not in ("seed", "init")}


def test_tensors_and_numpy_arrays_give_the_same_model(torch):
    torch.manual_seed(0)
    net = torch_module(torch, 2, True, "tanh", False, "float32")
    from_tensors = elman.RNN.from_torch(net.state_dict())
    from_arrays = elman.RNN.from_torch({k: v.numpy() for k, v in net.state_dict().items()})
    from_parameters = elman.RNN.from_torch(dict(net.named_parameters()))  # tensors that require grad
    assert_same_model(from_arrays, from_tensors)
    assert_same_model(from_parameters, from_tensors)


def test_dtype_follows_the_arrays_unless_given():
    m = make(1, False, "tanh", False, "float64")
    state = m.to_torch()
    assert elman.RNN.from_torch(state).dtype == np.float64
    as32 = {k: v.astype(np.float32) for k, v in state.items()}
    assert elman.RNN.from_torch(as32).dtype == np.float32
    assert elman.RNN.from_torch({k: v.astype(np.float16) for k, v in state.items()}).dtype == np.float32
    assert elman.RNN.from_torch({**as32, "head.bias": state["head.bias"]}).dtype == np.float64
    widened = elman.RNN.from_torch(as32, dtype="float64")
    assert widened.dtype == np.float64
    np.testing.assert_array_equal(widened.params["W_hh_l0"], as32["rnn.weight_hh_l0"])


def test_bare_rnn_keys_and_no_biases(torch):
    torch.manual_seed(1)
    net = torch_module(torch, 2, True, "relu", True, "float64", bias=False, head_bias=False)
    state = {**net.rnn.state_dict(), **{f"head.{k}": v for k, v in net.head.state_dict().items()}}
    assert "weight_ih_l0" in state and not any("bias" in k for k in state)
    m = elman.RNN.from_torch(state, nonlinearity="relu", batch_first=True)
    assert all(not m.params[k].any() for k in m.params if k.startswith("b_"))
    x, h0 = batch(np.random.default_rng(3), m, T=5, B=2)
    y_t, h_n_t = torch_run(torch, net, x, h0)
    y, h_n = m.forward(x, h0)
    assert_close(y, y_t, 1e-12, "y")
    assert_close(h_n, h_n_t, 1e-12, "h_n")


def two_layer_state():
    return make(2, False, "tanh", False, "float32").to_torch()


def test_missing_entries_are_all_named():
    state = two_layer_state()
    del state["rnn.weight_hh_l1"], state["rnn.bias_hh_l0"], state["head.weight"]
    with pytest.raises(ValueError, match="missing rnn.bias_hh_l0, rnn.weight_hh_l1, head.weight") as e:
        elman.RNN.from_torch(state)
    assert "nn.RNN(4, 6, num_layers=2, bidirectional=False) and head = nn.Linear(6, 3)" in str(e.value)


def test_layers_without_entries_are_named_as_ranges_at_once():
    state = two_layer_state()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        state[f"rnn.{name}_l4"] = state.pop(f"rnn.{name}_l1")
    state["rnn.weight_hh_l999999999"] = np.zeros((H, H), np.float32)
    with pytest.raises(ValueError) as e:
        elman.RNN.from_torch(state)
    message = str(e.value)
    assert "  no entries at all for layers 1 to 3, 5 to 999999998\n" in message
    assert "missing rnn.weight_ih_l999999999, rnn.bias_ih_l999999999, rnn.bias_hh_l999999999\n" in message
    assert "num_layers=1000000000" in message
    del state["rnn.weight_hh_l999999999"]
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        state[f"rnn.{name}_l2"] = state.pop(f"rnn.{name}_l4")
    with pytest.raises(ValueError, match="no entries at all for layer 1\n"):
        elman.RNN.from_torch(state)


def test_unexpected_entries_are_all_named():
    state = two_layer_state()
    state["rnn.weight_ho_l0"] = np.zeros(3)
    state["head.scale"] = np.zeros(3)
    state["weight_ih_l0"] = np.zeros((H, I))  # bare next to prefixed
    with pytest.raises(ValueError, match="unexpected rnn.weight_ho_l0, head.scale, weight_ih_l0"):
        elman.RNN.from_torch(state)


def test_misshapen_entries_are_all_named():
    state = two_layer_state()
    state["rnn.weight_hh_l0"] = np.zeros((H, H + 1), np.float32)
    state["rnn.weight_ih_l1"] = np.zeros((H, I), np.float32)
    state["head.bias"] = np.zeros(O + 1, np.float32)
    with pytest.raises(ValueError) as e:
        elman.RNN.from_torch(state)
    message = str(e.value)
    assert "rnn.weight_hh_l0 has shape (6, 7); expected (6, 6)" in message
    assert "rnn.weight_ih_l1 has shape (6, 4); expected (6, 6)" in message
    assert "head.bias has shape (4,); expected (3,)" in message


def test_non_finite_and_non_numeric_entries_are_all_named():
    state = two_layer_state()
    state["rnn.weight_hh_l1"][2, 3] = np.nan
    state["head.weight"][0, 0] = -np.inf
    state["rnn.bias_ih_l0"] = np.array(["a"] * H)
    with pytest.raises(ValueError) as e:
        elman.RNN.from_torch(state)
    message = str(e.value)
    assert "rnn.weight_hh_l1 holds non-finite values" in message
    assert "head.weight holds non-finite values" in message
    assert "rnn.bias_ih_l0 has dtype <U1; expected real numbers" in message


def test_every_kind_of_problem_in_one_message():
    state = two_layer_state()
    del state["rnn.weight_ih_l1"]
    state["extra"] = np.zeros(1)
    state["rnn.bias_hh_l1"] = np.zeros(H + 2)
    state["head.bias"] = np.full(O, np.inf)
    with pytest.raises(ValueError) as e:
        elman.RNN.from_torch(state)
    assert str(e.value) == (
        "state_dict does not describe an elman.RNN:\n"
        "  missing rnn.weight_ih_l1\n"
        "  unexpected extra\n"
        "  rnn.bias_hh_l1 has shape (8,); expected (6,)\n"
        "  head.bias holds non-finite values; expected finite weights\n"
        "expected the state_dict of rnn = nn.RNN(4, 6, num_layers=2, bidirectional=False) and "
        "head = nn.Linear(6, 3) ('rnn.*', 'head.weight', 'head.bias'), as read from its names and shapes"
    )


def test_one_bias_of_a_pair_is_missing_not_optional():
    state = make(1, False, "tanh", False, "float32").to_torch()
    del state["rnn.bias_hh_l0"]
    with pytest.raises(ValueError, match="missing rnn.bias_hh_l0"):
        elman.RNN.from_torch(state)


def test_unreadable_tensors_are_named(torch):
    net = torch_module(torch, 1, False, "tanh", False, "float32")
    state = dict(net.state_dict())
    state["rnn.weight_hh_l0"] = state["rnn.weight_hh_l0"].to(torch.bfloat16)  # numpy has no bfloat16
    with pytest.raises(ValueError, match=r"rnn.weight_hh_l0 cannot be read as an array"):
        elman.RNN.from_torch(state)


def test_not_a_state_dict():
    with pytest.raises(TypeError, match="state_dict is a list; expected a dict"):
        elman.RNN.from_torch([np.zeros(3)])
    with pytest.raises(ValueError, match="state_dict has no rnn.weight_ih_l0 \\(keys: head.weight\\)"):
        elman.RNN.from_torch({"head.weight": np.zeros((3, 4))})
    with pytest.raises(ValueError, match="nonlinearity is 'gelu'"):
        elman.RNN.from_torch(two_layer_state(), nonlinearity="gelu")


def test_torch_is_never_imported_for_numpy_state_dicts():
    code = """
import sys
import numpy as np
import elman
from elman import interop
m = elman.RNN(3, 4, 2, num_layers=2, bidirectional=True, seed=0)
back = elman.RNN.from_torch(m.to_torch())
assert all(np.array_equal(back.params[k], m.params[k]) for k in m.params)
print(sorted(n for n in sys.modules if n.split(".")[0] in ("torch", "onnx", "onnxruntime")))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


# ONNX


def session(ort, path):
    return ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])


def run_onnx(sess, x, h0, lengths=None):
    feeds = {"x": x, "h0": h0}
    if lengths is not None:
        feeds["lengths"] = np.asarray(lengths, np.int32)
    return sess.run(["y", "h_n"], feeds)


SIZES = [(1, 1), (5, 3), (12, 2)]  # (T, B); no T or B is fixed by the export


@dtypes
@options
def test_onnxruntime_matches_forward(onnx, ort, tmp_path, layers, bidirectional, nonlinearity, batch_first, dtype):
    m = make(layers, bidirectional, nonlinearity, batch_first, dtype)
    path = tmp_path / "m.onnx"
    interop.export_onnx(m, path)  # float32 file, whatever the model's dtype
    onnx.checker.check_model(os.fspath(path), full_check=True)
    sess = session(ort, path)
    rng = np.random.default_rng(4)
    for T, B in SIZES:
        x, h0 = batch(rng, m, T, B, np.float32)
        y, h_n = run_onnx(sess, x, np.zeros_like(h0))  # "without h0": zeros
        y_m, h_n_m = m.forward(x)
        assert_close(y, y_m, 1e-5, f"y T={T} B={B}")
        assert_close(h_n, h_n_m, 1e-5, f"h_n T={T} B={B}")
        y, h_n = run_onnx(sess, x, h0)
        y_m, h_n_m = m.forward(x, h0)
        assert_close(y, y_m, 1e-5, f"y T={T} B={B} with h0")
        assert_close(h_n, h_n_m, 1e-5, f"h_n T={T} B={B} with h0")


@options
def test_onnxruntime_lengths_match_forward(onnx, ort, tmp_path, layers, bidirectional, nonlinearity, batch_first):
    """y = 0 past each length, the state kept (h_n = h0 for an empty sequence), the reverse direction
    from each sequence's last valid step."""
    m = make(layers, bidirectional, nonlinearity, batch_first, "float32")
    path = tmp_path / "m.onnx"
    interop.export_onnx(m, path, lengths=True)
    onnx.checker.check_model(os.fspath(path), full_check=True)
    sess = session(ort, path)
    rng = np.random.default_rng(5)
    for T, B, lengths in [(6, 4, [6, 0, 3, 1]), (9, 5, rng.integers(0, 10, size=5)), (2, 1, [2])]:
        x, h0 = batch(rng, m, T, B)
        for h in (np.zeros_like(h0), h0):
            y, h_n = run_onnx(sess, x, h, lengths)
            y_m, h_n_m = m.forward(x, h, np.asarray(lengths))
            assert_close(y, y_m, 1e-5, f"y lengths={list(lengths)}")
            assert_close(h_n, h_n_m, 1e-5, f"h_n lengths={list(lengths)}")
            padded = np.arange(T)[:, None] >= np.asarray(lengths)[None, :]  # (T, B)
            assert not y[padded.T if batch_first else padded].any()


@pytest.mark.parametrize("batch_first", [False, True])
def test_onnx_interface(onnx, tmp_path, batch_first):
    m = make(2, True, "tanh", batch_first, "float64")
    path = tmp_path / "m.onnx"
    interop.export_onnx(m, path, lengths=True)
    proto = onnx.load(os.fspath(path))

    def signature(values):
        return [
            (v.name, v.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
            for v in values
        ]

    seq = ["batch", "time"] if batch_first else ["time", "batch"]
    f, i32 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT32
    assert signature(proto.graph.input) == [
        ("x", f, [*seq, I]),
        ("h0", f, [4, "batch", H]),
        ("lengths", i32, ["batch"]),
    ]
    assert signature(proto.graph.output) == [("y", f, [*seq, O]), ("h_n", f, [4, "batch", H])]
    assert [n.op_type for n in proto.graph.node].count("RNN") == 2
    assert json.loads({p.key: p.value for p in proto.metadata_props}["elman.config"]) == m.config
    assert proto.producer_name == "elman"


@pytest.mark.parametrize("layers,bidirectional,batch_first", [(1, False, False), (2, True, False), (2, True, True)])
def test_float64_file_matches_forward_in_onnx_reference(onnx, tmp_path, layers, bidirectional, batch_first):
    """onnxruntime's RNN kernel is float32 only; onnx's reference evaluator runs the standard's double
    RNN (tanh only, sequence_lens ignored), so it checks the float64 file."""
    from onnx.reference import ReferenceEvaluator

    m = make(layers, bidirectional, "tanh", batch_first, "float64")
    path = tmp_path / "m.onnx"
    interop.export_onnx(m, path, dtype="float64")
    onnx.checker.check_model(os.fspath(path), full_check=True)
    assert onnx.load(os.fspath(path)).graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    evaluator = ReferenceEvaluator(os.fspath(path))
    rng = np.random.default_rng(6)
    for T, B in SIZES:
        x, h0 = batch(rng, m, T, B)
        for h in (None, h0):
            y, h_n = evaluator.run(["y", "h_n"], {"x": x, "h0": np.zeros_like(h0) if h is None else h})
            y_m, h_n_m = m.forward(x, h)
            assert_close(y, y_m, 1e-12, "y")
            assert_close(h_n, h_n_m, 1e-12, "h_n")


def test_opsets(onnx, ort, tmp_path):
    m = make(2, True, "relu", False, "float32")
    x, h0 = batch(np.random.default_rng(7), m, 4, 3)
    y_m, h_n_m = m.forward(x, h0, [4, 0, 2])
    for opset in (13, 17, onnx.defs.onnx_opset_version()):
        path = tmp_path / f"m{opset}.onnx"
        interop.export_onnx(m, path, opset=opset, lengths=True)
        assert onnx.load(os.fspath(path)).opset_import[0].version == opset
        y, h_n = run_onnx(session(ort, path), x, h0, [4, 0, 2])
        assert_close(y, y_m, 1e-5, f"y opset {opset}")
        assert_close(h_n, h_n_m, 1e-5, f"h_n opset {opset}")
    newest = onnx.defs.onnx_opset_version()
    for bad in (12, newest + 1):
        with pytest.raises(ValueError, match=f"opset is {bad}; expected 13..{newest}"):
            interop.export_onnx(m, tmp_path / "bad.onnx", opset=bad)


def test_export_arguments(onnx, tmp_path):
    m = make(1, False, "tanh", False, "float32")
    with pytest.raises(TypeError, match="model is a dict; expected an elman.RNN"):
        interop.export_onnx(m.to_torch(), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="dtype is float16; expected 'float32' or 'float64'"):
        interop.export_onnx(m, tmp_path / "m.onnx", dtype="float16")
    with pytest.raises(TypeError, match="lengths is 'yes'"):
        interop.export_onnx(m, tmp_path / "m.onnx", lengths="yes")
    assert os.listdir(tmp_path) == []


def test_export_replaces_the_file_atomically(onnx, tmp_path):
    m = make(1, False, "tanh", False, "float32")
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    with pytest.raises(ValueError):
        interop.export_onnx(m, path, opset=1)
    assert path.read_bytes() == b"old"
    interop.export_onnx(m, path)
    onnx.checker.check_model(os.fspath(path), full_check=True)
    assert os.listdir(tmp_path) == ["m.onnx"]
