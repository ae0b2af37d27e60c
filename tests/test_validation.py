"""Every kind of bad input raises ValueError or TypeError naming the argument, and leaves the model as it was."""

import numpy as np
import pytest

import elman


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"input_size": 0}, ValueError, "input_size is 0"),
        ({"hidden_size": -3}, ValueError, "hidden_size is -3"),
        ({"output_size": 2.5}, TypeError, "output_size is 2.5"),
        ({"input_size": "3"}, TypeError, "input_size is '3'"),
        ({"num_layers": 0}, ValueError, "num_layers is 0"),
        ({"num_layers": True}, TypeError, "num_layers is True"),
        ({"nonlinearity": "sigmoid"}, ValueError, "nonlinearity is 'sigmoid'"),
        ({"bidirectional": "yes"}, TypeError, "bidirectional is 'yes'"),
        ({"dropout": 1.0}, ValueError, "dropout is 1.0"),
        ({"dropout": -0.1}, ValueError, "dropout is -0.1"),
        ({"dropout": float("nan")}, ValueError, "dropout is nan"),
        ({"dtype": "int32"}, ValueError, "dtype is int32"),
        ({"dtype": "nonsense"}, TypeError, "dtype is 'nonsense'"),
        ({"dtype": None}, TypeError, "dtype is None; expected 'float32' or 'float64'"),
        ({"init": "xavier"}, ValueError, "init is 'xavier'"),
        ({"seed": -1}, ValueError, "seed is -1"),
        ({"seed": 2**64}, ValueError, "seed is"),
        ({"seed": 1.5}, TypeError, "seed is 1.5"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    args = {"input_size": 3, "hidden_size": 4, "output_size": 2, **kwargs}
    with pytest.raises(error, match=match):
        elman.RNN(**args)


@pytest.fixture
def model():
    return elman.RNN(3, 4, 2, num_layers=2, dtype="float64", seed=1)


T, B = 5, 2
GOOD_X = np.zeros((T, B, 3))


def nan_at(shape, index):
    a = np.zeros(shape)
    a[index] = np.nan
    return a


BAD_FORWARD = [
    ({"x": np.zeros((T, B, 4))}, ValueError, r"x has shape \(5, 2, 4\); expected \(T, B, 3\)"),
    ({"x": np.zeros((T, B, 3, 1))}, ValueError, r"x has shape \(5, 2, 3, 1\)"),
    ({"x": np.zeros(7)}, ValueError, r"x has shape \(7,\)"),
    ({"x": np.zeros((0, B, 3))}, ValueError, "x has 0 steps"),
    ({"x": np.zeros((T, 0, 3))}, ValueError, "batch size 0"),
    ({"x": np.array([["a", "b"]])}, TypeError, "x has dtype <U1"),
    ({"x": np.zeros((T, B, 3), dtype=complex)}, TypeError, "x has dtype complex128"),
    ({"x": [[1, 2], [3]]}, TypeError, "x could not be read as an array"),
    ({"x": nan_at((T, B, 3), (2, 1, 0))}, ValueError, "x holds a non-finite value"),
    ({"x": np.full((T, B, 3), np.inf)}, ValueError, "x holds a non-finite value"),
    ({"x": np.full((T, B), 3)}, ValueError, r"x holds token 3 at step 0, in sequence 0; expected a class in \[0, 3\)"),
    ({"x": np.full((T, B), -1)}, ValueError, "x holds token -1"),
    ({"h0": np.zeros((2, B, 5))}, ValueError, r"h0 has shape \(2, 2, 5\); expected \(2, 2, 4\)"),
    ({"h0": np.zeros((1, B, 4))}, ValueError, r"h0 has shape \(1, 2, 4\)"),
    ({"h0": nan_at((2, B, 4), (1, 1, 3))}, ValueError, "h0 holds a non-finite value"),
    ({"h0": "zeros"}, TypeError, "h0 has dtype"),
    ({"lengths": [6, 1]}, ValueError, r"lengths holds 1..6; expected each in \[0, 5\]"),
    ({"lengths": [-1, 1]}, ValueError, "lengths holds -1..1"),
    ({"lengths": [2.0, 1.0]}, TypeError, "lengths has dtype float64; expected integers"),
    ({"lengths": [1, 2, 3]}, ValueError, r"lengths has shape \(3,\); expected \(2,\)"),
]


def assert_untouched(model, call, error, match):
    params = model.params.flat.copy()
    grads = model.grads.flat.copy()
    with pytest.raises(error, match=match):
        call()
    np.testing.assert_array_equal(model.params.flat, params)
    np.testing.assert_array_equal(model.grads.flat, grads)


@pytest.mark.parametrize("bad,error,match", BAD_FORWARD)
def test_bad_forward_inputs(model, bad, error, match):
    args = {"x": GOOD_X, "h0": None, "lengths": None, **bad}
    assert_untouched(model, lambda: model.forward(**args), error, match)


def training_call(model, name):
    """loss_and_grad, or train_step with SGD: arrays of the model's dtype take train_step's shortcut
    to the core, whose own checks must give the same errors."""
    if name == "loss_and_grad":
        return model.loss_and_grad
    opt = elman.optim.SGD(model, lr=0.1)
    return lambda x, target, **kwargs: model.train_step(x, target, opt, clip_value=1.0, **kwargs)


@pytest.mark.parametrize("call", ["loss_and_grad", "train_step"])
@pytest.mark.parametrize("bad,error,match", BAD_FORWARD)
def test_bad_training_inputs(model, bad, error, match, call):
    model.loss_and_grad(GOOD_X, np.ones((T, B, 2)))  # gradients that a failed call must not touch
    args = {"x": GOOD_X, "h0": None, "lengths": None, **bad}
    x = args["x"]
    steps_and_batch = x.shape[:2] if isinstance(x, np.ndarray) and x.ndim >= 2 else (T, B)
    target = np.zeros((*steps_and_batch, 2))
    assert_untouched(model, lambda: training_call(model, call)(args.pop("x"), target, **args), error, match)


@pytest.mark.parametrize(
    "target,kwargs,error,match",
    [
        (np.zeros((T, B, 3)), {}, ValueError, r"target has shape \(5, 2, 3\); expected \(5, 2, 2\)"),
        (nan_at((T, B, 2), (4, 1, 1)), {}, ValueError, "target holds a non-finite value"),
        (np.array([["x"]]), {}, TypeError, "target has dtype <U1"),
        (np.zeros((T, B)), {"loss": "cross_entropy"}, TypeError, "target has dtype float64; expected integer"),
        (np.zeros((T, B, 2), dtype=int), {"loss": "cross_entropy"}, ValueError, r"target has shape \(5, 2, 2\)"),
        (
            np.full((T, B), 2),
            {"loss": "cross_entropy"},
            ValueError,
            r"target holds class 2 .* expected a class in \[0, 2\)",
        ),
        (np.full((T, B), -5), {"loss": "cross_entropy"}, ValueError, "target holds class -5"),
        (np.zeros((T, B, 2)), {"loss": "hinge"}, ValueError, "loss is 'hinge'"),
        (np.zeros((T, B, 2)), {"reduction": "max"}, ValueError, "reduction is 'max'"),
    ],
)
@pytest.mark.parametrize("call", ["loss_and_grad", "train_step"])
def test_bad_targets(model, target, kwargs, error, match, call):
    model.loss_and_grad(GOOD_X, np.ones((T, B, 2)))
    assert_untouched(model, lambda: training_call(model, call)(GOOD_X, target, **kwargs), error, match)


def test_padding_is_not_validated(model):
    """Tokens and classes past a sequence's length are padding: any value is accepted and ignored."""
    x = np.array([[0, 1], [2, -1], [1, 99]])
    target = np.array([[1, 0], [0, -7], [1, 42]])
    loss, _, _ = model.loss_and_grad(x, target, loss="cross_entropy", lengths=[3, 1])
    assert np.isfinite(loss)


def test_batch_first_error_names_the_layout():
    m = elman.RNN(3, 4, 2, batch_first=True)
    with pytest.raises(ValueError, match=r"expected \(B, T, 3\)"):
        m.forward(np.zeros((2, 5, 4)))


def test_unbatched_shapes(model):
    with pytest.raises(ValueError, match=r"h0 has shape \(2, 1, 4\); expected \(2, 4\)"):
        model.forward(np.zeros((5, 3)), h0=np.zeros((2, 1, 4)))
    y, h_n = model.forward(np.zeros((5, 3)), lengths=3)
    assert y.shape == (5, 2) and not y[3:].any()


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda g: elman.clip_grad_value(g, -1.0), ValueError, "threshold is -1.0"),
        (lambda g: elman.clip_grad_value(g, float("nan")), ValueError, "threshold is nan"),
        (lambda g: elman.clip_grad_value(g, "1"), TypeError, "threshold is '1'"),
        (lambda g: elman.clip_grad_norm(g, -2), ValueError, "max_norm is -2"),
        (lambda g: elman.clip_grad_norm(g, float("inf")), ValueError, "max_norm is inf"),
        (lambda g: elman.clip_grad_norm([1.0, 2.0], 1.0), TypeError, "grads is a list"),
        (lambda g: elman.clip_grad_norm({"a": np.array([1, 2])}, 1.0), TypeError, "float32 or all float64"),
        (lambda g: elman.clip_grad_norm({"a": np.zeros(4)[::2]}, 1.0), TypeError, "C-contiguous"),
    ],
)
def test_bad_clipping_arguments(model, call, error, match):
    model.loss_and_grad(GOOD_X, np.ones((T, B, 2)))
    assert_untouched(model, lambda: call(model.grads), error, match)
