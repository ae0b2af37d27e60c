"""elman.data: text streams (against min-char-rnn's own pointer loop), token files, padded sequences,
time-series windows (against plain loops), and one batch of each kind through the model."""

import json
import os

import numpy as np
import pytest

import elman
from elman.data import (
    Batch,
    Loader,
    Normalizer,
    SequenceDataset,
    TextBatches,
    TimeSeries,
    Vocabulary,
    as_batch,
    encode_file,
    load_tokens,
    read_csv_column,
    split,
    windows,
)

TEXT = "hello world, the quick brown fox jumps over the lazy dog.\nhello again!\n"

# ---------------------------------------------------------------------------------------------- text


def min_char_rnn_windows(data, char_to_ix, seq_length, iterations):
    """min-char-rnn's data pointer loop, verbatim but for the model: (inputs, targets, reset) per step."""
    out = []
    n, p = 0, 0
    while n < iterations:
        reset = False
        if p + seq_length + 1 >= len(data) or n == 0:
            reset = True  # hprev = np.zeros((hidden_size, 1))
            p = 0
        inputs = [char_to_ix[ch] for ch in data[p : p + seq_length]]
        targets = [char_to_ix[ch] for ch in data[p + 1 : p + seq_length + 1]]
        out.append((inputs, targets, reset))
        p += seq_length
        n += 1
    return out


# lengths where the last window ends exactly at the end (k*S + 1), one short of it, and in between
@pytest.mark.parametrize("length,seq_len", [(len(TEXT), 5), (41, 10), (40, 10), (42, 10), (12, 10), (30, 1)])
def test_batch_size_one_replays_min_char_rnn(length, seq_len):
    data = TEXT[:length]
    vocab = Vocabulary.from_text(data)
    char_to_ix = {ch: i for i, ch in enumerate(vocab.chars)}
    expected = min_char_rnn_windows(data, char_to_ix, seq_len, iterations=60)
    batches = TextBatches(vocab.encode(data), batch_size=1, seq_len=seq_len)
    for step, (inputs, targets, reset) in enumerate(expected):
        batch = next(batches)
        assert batch.x.shape == batch.target.shape == (seq_len, 1)
        assert batch.x.dtype == batch.target.dtype == np.int64
        assert batch.x[:, 0].tolist() == inputs, f"step {step}"
        assert batch.target[:, 0].tolist() == targets, f"step {step}"
        assert batch.reset == reset, f"step {step}"


def test_parallel_streams_are_contiguous_parts():
    tokens = np.arange(100, 123)  # 23 tokens, B=3: streams of 7 (100..106, 107..113, 114..120), 2 unused
    batches = TextBatches(tokens, batch_size=3, seq_len=2)
    assert batches.steps_per_epoch == 2
    first, second, third = next(batches), next(batches), next(batches)
    np.testing.assert_array_equal(first.x, [[100, 107, 114], [101, 108, 115]])
    np.testing.assert_array_equal(first.target, [[101, 108, 115], [102, 109, 116]])
    np.testing.assert_array_equal(second.x, [[102, 109, 116], [103, 110, 117]])
    np.testing.assert_array_equal(second.target, [[103, 110, 117], [104, 111, 118]])
    # p = 4: 4 + 2 + 1 >= 7, so the streams start over
    np.testing.assert_array_equal(third.x, first.x)
    assert (first.reset, second.reset, third.reset) == (True, False, True)


def test_wrap_around_resets_and_counts_epochs():
    batches = TextBatches(np.arange(50), batch_size=2, seq_len=4)  # streams of 25: 5 batches per pass
    assert batches.steps_per_epoch == 5
    resets, epochs, starts = [], [], []
    for _ in range(12):
        batch = next(batches)
        resets.append(batch.reset)
        epochs.append(batches.epoch)
        starts.append(int(batch.x[0, 0]))
    assert resets == [True, False, False, False, False] * 2 + [True, False]
    assert epochs == [0] * 5 + [1] * 5 + [2] * 2
    assert starts == [0, 4, 8, 12, 16] * 2 + [0, 4]


