"""m.beam_search against exhaustive search, written from the equations with the numpy reference: on a
vocabulary of 3 tokens every continuation can be scored, so the widest beam must return them all in
order, and any beam's first step must be the exact top of the first token's distribution."""

import itertools

import numpy as np
import pytest

import elman

from reference import Reference

V = 3


def token_model(dtype="float64", layers=2):
    m = elman.RNN(V, 10, V, num_layers=layers, dtype=dtype, seed=5)
    m.params["b_y"] = [0.4, -0.9, 1.1]  # spread the outputs as a trained model's are
    return m


def log_probability(m, prime, continuation):
    """log P(continuation | prime) from the numpy reference's forward over prime + continuation."""
    reference = Reference(m.params, m.config["num_layers"], False, m.config["nonlinearity"])
    tokens = np.array([*prime, *continuation])
    y, _ = reference.forward(tokens[:, None])
    total = 0.0
    for i, token in enumerate(continuation):
        z = y[len(prime) - 1 + i, 0]
        total += z[token] - z.max() - np.log(np.exp(z - z.max()).sum())
    return total


def exhaustive(m, prime, length):
    """Every continuation of `length` tokens with its log-probability, best first (ties: lexicographic)."""
    scored = [(log_probability(m, prime, c), c) for c in itertools.product(range(V), repeat=length)]
    scored.sort(key=lambda sc: (-sc[0], sc[1]))
    return [list(c) for _, c in scored], np.array([s for s, _ in scored])


@pytest.mark.parametrize("layers", [1, 2])
def test_the_widest_beam_is_exhaustive_search(layers):
    m = token_model(layers=layers)
    prime = [2, 0, 1]
    tokens, logprobs = m.beam_search(prime, 4, V**4)
    expected, expected_logprobs = exhaustive(m, prime, 4)
    assert tokens.dtype == np.int64 and tokens.shape == (81, 4)
    assert logprobs.dtype == np.float64 and logprobs.shape == (81,)
    assert tokens.tolist() == expected
    np.testing.assert_allclose(logprobs, expected_logprobs, rtol=0, atol=1e-10)
    assert np.exp(logprobs).sum() == pytest.approx(1.0, abs=1e-10), "every continuation, once"


def test_a_beam_wider_than_the_vocabulary_allows_returns_every_continuation():
    tokens, logprobs = token_model().beam_search([1], 2, 50)
    assert tokens.shape == (9, 2) and len(set(map(tuple, tokens.tolist()))) == 9


def test_each_beams_score_is_its_log_probability_and_the_first_step_is_exact():
    m = token_model()
    prime = [0, 2]
    tokens, logprobs = m.beam_search(prime, 5, 4)
    assert tokens.shape == (4, 5)
    assert np.all(np.diff(logprobs) <= 0), "best first"
    for row, score in zip(tokens.tolist(), logprobs):
        assert score == pytest.approx(log_probability(m, prime, row), abs=1e-10)
    # one step: a beam of width k holds exactly the k likeliest first tokens
    first, first_logprobs = m.beam_search(prime, 1, 2)
    expected, expected_logprobs = exhaustive(m, prime, 1)
    assert first.tolist() == expected[:2]
    np.testing.assert_allclose(first_logprobs, expected_logprobs[:2], atol=1e-10)


def test_width_one_is_greedy_decoding():
    m = token_model()
    tokens, _ = m.beam_search([1, 1, 0], 12, 1)
    assert tokens.tolist() == m.generate([1, 1, 0], 12, temperature=0).tolist()


def test_float32_models_and_a_starting_state():
    m = token_model("float32")
    h0 = np.random.default_rng(0).normal(size=(2, 10)).astype(np.float32)
    tokens, logprobs = m.beam_search([2], 3, 27, h0=h0)
    y, _ = m.forward(np.array([2, *tokens[0][:-1]])[:, None], h0[:, None])
    z = y[:, 0].astype(np.float64)
    steps = z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
    assert logprobs[0] == pytest.approx(steps[np.arange(3), tokens[0]].sum(), abs=1e-5)
    assert np.exp(logprobs).sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "args, error, match",
    [
        (([1], 0, 2), ValueError, "length is 0"),
        (([1], 3, 0), ValueError, "beam_width is 0"),
        (([1], 3, 2.5), TypeError, "beam_width is 2.5"),
        (([], 3, 2), ValueError, r"prime has shape \(0,\)"),
        (([[1]], 3, 2), ValueError, r"prime has shape \(1, 1\)"),
        (([1.5], 3, 2), TypeError, "prime has dtype float64"),
        (([1, 3], 3, 2), ValueError, r"prime holds token 3; expected tokens in \[0, 3\)"),
    ],
)
def test_bad_arguments_are_named(args, error, match):
    with pytest.raises(error, match=match):
        token_model().beam_search(*args)


def test_beam_search_needs_a_unidirectional_token_model():
    with pytest.raises(ValueError, match="expects a token model"):
        elman.RNN(4, 5, 3).beam_search([1], 2, 2)
    with pytest.raises(ValueError, match="bidirectional"):
        elman.RNN(4, 5, 4, bidirectional=True).beam_search([1], 2, 2)


def test_ties_keep_the_better_beam_then_the_lower_token():
    m = token_model()
    m.params["W_hy"] = np.zeros((V, 10))
    m.params["b_y"] = np.zeros(V)  # every token equally likely at every step: every score ties
    tokens, logprobs = m.beam_search([0], 3, 27)
    assert tokens.tolist() == [list(c) for c in itertools.product(range(V), repeat=3)]
    np.testing.assert_allclose(logprobs, 3 * np.log(1 / V), atol=1e-12)
