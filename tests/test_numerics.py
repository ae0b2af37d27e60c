"""Forward, loss and every gradient against the independent numpy reference (tests/reference.py)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import elman

from conftest import assert_close, random_batch, reference_of

RTOL = {"float64": 1e-9, "float32": 2e-4}

OPTIONS = list(
    itertools.product(
        [1, 2],  # num_layers
        [False, True],  # bidirectional
        ["tanh", "relu"],
        [False, True],  # h0
        [False, True],  # lengths
        [False, True],  # integer tokens
    )
)


def check_against_reference(model, x, target, loss, reduction, h0, lengths):
    ref = reference_of(model)
    rtol = RTOL[model.dtype.name]
    y, h_n = model.forward(x, h0, lengths)
    y_ref, h_n_ref = ref.forward(x, h0, lengths)
    assert y.dtype == model.dtype and h_n.dtype == model.dtype
    assert_close(y, y_ref, rtol, "y")
    assert_close(h_n, h_n_ref, rtol, "h_n")

    value, grads, h_n2 = model.loss_and_grad(x, target, loss=loss, reduction=reduction, h0=h0, lengths=lengths)
    value_ref, grads_ref = ref.loss_and_grad(x, target, loss, reduction, h0, lengths)
    assert np.isclose(value, value_ref, rtol=rtol, atol=1e-300), (value, value_ref)
    assert_close(h_n2, h_n_ref, rtol, "h_n of loss_and_grad")
    assert set(grads) == set(grads_ref)
    for name in grads:
        assert_close(grads[name], grads_ref[name], rtol, f"d{name}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layers,bidirectional,nonlinearity,with_h0,with_lengths,tokens", OPTIONS)
def test_every_option_matches_reference(dtype, layers, bidirectional, nonlinearity, with_h0, with_lengths, tokens):
    rng = np.random.default_rng(7)
    m = elman.RNN(5, 6, 4, num_layers=layers, bidirectional=bidirectional, nonlinearity=nonlinearity,
                  dtype=dtype, seed=3)  # fmt: skip
    x, h0, lengths = random_batch(rng, m, 7, 3, tokens=tokens, with_h0=with_h0, with_lengths=with_lengths)
    target = rng.normal(size=(7, 3, 4))
    check_against_reference(m, x, target, "mse", "mean", h0, lengths)
    classes = rng.integers(0, 4, size=(7, 3))
    classes[rng.random(size=classes.shape) < 0.2] = -100
    check_against_reference(m, x, classes, "cross_entropy", "sum", h0, lengths)


@settings(max_examples=40, deadline=None)
@given(
    I=st.integers(1, 9),
    H=st.integers(1, 12),
    O=st.integers(1, 7),
    L=st.integers(1, 3),
    T=st.integers(1, 9),
    B=st.integers(1, 5),
    bidirectional=st.booleans(),
    nonlinearity=st.sampled_from(["tanh", "relu"]),
    loss=st.sampled_from(["mse", "cross_entropy"]),
    reduction=st.sampled_from(["mean", "sum"]),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_shapes_match_reference(I, H, O, L, T, B, bidirectional, nonlinearity, loss, reduction, flags, seed):
    rng = np.random.default_rng(seed)
    m = elman.RNN(I, H, O, num_layers=L, bidirectional=bidirectional, nonlinearity=nonlinearity,
                  dtype="float64", seed=seed)  # fmt: skip
    tokens, with_h0, with_lengths = flags
    x, h0, lengths = random_batch(rng, m, T, B, tokens=tokens, with_h0=with_h0, with_lengths=with_lengths)
    if loss == "mse":
        target = rng.normal(size=(T, B, O))
    else:
        target = rng.integers(-1, O, size=(T, B))
        target[target < 0] = -100
    check_against_reference(m, x, target, loss, reduction, h0, lengths)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_finite_differences_float64(bidirectional):
    """Central differences of the loss for every parameter element, relative error < 1e-6."""
    rng = np.random.default_rng(11)
    m = elman.RNN(3, 4, 2, num_layers=2, bidirectional=bidirectional, dtype="float64", seed=5)
    x, h0, lengths = random_batch(rng, m, 5, 3, with_h0=True, with_lengths=True)
    lengths[0] = 5
    target = rng.normal(size=(5, 3, 2))
    _, grads, _ = m.loss_and_grad(x, target, h0=h0, lengths=lengths)
    analytic = grads.flat.copy()
    flat = m.params.flat
    eps = 1e-6
    numeric = np.empty_like(analytic)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus, _, _ = m.loss_and_grad(x, target, h0=h0, lengths=lengths)
        flat[i] = saved - eps
        minus, _, _ = m.loss_and_grad(x, target, h0=h0, lengths=lengths)
        flat[i] = saved
        numeric[i] = (plus - minus) / (2 * eps)
    err = np.abs(analytic - numeric).max() / np.abs(numeric).max()
    assert err < 1e-6, err


def test_finite_differences_cross_entropy_relu_tokens():
    rng = np.random.default_rng(12)
    m = elman.RNN(6, 5, 6, nonlinearity="relu", dtype="float64", seed=8)
    x = rng.integers(0, 6, size=(6, 2))
    target = rng.integers(0, 6, size=(6, 2))
    _, grads, _ = m.loss_and_grad(x, target, loss="cross_entropy")
    analytic = grads.flat.copy()
    flat, eps = m.params.flat, 1e-6
    numeric = np.empty_like(analytic)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = m.loss_and_grad(x, target, loss="cross_entropy")[0]
        flat[i] = saved - eps
        minus = m.loss_and_grad(x, target, loss="cross_entropy")[0]
        flat[i] = saved
        numeric[i] = (plus - minus) / (2 * eps)
    err = np.abs(analytic - numeric).max() / np.abs(numeric).max()
    assert err < 1e-6, err


def test_lengths_equal_running_each_sequence_alone(rng):
    m = elman.RNN(3, 5, 2, num_layers=2, bidirectional=True, dtype="float64", seed=2)
    T, B = 8, 4
    x, h0, _ = random_batch(rng, m, T, B, with_h0=True)
    lengths = np.array([8, 2, 5, 1])
    y, h_n = m.forward(x, h0, lengths)
    for b in range(B):
        n = lengths[b]
        y_b, h_b = m.forward(x[:n, b], h0[:, b])
        np.testing.assert_allclose(y[:n, b], y_b, rtol=1e-12, atol=1e-14)
        assert np.all(y[n:, b] == 0.0)
        np.testing.assert_allclose(h_n[:, b], h_b, rtol=1e-12, atol=1e-14)


def test_lengths_in_any_order_and_zero(rng):
    m = elman.RNN(2, 3, 2, dtype="float64", seed=2)
    x, h0, _ = random_batch(rng, m, 5, 3, with_h0=True)
    y, h_n = m.forward(x, h0, np.array([0, 5, 3]))
    assert np.all(y[:, 0] == 0.0)
    np.testing.assert_array_equal(h_n[:, 0], h0[:, 0])
    y_sorted, _ = m.forward(x[:, [1, 2]], h0[:, [1, 2]], np.array([5, 3]))
    np.testing.assert_allclose(y[:, 1:], y_sorted, rtol=1e-12, atol=1e-14)


def test_bidirectional_equals_manual_reverse_pass(rng):
    """The reverse direction equals a forward-only model run on the time-reversed sequence."""
    bi = elman.RNN(3, 4, 2, bidirectional=True, dtype="float64", seed=9)
    fwd = elman.RNN(3, 4, 2, dtype="float64", seed=1)
    rev = elman.RNN(3, 4, 2, dtype="float64", seed=1)
    for name in ("W_xh", "W_hh", "b_h"):
        fwd.params[name + "_l0"] = bi.params[name + "_l0"]
        rev.params[name + "_l0"] = bi.params[name + "_l0_reverse"]
    W = bi.params["W_hy"]
    fwd.params["W_hy"] = W[:, :4]
    rev.params["W_hy"] = W[:, 4:]
    fwd.params["b_y"] = bi.params["b_y"]
    rev.params["b_y"] = np.zeros(2)
    x = rng.normal(size=(6, 2, 3))
    y, h_n = bi.forward(x)
    y_f, h_f = fwd.forward(x)
    y_r, h_r = rev.forward(x[::-1])
    np.testing.assert_allclose(y, y_f + y_r[::-1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n[0], h_f[0], rtol=1e-12)
    np.testing.assert_allclose(h_n[1], h_r[0], rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_integer_tokens_equal_one_hot(rng, dtype):
    m = elman.RNN(7, 5, 3, num_layers=2, dtype=dtype, seed=4)
    tokens = rng.integers(0, 7, size=(6, 3))
    one_hot = np.eye(7)[tokens]
    lengths = np.array([6, 4, 2])
    target = rng.normal(size=(6, 3, 3))
    y_t, h_t = m.forward(tokens, lengths=lengths)
    y_o, h_o = m.forward(one_hot, lengths=lengths)
    np.testing.assert_allclose(y_t, y_o, rtol=1e-6 if dtype == "float32" else 1e-13, atol=1e-7)
    np.testing.assert_allclose(h_t, h_o, rtol=1e-6 if dtype == "float32" else 1e-13, atol=1e-7)
    loss_t, g, _ = m.loss_and_grad(tokens, target, lengths=lengths)
    g_t = g.flat.copy()
    loss_o, g, _ = m.loss_and_grad(one_hot, target, lengths=lengths)
    assert np.isclose(loss_t, loss_o, rtol=1e-6)
    np.testing.assert_allclose(g_t, g.flat, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-7)


def test_batch_first_and_unbatched_layouts(rng):
    tm = elman.RNN(3, 4, 2, num_layers=2, dtype="float64", seed=6)
    bf = elman.RNN(**{**tm.config, "batch_first": True})
    x = rng.normal(size=(5, 3, 3))
    target = rng.normal(size=(5, 3, 2))
    y, h_n = tm.forward(x)
    y_bf, h_n_bf = bf.forward(x.swapaxes(0, 1))
    # Equal up to rounding: Eigen's kernels may sum in another order for differently aligned buffers.
    np.testing.assert_allclose(y_bf, y.swapaxes(0, 1), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h_n_bf, h_n, rtol=1e-13, atol=1e-15)
    loss, g, _ = tm.loss_and_grad(x, target)
    g_tm = g.flat.copy()
    loss_bf, g, _ = bf.loss_and_grad(x.swapaxes(0, 1), target.swapaxes(0, 1))
    assert np.isclose(loss, loss_bf, rtol=1e-13)
    np.testing.assert_allclose(g.flat, g_tm, rtol=1e-12, atol=1e-15)
    y1, h1 = tm.forward(x[:, 1])
    assert y1.shape == (5, 2) and h1.shape == (2, 4)
    np.testing.assert_allclose(y1, y[:, 1], rtol=1e-12, atol=1e-14)
    loss1, _, _ = tm.loss_and_grad(x[:, 1], target[:, 1])
    ref_loss, _ = reference_of(tm).loss_and_grad(x[:, 1:2], target[:, 1:2])
    assert np.isclose(loss1, ref_loss, rtol=1e-12)


def test_mean_over_nothing_is_zero(rng):
    m = elman.RNN(2, 3, 2, dtype="float64", seed=1)
    x = rng.normal(size=(3, 2, 2))
    loss, grads, _ = m.loss_and_grad(x, np.full((3, 2), -100), loss="cross_entropy")
    assert loss == 0.0 and not grads.flat.any()
    loss, grads, _ = m.loss_and_grad(x, rng.normal(size=(3, 2, 2)), lengths=[0, 0])
    assert loss == 0.0 and not grads.flat.any()


def use_threads(n):
    """set_num_threads(n), and a check that the core took it: a setting that silently stayed at 1
    would leave the threaded paths untested. (The setting does not depend on the machine's cores:
    the pool runs n threads on any number of them.)"""
    elman.set_num_threads(n)
    assert elman.get_num_threads() == n, f"set_num_threads({n}) left get_num_threads() = {elman.get_num_threads()}"


@pytest.mark.parametrize("tokens", [False, True])
def test_threaded_paths_match_reference(tokens):
    """Big enough that the batch, the rows and the weight rows are split across threads."""
    rng = np.random.default_rng(21)
    threads = elman.get_num_threads()
    try:
        use_threads(4)
        m = elman.RNN(24, 48, 20, num_layers=2, bidirectional=True, dtype="float64", seed=2)
        x, h0, lengths = random_batch(rng, m, 30, 40, tokens=tokens, with_h0=True, with_lengths=True)
        check_against_reference(m, x, rng.integers(0, 20, size=(30, 40)), "cross_entropy", "mean", h0, lengths)
        serial = elman.RNN(**m.config)
        use_threads(1)
        target = rng.normal(size=(30, 40, 20))
        loss_1, g, _ = serial.loss_and_grad(x, target, h0=h0, lengths=lengths)
        g_1 = g.flat.copy()
        use_threads(4)
        loss_4, g, _ = m.loss_and_grad(x, target, h0=h0, lengths=lengths)
        assert np.isclose(loss_1, loss_4, rtol=1e-13)
        np.testing.assert_allclose(g.flat, g_1, rtol=1e-11, atol=1e-14)
    finally:
        elman.set_num_threads(threads)