@pytest.mark.parametrize("taken", [0, 1, 3, 5, 7])
def test_state_dict_resume_gives_the_same_following_batches(taken):
    tokens = np.arange(50) % 7
    original = TextBatches(tokens, batch_size=2, seq_len=4)
    for _ in range(taken):
        next(original)
    state = json.loads(json.dumps(original.state_dict()))
    resumed = TextBatches(tokens.copy(), batch_size=2, seq_len=4)
    resumed.load_state_dict(state)
    for _ in range(11):  # across at least one wrap
        a, b = next(original), next(resumed)
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.target, b.target)
        assert a.reset == b.reset
        assert original.epoch == resumed.epoch


def test_state_dict_from_other_batches_is_refused():
    state = TextBatches(np.arange(50), batch_size=2, seq_len=4).state_dict()
    with pytest.raises(ValueError, match="state\\['seq_len'\\] is 4; expected 5"):
        TextBatches(np.arange(50), batch_size=2, seq_len=5).load_state_dict(state)
    with pytest.raises(ValueError, match="state\\['stream_length'\\] is 25; expected 30"):
        TextBatches(np.arange(60), batch_size=2, seq_len=4).load_state_dict(state)
    with pytest.raises(ValueError, match="state\\['position'\\] is 3; expected a multiple of seq_len 4"):
        TextBatches(np.arange(50), batch_size=2, seq_len=4).load_state_dict({**state, "position": 3})
    with pytest.raises(ValueError, match="expected a dict from TextBatches.state_dict"):
        TextBatches(np.arange(50), batch_size=2, seq_len=4).load_state_dict({"position": 0})


@pytest.mark.parametrize(
    "tokens,batch_size,seq_len,error,match",
    [
        (np.arange(11), 1, 10, ValueError, r"11 tokens, 11 per stream .* expected at least seq_len \+ 2 = 12"),
        (np.arange(30), 3, 9, ValueError, "10 per stream for batch_size 3"),
        (np.zeros(30), 1, 5, ValueError, "dtype float64; expected integer tokens"),
        (np.zeros((5, 6), dtype=int), 1, 2, ValueError, r"shape \(5, 6\)"),
        (np.arange(30), 0, 5, ValueError, "batch_size is 0"),
        (np.arange(30), 1, 2.0, TypeError, "seq_len is 2.0"),
    ],
)
def test_text_batches_bad_arguments(tokens, batch_size, seq_len, error, match):
    with pytest.raises(error, match=match):
        TextBatches(tokens, batch_size, seq_len)


def test_vocabulary_ids_are_sorted_characters_and_round_trip():
    vocab = Vocabulary.from_text("bca\u00e9b", unknown=None)
    assert vocab.chars == "abc\u00e9" and vocab.size == 4
    np.testing.assert_array_equal(vocab.encode("cab\u00e9"), [2, 0, 1, 3])
    assert vocab.encode("cab").dtype == np.int64
    assert vocab.decode([2, 0, 1, 3]) == "cab\u00e9"
    assert vocab.decode(np.array([3], dtype=np.uint8)) == "\u00e9"
    assert vocab.decode(vocab.encode(TEXT[:0])) == ""
    with pytest.raises(ValueError, match=r"ids holds 0..4; expected each in \[0, 4\)"):
        vocab.decode([0, 4])


def test_vocabulary_unknown_characters():
    vocab = Vocabulary.from_text("abc")  # default unknown U+FFFD
    assert vocab.chars == "abc\ufffd"
    np.testing.assert_array_equal(vocab.encode("axc"), [0, 3, 2])
    strict = Vocabulary("abc")
    with pytest.raises(ValueError, match=r"text\[3\] is 'z' \(U\+007A\)"):
        strict.encode("abcz")
    with pytest.raises(ValueError, match="text is empty"):
        Vocabulary.from_text("")
    with pytest.raises(TypeError, match="unknown is 'ab'"):
        Vocabulary("abc", unknown="ab")


