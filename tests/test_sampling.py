"""elman.sampling: greedy is the argmax chain, top_k restricts the support, the first token follows the
softmax, and one seed gives one text; each against a whole forward pass over the text so far. (The
native loop's own argument checks are tested with RNN.generate.)"""

import numpy as np
import pytest

import elman
from elman import data
from elman.sampling import sample_text, sample_texts, sample_tokens, stream_text, vocabulary_of

PRIME = [1, 4, 2]


@pytest.fixture
def model():
    return elman.RNN(7, 12, 7, num_layers=2, dtype="float64", init="normal", seed=3)


def ranks(model, prime, tokens):
    """Each sampled token's rank among the model's outputs after everything before it, recomputed by
    one forward pass over prime + tokens (no state carried by hand)."""
    ids = np.concatenate([prime, tokens]).astype(np.int64)
    y, _ = model.forward(ids[:-1])
    order = np.argsort(-y[len(prime) - 1 :], axis=1, kind="stable")
    return [int(np.nonzero(order[i] == t)[0][0]) for i, t in enumerate(tokens)]


def test_greedy_is_the_argmax_chain(model):
    model.params["W_hy"][...] *= 300  # min-char-rnn's small initial weights, scaled: no two logits near a tie
    tokens = sample_tokens(model, PRIME, 30, temperature=0)
    assert tokens.dtype == np.int64 and tokens.shape == (30,)
    assert ranks(model, PRIME, tokens) == [0] * 30
    for temperature in (0.5, 1.0, 3.0):  # top_k=1 leaves one token at any temperature
        np.testing.assert_array_equal(sample_tokens(model, PRIME, 30, temperature=temperature, top_k=1, seed=1), tokens)


@pytest.mark.parametrize("top_k", [2, 3, 6])
def test_top_k_restricts_the_support(model, top_k):
    seen = []
    for seed in range(20):
        tokens = sample_tokens(model, PRIME, 15, temperature=2.0, top_k=top_k, seed=seed)
        seen += ranks(model, PRIME, tokens)
    assert max(seen) == top_k - 1  # never outside the top k, and the k-th likeliest does come up


def test_the_first_token_follows_the_tempered_softmax():
    model = elman.RNN(7, 12, 7, num_layers=2, dtype="float64", seed=3)
    model.params["W_hy"][...] *= 4  # probabilities from 0.05 to 0.24 at temperature 1
    y, _ = model.forward(np.array(PRIME))
    for temperature in (1.0, 0.5):
        z = y[-1] / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        draws = np.array([sample_tokens(model, PRIME, 1, temperature=temperature, seed=s)[0] for s in range(3000)])
        frequency = np.bincount(draws, minlength=7) / draws.size
        tolerance = 4 * np.sqrt(p * (1 - p) / draws.size) + 1e-3  # four standard deviations of a frequency
        assert (np.abs(frequency - p) <= tolerance).all(), (frequency, p)


def test_one_seed_one_text_and_the_text_is_the_tokens(model):
    vocab = data.Vocabulary("abcdefg")
    first = sample_tokens(model, PRIME, 40, seed=9)
    np.testing.assert_array_equal(sample_tokens(model, PRIME, 40, seed=9), first)
    assert not np.array_equal(sample_tokens(model, PRIME, 40, seed=10), first)
    text = sample_text(model, vocab.decode(PRIME), 40, vocab=vocab, seed=9)
    assert text == vocab.decode(first)
    assert sample_text(model, "a", 0, vocab=vocab) == ""


@pytest.mark.parametrize("options", [{}, {"temperature": 0}, {"top_k": 3}, {"top_p": 0.7, "temperature": 1.5}])
def test_streaming_gives_the_text_of_one_call(model, options):
    """Each character is drawn by its own native call, continuing the state and the random stream."""
    vocab = data.Vocabulary("abcdefg")
    for seed in (0, 1, 2**63 + 5):
        pieces = list(stream_text(model, "bed", 60, vocab=vocab, seed=seed, **options))
        assert all(len(p) == 1 for p in pieces) and len(pieces) == 60
        assert "".join(pieces) == sample_text(model, "bed", 60, vocab=vocab, seed=seed, **options)
    assert list(stream_text(model, "bed", 0, vocab=vocab)) == []


def test_stream_checks_its_arguments_when_called(model):
    vocab = data.Vocabulary("abcdefg")
    with pytest.raises(ValueError, match=r"length is -1; expected an integer >= 0"):
        stream_text(model, "a", -1, vocab=vocab)
    with pytest.raises(ValueError, match=r"top_p is 1.5; expected a number in \(0, 1\]"):
        stream_text(model, "a", 5, vocab=vocab, top_p=1.5)
    with pytest.raises(ValueError, match="prime is empty"):
        stream_text(model, "", 5, vocab=vocab)


def test_several_samples_are_rows_of_one_batch(model):
    vocab = data.Vocabulary("abcdefg")
    texts = sample_texts(model, "bed", 25, num_samples=4, vocab=vocab, seed=3)
    tokens = model.generate(vocab.encode("bed"), 25, num_samples=4, seed=3)
    assert texts == [vocab.decode(row) for row in tokens]
    assert len(set(texts)) > 1


def test_the_vocabulary_comes_from_the_file(tmp_path, model):
    vocab = data.Vocabulary("abcdefg")
    model.save(tmp_path / "m.safetensors", metadata={"vocabulary": vocab.to_json()})
    loaded = elman.load(tmp_path / "m.safetensors")
    assert vocabulary_of(loaded).chars == "abcdefg"
    assert sample_text(loaded, "bed", 30, seed=4) == sample_text(model, "bed", 30, vocab=vocab, seed=4)
    with pytest.raises(ValueError, match="model has no 'vocabulary' in its metadata; expected a model written by"):
        sample_text(model, "bed", 3)
    small = elman.RNN(3, 4, 3)
    small.metadata["vocabulary"] = vocab.to_json()
    with pytest.raises(ValueError, match="vocab has 7 characters but the model has input_size 3"):
        vocabulary_of(small)
    small.metadata["vocabulary"] = "[1, 2]"
    with pytest.raises(ValueError, match="model holds a damaged vocabulary in its metadata"):
        vocabulary_of(small)


def test_the_state_before_the_prime(model):
    h0 = np.random.default_rng(0).normal(size=(2, 12))
    with_state = sample_tokens(model, PRIME, 20, temperature=0, h0=h0)
    y, _ = model.forward(np.array(PRIME), h0)
    assert with_state[0] == int(np.argmax(y[-1]))


def test_models_and_vocabularies_that_do_not_fit():
    with pytest.raises(TypeError, match="model is of type dict; expected an elman.RNN"):
        sample_tokens({}, PRIME, 5)
    with pytest.raises(ValueError, match="vocab has 3 characters but the model has input_size 7"):
        sample_text(elman.RNN(7, 4, 7), "a", 5, vocab=data.Vocabulary("abc"))
    with pytest.raises(ValueError, match="prime holds characters the vocabulary does not have: 'z'"):
        sample_text(elman.RNN(3, 4, 3), "az", 5, vocab=data.Vocabulary("abc"))
