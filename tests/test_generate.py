"""m.step and m.generate: stepping equals forward; sampling draws exactly the distributions API.md
states, checked against numpy computations of softmax(y / T) and its top-k / top-p restrictions."""

import itertools

import numpy as np
import pytest

import elman

OPTIONS = list(itertools.product([1, 2], ["tanh", "relu"], [False, True], ["float32", "float64"]))


@pytest.mark.parametrize("layers,nonlinearity,tokens,dtype", OPTIONS)
@pytest.mark.parametrize("batch", [1, 3])
def test_stepping_equals_forward(rng, layers, nonlinearity, tokens, dtype, batch):
    m = elman.RNN(6, 9, 4, num_layers=layers, nonlinearity=nonlinearity, dtype=dtype, seed=5)
    T = 8
    x = rng.integers(0, 6, size=(T, batch)) if tokens else rng.normal(size=(T, batch, 6))
    h0 = rng.normal(size=(layers, batch, 9))
    y, h_n = m.forward(x, h0)
    h, ys = h0.copy(), []
    for t in range(T):
        y_t, h = m.step(x[t], h)
        ys.append(y_t)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(np.stack(ys), y, **tol)
    np.testing.assert_allclose(h, h_n, **tol)


@pytest.mark.parametrize("batch", [1, 4])
def test_stepping_a_large_model_on_several_threads_equals_forward(rng, batch):
    """Big enough (B*H*H multiply-adds) that each step's product splits W_hh's rows across threads."""
    threads = elman.get_num_threads()
    try:
        elman.set_num_threads(3)
        m = elman.RNN(5, 768, 7, dtype="float64", seed=2)
        x, h0 = rng.normal(size=(4, batch, 5)), rng.normal(size=(1, batch, 768))
        y, h_n = m.forward(x, h0)
        h, ys = h0, []
        for t in range(4):
            y_t, h = m.step(x[t], h)
            ys.append(y_t)
        np.testing.assert_allclose(np.stack(ys), y, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(h, h_n, rtol=1e-12, atol=1e-12)
    finally:
        elman.set_num_threads(threads)


def test_step_leaves_its_input_state_alone_and_takes_one_sequence(rng):
    m = elman.RNN(3, 5, 2, num_layers=2, dtype="float64", seed=1)
    h = rng.normal(size=(2, 5))
    kept = h.copy()
    y_t, h_next = m.step(rng.normal(size=3), h)
    np.testing.assert_array_equal(h, kept)
    assert y_t.shape == (2,) and h_next.shape == (2, 5)
    y_zero, _ = m.step(np.zeros(3))
    y_ref, _ = m.forward(np.zeros((1, 3)))
    np.testing.assert_allclose(y_zero, y_ref[0], rtol=1e-12)


@pytest.mark.parametrize(
    "make,args,error,match",
    [
        (lambda: elman.RNN(3, 4, 2, bidirectional=True), (np.zeros(3),), ValueError, "bidirectional"),
        (lambda: elman.RNN(3, 4, 2), (np.zeros((2, 3)), np.zeros((1, 1, 4))), ValueError, r"h has shape \(1, 1, 4\)"),
        (lambda: elman.RNN(3, 4, 2), (np.zeros((2, 5)),), ValueError, r"x_t has shape \(2, 5\); expected \(B, 3\)"),
        (lambda: elman.RNN(3, 4, 2), (np.array([3]),), ValueError, "x_t holds token 3 in sequence 0; expected a"),
        (lambda: elman.RNN(3, 4, 2), (np.array([0, -1]),), ValueError, r"x_t holds token -1 in sequence 1; expected"),
        (lambda: elman.RNN(3, 4, 2), (np.array([0.0, np.nan, 0.0]),), ValueError, "x_t holds a non-finite value"),
        (lambda: elman.RNN(3, 4, 2), (np.array(["a"]),), TypeError, "x_t has dtype"),
        (lambda: elman.RNN(3, 4, 2), (np.zeros(3), "h"), TypeError, "h has dtype"),
    ],
)
def test_bad_steps(make, args, error, match):
    with pytest.raises(error, match=match):
        make().step(*args)


def token_model(dtype="float64"):
    """A token model whose outputs are spread out (as a trained one's are), so that temperature and the
    filters change the distribution by much more than the sampling error."""
    m = elman.RNN(7, 12, 7, num_layers=2, dtype=dtype, seed=3)
    m.params["b_y"] = [0.3, -1.2, 2.0, 0.9, -0.4, 1.4, -2.2]
    return m


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def next_logits(m, prime):
    y, _ = m.forward(np.asarray(prime)[:, None])
    return y[-1, 0].astype(np.float64)


def test_greedy_follows_the_argmax_chain():
    m = token_model()
    prime = [1, 4, 2]
    tokens = m.generate(prime, 12, temperature=0)
    chain, h = [], None
    for t in prime:
        y, h = m.step(np.array([t]), h)
    for _ in range(12):
        chain.append(int(np.argmax(y[0])))
        y, h = m.step(np.array([chain[-1]]), h)
    assert tokens.tolist() == [chain]


def reference_distribution(logits, temperature, top_k=None, top_p=None):
    """softmax(y / T) restricted to the top_k likeliest, then to the smallest set reaching top_p."""
    p = softmax(logits / temperature)
    order = np.argsort(-p, kind="stable")
    keep = order if top_k is None else order[:top_k]
    q = np.zeros_like(p)
    q[keep] = p[keep]
    q /= q.sum()
    if top_p is not None:
        mass = np.cumsum(q[keep])
        keep = keep[: int(np.searchsorted(mass, top_p - 1e-12)) + 1]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        q /= q.sum()
    return q


@pytest.mark.parametrize(
    "temperature,top_k,top_p", [(1.0, None, None), (0.6, None, None), (1.5, 3, None), (1.0, None, 0.7), (0.8, 4, 0.5)]
)
def test_first_token_is_drawn_from_the_stated_distribution(temperature, top_k, top_p):
    m = token_model()
    prime = [2, 5]
    n = 200_000
    drawn = m.generate(prime, 1, temperature=temperature, top_k=top_k, top_p=top_p, num_samples=n, seed=11)[:, 0]
    expected = reference_distribution(next_logits(m, prime), temperature, top_k, top_p)
    counts = np.bincount(drawn, minlength=7)
    assert not counts[expected == 0].any(), "a class outside the allowed set was drawn"
    sd = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(counts / n - expected) <= 4.5 * sd + 1e-12), (counts / n, expected)