@pytest.mark.parametrize("unknown", [None, "\ufffd", "?"])
def test_vocabulary_json_round_trip(unknown):
    vocab = Vocabulary.from_text(TEXT + '\u00e9\u4e2d\U0001f600\r\t"\\', unknown=unknown)
    restored = Vocabulary.from_json(vocab.to_json())
    assert restored == vocab
    assert restored.chars == vocab.chars and restored.unknown == vocab.unknown
    np.testing.assert_array_equal(restored.encode(TEXT), vocab.encode(TEXT))
    json.loads(vocab.to_json())  # a plain JSON string, fit for file metadata


def test_vocabulary_from_json_refuses_reordered_characters():
    with pytest.raises(ValueError, match="expected sorted unique characters"):
        Vocabulary.from_json(json.dumps({"chars": "ba", "unknown": None}))
    with pytest.raises(ValueError, match="s is not valid JSON"):
        Vocabulary.from_json("{")


def test_vocabulary_from_file_reads_in_chunks(tmp_path):
    path = tmp_path / "corpus.txt"
    text = TEXT + "caf\u00e9 \U0001f600\r\n"
    path.write_text(text, encoding="utf-8", newline="")
    for chunk_size in (1, 3, 1 << 20):
        assert Vocabulary.from_file(path, chunk_size=chunk_size) == Vocabulary.from_text(text)
    assert "\r" in Vocabulary.from_file(path).chars  # newlines are kept as in the file
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        Vocabulary.from_file(tmp_path / "missing.txt")


@pytest.mark.parametrize("chunk_size", [1, 4, 1 << 20])
def test_token_file_round_trip(tmp_path, chunk_size):
    src = tmp_path / "corpus.txt"
    text = TEXT * 3 + "caf\u00e9 \U0001f600"
    src.write_text(text, encoding="utf-8", newline="")
    vocab = Vocabulary.from_file(src)
    tokens = encode_file(src, vocab, tmp_path / "tokens.npy", chunk_size=chunk_size)
    loaded = load_tokens(tmp_path / "tokens.npy")
    for t in (tokens, loaded):
        assert isinstance(t, np.memmap) and t.dtype == np.uint8 and not t.flags.writeable
        np.testing.assert_array_equal(t, vocab.encode(text))
    assert vocab.decode(loaded) == text
    assert sorted(os.listdir(tmp_path)) == ["corpus.txt", "tokens.npy"]


def test_token_file_dtype_fits_the_vocabulary(tmp_path):
    src = tmp_path / "wide.txt"
    text = "".join(chr(0x4E00 + i) for i in range(300))
    src.write_text(text, encoding="utf-8")
    vocab = Vocabulary.from_file(src, unknown=None)
    tokens = encode_file(src, vocab, tmp_path / "wide.npy")
    assert tokens.dtype == np.uint16
    assert vocab.decode(tokens) == text


def test_encode_file_unknown_character_names_its_position_and_leaves_no_file(tmp_path):
    src = tmp_path / "corpus.txt"
    src.write_text("abcabcabcz", encoding="utf-8")
    with pytest.raises(ValueError, match=r"text\[9\] is 'z'"):
        encode_file(src, Vocabulary("abc"), tmp_path / "tokens.npy", chunk_size=4)
    assert os.listdir(tmp_path) == ["corpus.txt"]
    with pytest.raises(TypeError, match="dst is 7 .int.; expected a str or os.PathLike"):
        encode_file(src, Vocabulary("abcz"), 7)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        encode_file(empty, Vocabulary("abc"), tmp_path / "tokens.npy")


