import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from reference import Reference  # noqa: E402


def reference_of(model):
    return Reference(dict(model.params), model.num_layers, model.bidirectional, model.nonlinearity)


def random_batch(rng, model, T, B, *, tokens=False, with_h0=False, with_lengths=False):
    I, H = model.input_size, model.hidden_size
    if tokens:
        x = rng.integers(0, I, size=(T, B))
    else:
        x = rng.normal(size=(T, B, I))
    h0 = rng.normal(size=(model.num_layers * model.directions, B, H)) * 0.5 if with_h0 else None
    lengths = rng.integers(0, T + 1, size=B) if with_lengths else None
    return x, h0, lengths


def assert_close(actual, expected, rtol, name=""):
    """Relative to the size of the expected values, so near-zero entries do not dominate."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    scale = max(np.abs(expected).max(initial=0.0), 1e-12)
    err = np.abs(actual - expected).max(initial=0.0) / scale
    assert err <= rtol, f"{name}: relative error {err:.3g} > {rtol:g}"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