def test_the_same_seed_gives_the_same_tokens_whatever_the_batch_and_threads():
    m = token_model("float32")
    a = m.generate([1], 30, num_samples=4, seed=9)
    threads = elman.get_num_threads()
    elman.set_num_threads(2)
    try:
        b = m.generate([1], 30, num_samples=4, seed=9)
    finally:
        elman.set_num_threads(threads)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(m.generate([1], 30, num_samples=1, seed=9), a[:1])
    assert not np.array_equal(m.generate([1], 30, seed=10), a[:1])
    assert a.dtype == np.int64 and a.shape == (4, 30)


def test_the_returned_state_continues_the_sequence():
    m = token_model()
    whole = m.generate([3, 1], 20, temperature=0)
    first, h = m.generate([3, 1], 8, temperature=0, return_state=True)
    rest = m.generate(first[0, -1:], 12, temperature=0, h0=h[:, 0])
    np.testing.assert_array_equal(np.concatenate([first[0], rest[0]]), whole[0])


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"prime": []}, ValueError, "prime is empty"),
        ({"prime": [7]}, ValueError, r"prime holds token 7 at position 0; expected a class in \[0, 7\)"),
        ({"prime": [[1]]}, ValueError, r"prime has shape \(1, 1\)"),
        ({"prime": [1.5]}, TypeError, "prime has dtype float64"),
        ({"temperature": -0.5}, ValueError, "temperature is -0.5"),
        ({"temperature": "hot"}, TypeError, "temperature is 'hot'"),
        ({"top_k": 0}, ValueError, "top_k is 0"),
        ({"top_p": 1.5}, ValueError, r"top_p is 1.5; expected a number in \(0, 1\]"),
        ({"length": -1}, ValueError, "length is -1"),
        ({"num_samples": 0}, ValueError, "num_samples is 0"),
        ({"h0": np.zeros((3, 12))}, ValueError, r"h0 has shape \(3, 12\)"),
        ({"seed": -3}, ValueError, "seed is -3"),
    ],
)
def test_bad_generate_arguments(kwargs, error, match):
    args = {"prime": [1], "length": 5, **kwargs}
    with pytest.raises(error, match=match):
        token_model().generate(args.pop("prime"), args.pop("length"), **args)


def test_generate_needs_a_unidirectional_token_model():
    with pytest.raises(ValueError, match="expects a token model"):
        elman.RNN(4, 5, 3).generate([1], 2)
    with pytest.raises(ValueError, match="bidirectional"):
        elman.RNN(4, 5, 4, bidirectional=True).generate([1], 2)