def test_encode_file_that_fails_keeps_the_old_token_file(tmp_path):
    src = tmp_path / "corpus.txt"
    src.write_text("abcab", encoding="utf-8")
    encode_file(src, Vocabulary("abc"), tmp_path / "tokens.npy")
    src.write_text("cba?", encoding="utf-8")
    with pytest.raises(ValueError, match=r"text\[3\] is '\?'"):
        encode_file(src, Vocabulary("abc"), tmp_path / "tokens.npy", chunk_size=2)
    np.testing.assert_array_equal(load_tokens(tmp_path / "tokens.npy"), [0, 1, 2, 0, 1])
    assert sorted(os.listdir(tmp_path)) == ["corpus.txt", "tokens.npy"]


def test_load_tokens_refuses_other_arrays(tmp_path):
    np.save(tmp_path / "floats.npy", np.zeros(5))
    with pytest.raises(ValueError, match="expected a token file"):
        load_tokens(tmp_path / "floats.npy")
    with pytest.raises(FileNotFoundError, match="nothing.npy"):
        load_tokens(tmp_path / "nothing.npy")


def test_text_batches_on_a_memory_map_equal_those_in_memory(tmp_path):
    src = tmp_path / "corpus.txt"
    src.write_text(TEXT * 4, encoding="utf-8")
    vocab = Vocabulary.from_file(src)
    mapped = encode_file(src, vocab, tmp_path / "tokens.npy")
    train, val = split(mapped, 0.25)
    assert np.may_share_memory(train, mapped) and np.may_share_memory(val, mapped)
    a = TextBatches(train, batch_size=3, seq_len=7)
    b = TextBatches(np.array(train), batch_size=3, seq_len=7)
    for _ in range(20):
        x, y = next(a), next(b)
        np.testing.assert_array_equal(x.x, y.x)
        np.testing.assert_array_equal(x.target, y.target)
        assert x.x.dtype == np.int64 and x.reset == y.reset


def test_split_is_contiguous_views_with_the_tail_for_validation():
    tokens = np.arange(20)
    train, val = split(tokens, 0.25)
    np.testing.assert_array_equal(train, np.arange(15))
    np.testing.assert_array_equal(val, np.arange(15, 20))
    assert train.base is tokens and val.base is tokens
    with pytest.raises(ValueError, match="splits into 19 for training and 1 for validation; expected at least 2"):
        split(tokens, 0.05)
    with pytest.raises(ValueError, match="val_fraction is 1.0"):
        split(tokens, 1.0)


def test_text_batches_train_the_model():
    vocab = Vocabulary.from_text(TEXT)
    batches = TextBatches(vocab.encode(TEXT), batch_size=2, seq_len=8)
    model = elman.RNN(vocab.size, 16, vocab.size, seed=0)
    h = None
    for _ in range(6):
        batch = next(batches)
        if batch.reset:
            h = None
        loss, grads, h = model.loss_and_grad(batch.x, batch.target, loss="cross_entropy", h0=h)
        assert np.isfinite(loss) and h.shape == (1, 2, 16)


# ----------------------------------------------------------------------------------------- sequences


def test_token_sequences_are_padded_time_major():
    inputs = [np.array([1, 2, 3]), np.array([4, 5]), np.array([6])]
    targets = [np.array([7, 8, 9]), np.array([-100, 6]), np.array([3])]
    ds = SequenceDataset(inputs, targets)
    assert len(ds) == 3 and ds.tokens and ds.input_size is None and ds.loss == "cross_entropy"
    (batch,) = ds.batches(3, shuffle=False)
    np.testing.assert_array_equal(batch.x, [[1, 4, 6], [2, 5, 0], [3, 0, 0]])
    np.testing.assert_array_equal(batch.target, [[7, -100, 3], [8, 6, -100], [9, -100, -100]])
    np.testing.assert_array_equal(batch.lengths, [3, 2, 1])
    assert batch.x.dtype == batch.target.dtype == batch.lengths.dtype == np.int64


