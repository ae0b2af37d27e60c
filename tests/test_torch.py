"""elman against torch.nn.RNN + nn.Linear (elman's one bias copied into bias_ih, bias_hh zero)."""

import itertools

import numpy as np
import pytest

import elman

from conftest import assert_close

torch = pytest.importorskip("torch")

RTOL = {"float64": 1e-9, "float32": 2e-4}


def torch_twin(m):
    torch_dtype = torch.float64 if m.dtype == np.float64 else torch.float32
    rnn = torch.nn.RNN(
        m.input_size,
        m.hidden_size,
        m.num_layers,
        nonlinearity=m.nonlinearity,
        bidirectional=m.bidirectional,
        dtype=torch_dtype,
    )
    head = torch.nn.Linear(m.directions * m.hidden_size, m.output_size, dtype=torch_dtype)
    with torch.no_grad():
        for l in range(m.num_layers):
            for d in range(m.directions):
                s = f"_l{l}" + ("_reverse" if d else "")
                getattr(rnn, "weight_ih" + s).copy_(torch.from_numpy(m.params["W_xh" + s].copy()))
                getattr(rnn, "weight_hh" + s).copy_(torch.from_numpy(m.params["W_hh" + s].copy()))
                getattr(rnn, "bias_ih" + s).copy_(torch.from_numpy(m.params["b_h" + s].copy()))
                getattr(rnn, "bias_hh" + s).zero_()
        head.weight.copy_(torch.from_numpy(m.params["W_hy"].copy()))
        head.bias.copy_(torch.from_numpy(m.params["b_y"].copy()))
    return rnn, head


def torch_grads(m, rnn, head):
    out = {"W_hy": head.weight.grad, "b_y": head.bias.grad}
    for l in range(m.num_layers):
        for d in range(m.directions):
            s = f"_l{l}" + ("_reverse" if d else "")
            out["W_xh" + s] = getattr(rnn, "weight_ih" + s).grad
            out["W_hh" + s] = getattr(rnn, "weight_hh" + s).grad
            out["b_h" + s] = getattr(rnn, "bias_ih" + s).grad
    return {k: v.numpy() for k, v in out.items()}


def torch_run(m, rnn, head, x, h0, lengths):
    xt = torch.from_numpy(x)
    h0t = None if h0 is None else torch.from_numpy(h0)
    T = x.shape[0]
    if lengths is None:
        out, h_n = rnn(xt, h0t)
        return head(out), h_n
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.from_numpy(lengths), enforce_sorted=False)
    out, h_n = rnn(packed, h0t)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    mask = (torch.arange(T)[:, None] < torch.from_numpy(lengths)[None, :]).to(out.dtype)[..., None]
    return head(out) * mask, h_n


CASES = list(itertools.product([1, 3], [False, True], ["tanh", "relu"], [False, True], [False, True]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layers,bidirectional,nonlinearity,with_h0,with_lengths", CASES)
def test_matches_torch(dtype, layers, bidirectional, nonlinearity, with_h0, with_lengths):
    rng = np.random.default_rng(layers * 100 + bidirectional * 10 + with_h0 * 2 + with_lengths)
    I, H, O, T, B = 6, 9, 5, 8, 4
    m = elman.RNN(
        I, H, O, num_layers=layers, bidirectional=bidirectional, nonlinearity=nonlinearity, dtype=dtype, seed=21
    )
    rnn, head = torch_twin(m)
    x = rng.normal(size=(T, B, I)).astype(dtype)
    h0 = (0.5 * rng.normal(size=(layers * m.directions, B, H))).astype(dtype) if with_h0 else None
    lengths = np.array([8, 3, 5, 1]) if with_lengths else None  # torch's packing needs lengths >= 1
    target = rng.normal(size=(T, B, O)).astype(dtype)
    rtol = RTOL[dtype]

    y_t, h_n_t = torch_run(m, rnn, head, x, h0, lengths)
    mask = np.ones((T, B, 1)) if lengths is None else (np.arange(T)[:, None] < lengths[None, :])[..., None]
    loss_t = (((y_t - torch.from_numpy(target)) ** 2) * torch.from_numpy(mask)).sum() / (mask.sum() * O)
    loss_t.backward()

    y, h_n = m.forward(x, h0, lengths)
    assert_close(y, y_t.detach().numpy(), rtol, "y")
    assert_close(h_n, h_n_t.detach().numpy(), rtol, "h_n")
    loss, grads, _ = m.loss_and_grad(x, target, h0=h0, lengths=lengths)
    assert np.isclose(loss, loss_t.item(), rtol=rtol)
    for name, g in torch_grads(m, rnn, head).items():
        assert_close(grads[name], g, rtol, "d" + name)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_matches_torch(reduction):
    rng = np.random.default_rng(3)
    m = elman.RNN(7, 8, 7, num_layers=2, dtype="float64", seed=2)
    rnn, head = torch_twin(m)
    tokens = rng.integers(0, 7, size=(9, 3))
    target = rng.integers(0, 7, size=(9, 3))
    target[2, 1] = target[5, 0] = -100
    x = np.eye(7)[tokens]
    y_t, _ = torch_run(m, rnn, head, x, None, None)
    loss_t = torch.nn.functional.cross_entropy(
        y_t.reshape(-1, 7), torch.from_numpy(target).reshape(-1), ignore_index=-100, reduction=reduction
    )
    loss_t.backward()
    loss, grads, _ = m.loss_and_grad(tokens, target, loss="cross_entropy", reduction=reduction)
    assert np.isclose(loss, loss_t.item(), rtol=1e-12)
    for name, g in torch_grads(m, rnn, head).items():
        assert_close(grads[name], g, 1e-9, "d" + name)


def test_batch_first_matches_torch():
    rng = np.random.default_rng(4)
    m = elman.RNN(3, 5, 2, num_layers=2, bidirectional=True, batch_first=True, dtype="float64", seed=1)
    rnn, head = torch_twin(m)
    rnn.batch_first = True
    x = rng.normal(size=(4, 6, 3))
    out, h_n_t = rnn(torch.from_numpy(x))
    y, h_n = m.forward(x)
    assert_close(y, head(out).detach().numpy(), 1e-9, "y")
    assert_close(h_n, h_n_t.detach().numpy(), 1e-9, "h_n")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clipping_matches_torch(dtype):
    rng = np.random.default_rng(5)
    m = elman.RNN(3, 6, 2, num_layers=2, dtype=dtype, seed=1)
    m.loss_and_grad(rng.normal(size=(5, 2, 3)), 10 * rng.normal(size=(5, 2, 2)))
    tensors = [torch.from_numpy(g.copy()) for g in m.grads.values()]
    for t in tensors:
        t.grad = t.clone()
    total_t = torch.nn.utils.clip_grad_norm_(tensors, 0.5)
    total = elman.clip_grad_norm(m.grads, 0.5)
    assert np.isclose(total, total_t.item(), rtol=1e-6)
    for g, t in zip(m.grads.values(), tensors):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-6 if dtype == "float32" else 1e-12)
    # Clipping by value from identical inputs: the norms above may differ in the last bit (summation
    # order), and so may the values they scaled.
    for g, t in zip(m.grads.values(), tensors):
        g *= 100
        t.grad = torch.from_numpy(g.copy())
    torch.nn.utils.clip_grad_value_(tensors, 0.01)
    elman.clip_grad_value(m.grads, 0.01)
    for g, t in zip(m.grads.values(), tensors):
        np.testing.assert_array_equal(g, t.grad.numpy())
