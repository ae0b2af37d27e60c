"""Loss "gaussian_nll" (the head outputs a mean and a log-variance per target) against
torch.nn.GaussianNLLLoss and against float64 central finite differences."""

import numpy as np
import pytest

import elman

from conftest import assert_close, random_batch

torch = pytest.importorskip("torch")

RTOL = {"float64": 1e-9, "float32": 2e-4}


def torch_loss_and_grads(m, x, target, lengths, reduction):
    """torch's nn.RNN + nn.Linear with m's weights, then GaussianNLLLoss over the valid steps of
    y = (means, log-variances); returns the loss and the gradients under elman's names."""
    rnn = torch.nn.RNN(m.input_size, m.hidden_size, dtype=torch.float64)
    head = torch.nn.Linear(m.hidden_size, m.output_size, dtype=torch.float64)
    p = {k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in m.params.items()}
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(p["W_xh_l0"])
        rnn.weight_hh_l0.copy_(p["W_hh_l0"])
        rnn.bias_ih_l0.copy_(p["b_h_l0"])
        rnn.bias_hh_l0.zero_()
        head.weight.copy_(p["W_hy"])
        head.bias.copy_(p["b_y"])
    y = head(rnn(torch.from_numpy(x.astype(np.float64)))[0])
    T, B, K = target.shape
    valid = np.ones((T, B), bool) if lengths is None else np.arange(T)[:, None] < lengths[None, :]
    mask = torch.from_numpy(valid)
    mean, var = y[..., :K][mask], torch.exp(y[..., K:][mask])
    # eps far below every variance here, so torch's clamp never acts
    loss = torch.nn.GaussianNLLLoss(reduction=reduction, eps=1e-30)(mean, torch.from_numpy(target)[mask], var)
    loss.backward()
    grads = {"W_xh_l0": rnn.weight_ih_l0.grad, "W_hh_l0": rnn.weight_hh_l0.grad, "b_h_l0": rnn.bias_ih_l0.grad}
    grads.update({"W_hy": head.weight.grad, "b_y": head.bias.grad})
    return loss.item(), {k: v.numpy() for k, v in grads.items()}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_matches_torch_gaussian_nll_loss(dtype, reduction, with_lengths):
    rng = np.random.default_rng(7 + with_lengths)
    m = elman.RNN(3, 5, 4, dtype=dtype, seed=3)
    T, B = 6, 3
    x = rng.normal(size=(T, B, 3)).astype(dtype)
    target = rng.normal(size=(T, B, 2)).astype(dtype)
    lengths = np.array([6, 2, 4]) if with_lengths else None  # steps past a length never reach the loss
    expected, expected_grads = torch_loss_and_grads(m, x, target, lengths, reduction)
    loss, grads, _ = m.loss_and_grad(x, target, loss="gaussian_nll", reduction=reduction, lengths=lengths)
    assert np.isclose(loss, expected, rtol=RTOL[dtype], atol=0)
    for name, g in expected_grads.items():
        assert_close(grads[name], g, RTOL[dtype], "d" + name)


def test_train_step_fits_mean_and_variance():
    """The fused step with loss "gaussian_nll" learns a constant target's mean and spread: the
    log-variance ends near log(0.25) for noise of standard deviation 0.5."""
    rng = np.random.default_rng(0)
    m = elman.RNN(1, 4, 2, dtype="float64", seed=0)
    opt = elman.optim.Adam(m, lr=0.05)
    x = np.zeros((4, 64, 1))
    for _ in range(600):
        target = 2.0 + 0.5 * rng.normal(size=(4, 64, 1))
        m.train_step(x, target, opt, loss="gaussian_nll")
    y, _ = m.forward(x)
    assert abs(y[..., 0].mean() - 2.0) < 0.1
    assert abs(y[..., 1].mean() - np.log(0.25)) < 0.2


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_finite_differences_float64(reduction):
    """Central differences of the loss for every parameter, two layers, h0 and lengths."""
    rng = np.random.default_rng(13)
    m = elman.RNN(3, 4, 6, num_layers=2, dtype="float64", seed=9)
    x, h0, lengths = random_batch(rng, m, 5, 3, with_h0=True, with_lengths=True)
    lengths[0] = 5
    target = rng.normal(size=(5, 3, 3))

    def loss():
        return m.loss_and_grad(x, target, loss="gaussian_nll", reduction=reduction, h0=h0, lengths=lengths)[0]

    loss()
    analytic = m.grads.flat.copy()
    flat, eps = m.params.flat, 1e-6
    numeric = np.empty_like(analytic)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = loss()
        flat[i] = saved - eps
        minus = loss()
        flat[i] = saved
        numeric[i] = (plus - minus) / (2 * eps)
    err = np.abs(analytic - numeric).max() / np.abs(numeric).max()
    assert err < 1e-6, err


def test_bad_shapes_and_values():
    m = elman.RNN(2, 3, 4, seed=0)
    x = np.zeros((3, 2, 2))
    with pytest.raises(ValueError, match=r"target has shape \(3, 2, 4\); expected \(3, 2, 2\), half of y"):
        m.loss_and_grad(x, np.zeros((3, 2, 4)), loss="gaussian_nll")
    target = np.zeros((3, 2, 2))
    target[1, 1, 0] = np.nan
    with pytest.raises(ValueError, match="target holds a non-finite value"):
        m.loss_and_grad(x, target, loss="gaussian_nll")
    odd = elman.RNN(2, 3, 3, seed=0)
    with pytest.raises(ValueError, match="needs an even output_size .* output_size 3"):
        odd.loss_and_grad(x, np.zeros((3, 2, 1)), loss="gaussian_nll")
    with pytest.raises(ValueError, match="expected 'mse', 'cross_entropy' or 'gaussian_nll'"):
        m.loss_and_grad(x, target, loss="gaussian")