def test_feature_sequences_are_padded_with_zeros():
    inputs = [np.array([[1.0, 2.0]]), np.array([[3.0, 4.0], [5.0, 6.0]])]
    targets = [np.array([[0.5]]), np.array([[1.5], [2.5]])]
    ds = SequenceDataset(inputs, targets)
    assert not ds.tokens and ds.input_size == 2 and ds.loss == "mse"
    first, second = ds.batches(1, shuffle=False)
    np.testing.assert_array_equal(first.x, [[[1.0, 2.0]]])
    (batch,) = ds.batches(2, shuffle=False)
    np.testing.assert_array_equal(batch.x, [[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [5.0, 6.0]]])
    np.testing.assert_array_equal(batch.target, [[[0.5], [1.5]], [[0.0], [2.5]]])
    np.testing.assert_array_equal(batch.lengths, [1, 2])
    assert batch.x.dtype == np.float64
    f32 = SequenceDataset([a.astype(np.float32) for a in inputs], targets)
    assert next(f32.batches(2)).x.dtype == np.float32


def test_many_to_one_targets_mark_each_last_valid_step():
    inputs = [np.array([1, 1, 1]), np.array([2]), np.array([3, 3])]
    ds = SequenceDataset(inputs, [4, 5, 6], many_to_one=True)
    assert ds.loss == "cross_entropy"
    (batch,) = ds.batches(3, shuffle=False)
    np.testing.assert_array_equal(
        batch.target,
        [
            [-100, 5, -100],
            [-100, -100, 6],
            [4, -100, -100],
        ],
    )
    (pair,) = ds.batches(2, shuffle=False, drop_last=True)
    np.testing.assert_array_equal(pair.target, [[-100, 5], [-100, -100], [4, -100]])


def test_seeded_shuffle_is_deterministic():
    inputs = [np.full(i % 5 + 1, i) for i in range(23)]
    ds = SequenceDataset(inputs, list(range(23)), many_to_one=True)

    def order(**kwargs):
        return [int(x) for b in ds.batches(4, **kwargs) for x in b.x[0]]

    assert order(seed=7) == order(seed=7)
    assert order(seed=7) != order(seed=8)
    assert sorted(order(seed=7)) == list(range(23))
    assert order(shuffle=False) == list(range(23))
    assert len(list(ds.batches(4, seed=7, drop_last=True))) == 5
    assert [len(b.lengths) for b in ds.batches(4, seed=7)] == [4, 4, 4, 4, 4, 3]
    for batch in ds.batches(4, seed=3):  # each batch is padded to its own longest sequence
        assert batch.x.shape[0] == batch.lengths.max()


GOOD_TOKENS = [np.array([1, 2]), np.array([3])]
BAD_DATASETS = [
    (([], []), ValueError, "inputs is empty"),
    ((GOOD_TOKENS, [np.array([1, 2])]), ValueError, "targets has 1 sequences; expected 2"),
    ((GOOD_TOKENS, [np.array([1, 2]), np.array([1, 2])]), ValueError, r"targets\[1\] has 2 steps; expected 1"),
    (([np.zeros((2, 3)), np.zeros((2, 4))], [np.zeros((2, 1))] * 2), ValueError, r"inputs\[1\] has shape \(2, 4\)"),
    (([np.array([1, 2]), np.zeros((2, 3))], GOOD_TOKENS), ValueError, r"inputs\[1\] has shape \(2, 3\)"),
    (([np.zeros(2), np.zeros(1)], GOOD_TOKENS), ValueError, r"inputs\[0\] .* add a feature axis"),
    (([np.array([1, 2]), np.array([], dtype=int)], GOOD_TOKENS), ValueError, r"inputs\[1\] has shape \(0,\)"),
    (([np.array([1, -2])], [np.array([1, 2])]), ValueError, r"inputs\[0\] holds -2; expected tokens >= 0"),
    ((GOOD_TOKENS, [np.array([1, -3]), np.array([0])]), ValueError, r"targets\[0\] holds -3"),
    (([np.array([[np.nan]])], [np.zeros((1, 1))]), ValueError, r"inputs\[0\] holds non-finite values"),
    ((GOOD_TOKENS, [np.zeros((2, 1)), np.array([1])]), ValueError, r"targets\[1\] has shape \(1,\)"),
    (("abc", GOOD_TOKENS), TypeError, "inputs is str"),
]


