"""Gradient flow against the reference's dL/dh_t, and spectral radii against numpy."""

import numpy as np
import pytest

import elman

from conftest import random_batch, reference_of


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradient_flow_matches_reference(rng, bidirectional):
    m = elman.RNN(3, 5, 2, num_layers=2, bidirectional=bidirectional, dtype="float64", seed=3)
    x, h0, lengths = random_batch(rng, m, 7, 3, with_h0=True, with_lengths=True)
    target = rng.normal(size=(7, 3, 2))
    flow = m.gradient_flow(x, target, h0=h0, lengths=lengths)
    dh = np.zeros((2 * m.directions, 7, 3, 5))
    loss_ref, grads_ref = reference_of(m).loss_and_grad(x, target, h0=h0, lengths=lengths, dh=dh)
    expected = np.sqrt((dh**2).sum(axis=(2, 3)))
    np.testing.assert_allclose(flow.norms, expected, rtol=1e-10, atol=1e-14)
    assert np.isclose(flow.loss, loss_ref, rtol=1e-12)
    np.testing.assert_allclose(m.grads["W_hh_l0"], grads_ref["W_hh_l0"], rtol=1e-9, atol=1e-14)
    assert flow.names == (["l0", "l0_reverse", "l1", "l1_reverse"] if bidirectional else ["l0", "l1"])
    for i, name in enumerate(flow.names):
        w = m.params[f"W_hh_{name}"]
        assert np.isclose(flow.spectral_radius[i], np.abs(np.linalg.eigvals(w)).max())


def test_vanishing_and_exploding_are_told_apart(rng):
    x = rng.normal(size=(40, 2, 2))
    target = np.zeros((40, 2, 1))
    target[-1] = 1.0  # only the last step matters: the gradient starts there and flows back
    small = elman.RNN(2, 8, 1, init="normal", dtype="float64", seed=1)
    flow = small.gradient_flow(x, target, reduction="sum")
    assert flow.ratio()[0] < 1e-2 and "vanishing" in flow.summary()
    big = elman.RNN(2, 8, 1, nonlinearity="relu", init="orthogonal", dtype="float64", seed=1)
    big.params["W_hh_l0"] = 1.5 * big.params["W_hh_l0"]
    big.params["W_xh_l0"] = 0 * big.params["W_xh_l0"]
    big.params["b_h_l0"] = np.ones(8)  # every unit active: the relu's Jacobian is 1.5 x orthogonal
    flow = big.gradient_flow(x, target, reduction="sum")
    assert flow.ratio()[0] > 1e2 and "exploding" in flow.summary()
    assert np.isclose(flow.spectral_radius[0], 1.5)