@pytest.mark.parametrize("args,error,match", BAD_DATASETS)
def test_bad_sequence_datasets(args, error, match):
    with pytest.raises(error, match=match):
        SequenceDataset(*args)


def test_bad_many_to_one_labels():
    with pytest.raises(TypeError, match="only class labels .* mean-squared loss has no per-step mask"):
        SequenceDataset(GOOD_TOKENS, [0.5, 1.5], many_to_one=True)
    with pytest.raises(ValueError, match=r"targets has shape \(3,\); expected \(2,\)"):
        SequenceDataset(GOOD_TOKENS, [0, 1, 2], many_to_one=True)
    with pytest.raises(ValueError, match="targets holds -100; expected class labels >= 0"):
        SequenceDataset(GOOD_TOKENS, [0, -100], many_to_one=True)
    with pytest.raises(TypeError, match="many_to_one is 1"):
        SequenceDataset(GOOD_TOKENS, [0, 1], many_to_one=1)
    ds = SequenceDataset(GOOD_TOKENS, [0, 1], many_to_one=True)
    with pytest.raises(ValueError, match="batch_size is 0"):
        ds.batches(0)
    with pytest.raises(ValueError, match="seed is -1"):
        ds.batches(2, seed=-1)


def test_sequence_batches_train_the_model(rng):
    inputs = [rng.normal(size=(t, 3)) for t in (5, 2, 7, 4)]
    targets = [rng.normal(size=(t, 2)) for t in (5, 2, 7, 4)]
    model = elman.RNN(3, 8, 2, seed=0, dtype="float64")
    for batch in SequenceDataset(inputs, targets).batches(3, seed=0):
        loss, _, h_n = model.loss_and_grad(batch.x, batch.target, lengths=batch.lengths)
        assert np.isfinite(loss) and h_n.shape == (1, len(batch.lengths), 8)

    tokens = [rng.integers(0, 6, size=t) for t in (5, 2, 7, 4)]
    classifier = elman.RNN(6, 8, 3, seed=0)
    for batch in SequenceDataset(tokens, [0, 2, 1, 2], many_to_one=True).batches(2, seed=0):
        loss, _, _ = classifier.loss_and_grad(batch.x, batch.target, loss="cross_entropy", lengths=batch.lengths)
        assert np.isfinite(loss)


# --------------------------------------------------------------------------------------- time series


def test_time_series_normalizer_is_fitted_on_the_training_part_only():
    train_part = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0], [7.0, 10.0]])
    val_part = np.array([[1000.0, -50.0], [2000.0, 70.0]])
    ts = TimeSeries(np.concatenate([train_part, val_part]), val_fraction=1 / 3)
    np.testing.assert_array_equal(ts.normalizer.mean, [4.0, 10.0])
    np.testing.assert_array_equal(ts.normalizer.std, [np.sqrt(5.0), 1.0])  # constant column: std 1
    np.testing.assert_allclose(ts.train[:, 0], (train_part[:, 0] - 4.0) / np.sqrt(5.0))
    np.testing.assert_array_equal(ts.train[:, 1], 0.0)
    np.testing.assert_allclose(ts.val, [[996.0 / np.sqrt(5.0), -60.0], [1996.0 / np.sqrt(5.0), 60.0]])
    np.testing.assert_allclose(ts.normalizer.inverse_transform(ts.val), val_part)


def test_normalizer_round_trips_through_json():
    rng = np.random.default_rng(0)
    fitted = Normalizer().fit(rng.normal(3.0, 2.0, size=(50, 3)))
    restored = Normalizer.from_dict(json.loads(json.dumps(fitted.to_dict())))
    np.testing.assert_array_equal(restored.mean, fitted.mean)
    np.testing.assert_array_equal(restored.std, fitted.std)
    y = rng.normal(size=(4, 2, 3))  # model outputs (T, B, F)
    np.testing.assert_array_equal(restored.inverse_transform(y), fitted.inverse_transform(y))
    np.testing.assert_allclose(fitted.transform(fitted.inverse_transform(y)), y)
    scalar = Normalizer().fit([1.0, 2.0, 3.0])
    assert Normalizer.from_dict(json.loads(json.dumps(scalar.to_dict()))).mean == 2.0


def test_normalizer_errors():
    with pytest.raises(ValueError, match="not fitted"):
        Normalizer().transform([1.0])
    fitted = Normalizer().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"a has shape \(3, 3\); expected \(..., 2\)"):
        fitted.transform(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="train holds non-finite values"):
        Normalizer().fit([1.0, np.inf])
    with pytest.raises(ValueError, match="std > 0"):
        Normalizer.from_dict({"mean": [0.0], "std": [0.0]})


def write_csv(tmp_path, text):
    path = tmp_path / "series.csv"
    path.write_text(text)
    return path


def test_read_csv_column(tmp_path):
    path = write_csv(tmp_path, "date,temp,rain\n2024-01-01,1.5,0\n2024-01-02,-2,3e-1\n\n2024-01-03, 4 ,1\n")
    values = read_csv_column(path, "temp")
    assert values.dtype == np.float64
    np.testing.assert_array_equal(values, [1.5, -2.0, 4.0])
    np.testing.assert_array_equal(read_csv_column(path, "rain"), [0.0, 0.3, 1.0])


@pytest.mark.parametrize(
    "text,column,error,match",
    [
        ("a,b\n1,2\n3,4\n", "c", ValueError, r"column is 'c', which .* does not have; expected one of \['a', 'b'\]"),
        ("a,b\n1,2\n3,x\n5,6\n", "b", ValueError, r"row 2 \(line 3\), column 'b', holds 'x'"),
        ("a,b\n1,2\n3,nan\n", "b", ValueError, r"row 2 \(line 3\), column 'b', holds 'nan'"),
        ("a,b\n1,2\n3\n", "b", ValueError, r"row 2 \(line 3\), column 'b', holds ''"),
        ("a,b\n1,2\n", "a", ValueError, "has 1 rows of data; expected at least 2"),
        ("", "a", ValueError, "is empty; expected a CSV file with a header row"),
        ("a,b\n1,2\n3,4\n", 0, TypeError, "column is 0"),
    ],
)
def test_read_csv_column_errors(tmp_path, text, column, error, match):
    with pytest.raises(error, match=match):
        read_csv_column(write_csv(tmp_path, text), column)


def test_read_csv_column_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_csv_column(tmp_path / "nope.csv", "a")


def loop_windows(series, window, stride):
    series = np.asarray(series, dtype=np.float64).reshape(len(series), -1)
    xs, ys = [], []
    start = 0
    while start + window + 1 <= len(series):
        xs.append(series[start : start + window])
        ys.append(series[start + 1 : start + window + 1])
        start += stride
    return np.stack(xs, axis=1), np.stack(ys, axis=1)


@pytest.mark.parametrize("shape", [(20,), (20, 3), (6, 1)])
@pytest.mark.parametrize("window,stride", [(1, 1), (5, 1), (5, 3), (5, 14)])
def test_windows_match_a_plain_loop(shape, window, stride):
    series = np.random.default_rng(0).normal(size=shape)
    x, y = windows(series, window, stride)
    ex, ey = loop_windows(series, window, stride)
    assert x.shape == y.shape == (window, (shape[0] - 1 - window) // stride + 1, ex.shape[2])
    np.testing.assert_array_equal(x, ex)
    np.testing.assert_array_equal(y, ey)
    assert x.flags.c_contiguous and y.flags.c_contiguous


def test_windows_errors():
    with pytest.raises(ValueError, match=r"series has 5 steps; expected at least window \+ 1 = 6"):
        windows(np.zeros(5), 5)
    with pytest.raises(ValueError, match="stride is 0"):
        windows(np.zeros(10), 3, stride=0)
    with pytest.raises(ValueError, match=r"series has shape \(2, 2, 2\)"):
        windows(np.zeros((2, 2, 2)), 1)
    with pytest.raises(ValueError, match="the validation part has 2 steps"):
        TimeSeries(np.arange(10.0), val_fraction=0.2).val_windows(4)


def test_time_series_windows_train_the_model():
    t = np.arange(200, dtype=np.float64)
    series = np.stack([np.sin(0.1 * t), np.cos(0.05 * t) * 3 + 1], axis=1)
    ts = TimeSeries(series, val_fraction=0.2)
    x, y = ts.train_windows(window=20, stride=5)
    assert x.shape == y.shape == (20, (160 - 21) // 5 + 1, 2)
    model = elman.RNN(2, 8, 2, seed=0, dtype="float64")
    loss, _, _ = model.loss_and_grad(x, y)
    assert np.isfinite(loss)
    vx, vy = ts.val_windows(window=20)
    y_pred, _ = model.forward(vx)
    assert ts.normalizer.inverse_transform(y_pred).shape == vy.shape == (20, 20, 2)


# ------------------------------------------------------------------------------------- one batch type


def test_every_source_gives_the_one_batch_type():
    text = TextBatches(np.arange(50) % 7, batch_size=2, seq_len=4)
    ds = SequenceDataset([np.array([1, 2]), np.array([3])], [0, 1], many_to_one=True)
    x, target = windows(np.arange(30.0), 5)
    for batch, reset in [
        (next(text), True),
        (next(text), False),
        (next(iter(text.one_pass())), True),
        (next(ds.batches(2)), None),
        (next(Loader(ds, batch_size=2)), None),
        (next(Loader((x, target), batch_size=4)), None),
        (next(Loader((x, target), batch_size=4).one_pass()), None),
    ]:
        assert type(batch) is Batch and batch.reset is reset and batch.stream == (reset is not None)
        assert batch.x.shape[:2] == batch.target.shape[:2]


def test_as_batch_takes_tuples():
    x, target, lengths = np.zeros((3, 2, 1)), np.ones((3, 2, 1)), np.array([3, 1])
    batch = Batch(x, target)
    assert as_batch(batch) is batch and batch.lengths is None and batch.reset is None
    pair, triple = as_batch((x, target)), as_batch((x, target, lengths))
    assert pair.x is x and pair.target is target and pair.lengths is None
    assert triple.lengths is lengths and triple.reset is None
    with pytest.raises(
        TypeError, match=r"item is a tuple of 1 items; expected an elman.data.Batch or a tuple \(x, target\)"
    ):
        as_batch((x,), "item")
    with pytest.raises(TypeError, match="batch is of type list; expected"):
        as_batch([x, target])


def test_loader_counts_epochs_like_text_batches():
    loader = Loader((np.zeros((4, 10, 1)), np.zeros((4, 10, 1))), batch_size=4)  # 3 batches per epoch
    text = TextBatches(np.arange(50), batch_size=2, seq_len=4)  # 5 batches per epoch
    for source in (loader, text):
        epochs = []
        for _ in range(2 * source.steps_per_epoch + 1):
            next(source)
            epochs.append(source.epoch)
        per = source.steps_per_epoch
        assert epochs == [0] * per + [1] * per + [2]
