"""The Trainer: it learns, validates, stops early, schedules, logs, and resumes bit for bit."""

import csv
import json
import math

import numpy as np
import pytest

import elman
from elman import data, optim


def sine_windows(n=2000, window=30):
    t = np.arange(n) * 0.2
    series = np.sin(t) + 0.5 * np.sin(0.31 * t)
    return data.TimeSeries(series, val_fraction=0.25)


def test_learns_next_step_of_a_sine_wave():
    ts = sine_windows()
    train = data.Loader(ts.train_windows(30, stride=3), batch_size=32, seed=0)
    val = data.Loader(ts.val_windows(30, stride=3), batch_size=64, shuffle=False)
    m = elman.RNN(1, 32, 1, seed=0)
    trainer = elman.Trainer(m, optim.Adam(m, lr=0.01), clip_norm=1.0, val_every=100, progress=False)
    before = trainer.evaluate(val)
    trainer.fit(train, 400, val)
    after = trainer.history[-1]["val_loss"]
    assert before > 0.1 and after < 0.01, (before, after)  # mean squared error in normalized units


def test_learns_a_character_pattern():
    text = "the cat sat on the mat. " * 200
    vocab = data.Vocabulary.from_text(text, unknown=None)
    train_tokens, val_tokens = data.split(vocab.encode(text), 0.2)
    train = data.TextBatches(train_tokens, batch_size=8, seq_len=16)
    val = data.TextBatches(val_tokens, batch_size=4, seq_len=16)
    m = elman.RNN(vocab.size, 64, vocab.size, seed=1)
    trainer = elman.Trainer(
        m, optim.Adam(m, lr=0.01), loss="cross_entropy", clip_norm=5.0, val_every=150, progress=False
    )
    trainer.fit(train, 300, val)
    # The pattern is deterministic but for where a window starts: a few tenths of a nat at most.
    assert trainer.history[-1]["val_loss"] < 0.3, trainer.history[-1]
    assert trainer.history[0]["loss"] > 1.0  # the first ten steps, from ln(12) = 2.5 at the start


def make_run(seed=3):
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 11, size=3000)
    stream = data.TextBatches(tokens, batch_size=4, seq_len=12)
    m = elman.RNN(11, 24, 11, num_layers=2, dropout=0.3, seed=seed)
    opt = optim.Adam(m, lr=0.005)
    trainer = elman.Trainer(
        m,
        opt,
        loss="cross_entropy",
        clip_value=1.0,
        clip_norm=2.0,
        schedule=elman.Warmup(5, elman.Cosine(40)),
        progress=False,
        log_every=5,
    )
    return m, stream, trainer


def test_resume_is_bit_identical(tmp_path):
    m, stream, trainer = make_run()
    trainer.fit(stream, 40)
    expected = m.params.flat.copy()

    m2, stream2, trainer2 = make_run()
    path = tmp_path / "run.ckpt"
    trainer2.fit(stream2, 17, checkpoint=path)
    del m2, stream2, trainer2

    m3, stream3, trainer3 = make_run()
    trainer3.load_checkpoint(path, stream3)
    assert trainer3.step == 17
    trainer3.fit(stream3, 40)
    assert m3.params.flat.tobytes() == expected.tobytes()

    # Records of whole windows before the stop are identical too (the stop itself logs a short window).
    def losses(history):
        return [(r["step"], r["loss"], r["lr"]) for r in history]

    assert losses(trainer3.history[:3]) == losses(trainer.history[:3])
    assert losses(trainer3.history[-1:]) == losses(trainer.history[-1:])


def test_checkpoint_for_another_model_is_refused(tmp_path):
    m, stream, trainer = make_run()
    trainer.fit(stream, 3, checkpoint=tmp_path / "a.ckpt")
    _, stream2, other = make_run(seed=4)
    with pytest.raises(ValueError, match="was saved for a model with config"):
        other.load_checkpoint(tmp_path / "a.ckpt", stream2)


def test_early_stopping_restores_the_best_weights():
    ts = sine_windows(600)
    train = data.Loader(ts.train_windows(20), batch_size=16, seed=0)
    val = data.Loader(ts.val_windows(20), batch_size=64, shuffle=False)
    m = elman.RNN(1, 16, 1, seed=0)
    # With a min_delta this large no validation after the first counts as better, so training stops
    # at the second one and goes back to the weights of the first.
    trainer = elman.Trainer(m, optim.SGD(m, lr=0.05), val_every=5, patience=1, min_delta=1e9, progress=False)
    trainer.fit(train, 10_000, val)
    assert trainer.step == 10
    assert [r["step"] for r in trainer.history if "val_loss" in r] == [5, 10]
    first = trainer.history[0]["val_loss"]
    assert trainer.best_val == first and trainer.history[1]["val_loss"] != first
    assert math.isclose(trainer.evaluate(val), first, rel_tol=1e-6)


def test_non_finite_loss_stops_with_the_last_good_weights():
    m = elman.RNN(1, 4, 1, dtype="float64", seed=0)
    initial = m.params.flat.copy()
    x = np.zeros((5, 2, 1))
    batches = [data.Batch(x, np.ones((5, 2, 1))), data.Batch(x, np.full((5, 2, 1), 1e200))]
    snapshots = []  # the weights after each step, taken before the next one runs
    trainer = elman.Trainer(
        m,
        optim.SGD(m, lr=0.1),
        progress=False,
        log_every=1,
        callbacks=[lambda t, record: snapshots.append(t.model.params.flat.copy())],
    )
    with pytest.raises(elman.NonFiniteError, match="step 2"):
        trainer.fit(batches, 2)
    assert trainer.step == 1 and len(snapshots) == 1
    assert not np.array_equal(snapshots[0], initial)  # step 1 did move the weights
    np.testing.assert_array_equal(m.params.flat, snapshots[0])


def test_schedules():
    assert elman.StepDecay(10, 0.5)(25, 1.0) == 0.25
    cosine = elman.Cosine(100, min_lr=0.1)
    assert cosine(0, 1.0) == 1.0 and math.isclose(cosine(50, 1.0), 0.55) and cosine(200, 1.0) == 0.1
    warm = elman.Warmup(4, elman.StepDecay(2, 0.1))
    np.testing.assert_allclose([warm(s, 1.0) for s in range(8)], [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 0.1, 0.1])


def test_schedule_sets_the_optimizer_learning_rate():
    m, stream, trainer = make_run()
    seen = []
    trainer.callbacks.append(lambda t, record: seen.append(record["lr"]))
    trainer.log_every = 1
    trainer.fit(stream, 8)
    expected = [elman.Warmup(5, elman.Cosine(40))(s, 0.005) for s in range(8)]
    np.testing.assert_allclose(seen, expected, rtol=1e-12)


def test_callbacks_can_stop_and_history_exports(tmp_path):
    m, stream, trainer = make_run()
    trainer.callbacks.append(lambda t, record: t.stop() if record["step"] >= 10 else None)
    trainer.fit(stream, 100)
    assert trainer.step == 10
    trainer.history_csv(tmp_path / "h.csv")
    trainer.history_json(tmp_path / "h.json")
    with open(tmp_path / "h.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [5, 10]
    with open(tmp_path / "h.json") as f:
        assert json.load(f) == trainer.history
    assert set(trainer.history[0]) == {"step", "loss", "lr", "steps_per_s"}


def test_progress_bar_only_when_asked(capsys):
    m, stream, trainer = make_run()
    trainer.fit(stream, 5)
    assert capsys.readouterr().err == ""
    trainer.progress = True
    trainer.fit(stream, 10)
    err = capsys.readouterr().err
    assert "10/10" in err and "loss=" in err


def test_bad_trainer_arguments():
    m = elman.RNN(2, 3, 1)
    with pytest.raises(ValueError, match="optimizer must be"):
        elman.Trainer(m, optim.SGD(elman.RNN(2, 3, 1), lr=0.1))
    with pytest.raises(ValueError, match="loss is 'l1'"):
        elman.Trainer(m, optim.SGD(m, lr=0.1), loss="l1")
    with pytest.raises(TypeError, match="schedule is 3"):
        elman.Trainer(m, optim.SGD(m, lr=0.1), schedule=3)
    with pytest.raises(ValueError, match="checkpoint_every is set but checkpoint is None"):
        elman.Trainer(m, optim.SGD(m, lr=0.1)).fit(iter([]), 5, checkpoint_every=2)


# ------------------------------------------------------------------------- what fit and evaluate take


def mse_batches(count=3, T=6, B=4, lengths=False):
    rng = np.random.default_rng(5)
    out = []
    for _ in range(count):
        x, target = rng.normal(size=(T, B, 2)), rng.normal(size=(T, B, 1))
        out.append((x, target, rng.integers(1, T + 1, size=B)) if lengths else (x, target))
    return out


def by_hand(items, steps, seed=0):
    """The weights after `steps` train_step calls over `items` in order, cycled: what fit must do."""
    m = elman.RNN(2, 5, 1, dtype="float64", seed=seed)
    opt = optim.SGD(m, lr=0.1)
    for i in range(steps):
        x, target, *lengths = items[i % len(items)]
        m.train_step(x, target, opt, lengths=lengths[0] if lengths else None)
    return m.params.flat.copy()


def trainer_for(seed=0):
    m = elman.RNN(2, 5, 1, dtype="float64", seed=seed)
    return m, elman.Trainer(m, optim.SGD(m, lr=0.1), progress=False)


@pytest.mark.parametrize("lengths", [False, True])
def test_fit_cycles_a_list_of_tuples_or_batches(lengths):
    items = mse_batches(lengths=lengths)
    expected = by_hand(items, 7)
    for train in (items, [data.Batch(*item) for item in items]):
        m, trainer = trainer_for()
        trainer.fit(train, 7)
        assert trainer.step == 7
        np.testing.assert_array_equal(m.params.flat, expected)


def test_fit_takes_a_generator_of_tuples():
    items = mse_batches(4, lengths=True)
    m, trainer = trainer_for()
    trainer.fit((item for item in items), 4)
    np.testing.assert_array_equal(m.params.flat, by_hand(items, 4))


def test_fit_stops_with_a_warning_when_a_finite_iterator_runs_out():
    items = mse_batches(3)
    m, trainer = trainer_for()
    trainer.val_every = 2
    with pytest.warns(UserWarning, match="train ran out of batches at step 3 of 10; training stopped there"):
        trainer.fit(iter(items), 10, val=items)
    assert trainer.step == 3
    np.testing.assert_array_equal(m.params.flat, by_hand(items, 3))
    assert [r["step"] for r in trainer.history] == [2, 3]  # the steps after the last record are recorded
    assert "val_loss" in trainer.history[-1]


def test_a_list_of_stream_batches_carries_the_state_like_the_stream():
    tokens = np.random.default_rng(0).integers(0, 7, size=400)
    stream = data.TextBatches(tokens, batch_size=3, seq_len=10)
    epoch = list(stream.one_pass())
    assert epoch[0].reset is True and all(b.reset is False for b in epoch[1:])
    results = []
    for train in (stream, epoch):
        m = elman.RNN(7, 6, 7, seed=2)
        trainer = elman.Trainer(m, optim.Adam(m, lr=0.01), loss="cross_entropy", progress=False)
        trainer.fit(train, 2 * stream.steps_per_epoch)
        results.append((m.params.flat.copy(), trainer.evaluate(stream), trainer.evaluate(epoch)))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[0][2] == results[1][1]


@pytest.mark.parametrize(
    "train,error,match",
    [
        ([], ValueError, "train is an empty list; expected at least one batch"),
        (7, TypeError, "train is of type int; expected batches: a data.TextBatches or data.Loader, a list"),
        ("batches", TypeError, "train is of type str; expected batches"),
        (mse_batches(1)[0], TypeError, r"train is a tuple of arrays; expected batches: pass \[train\]"),
        ([mse_batches(1)[0], {"x": 1}], TypeError, r"train\[1\] is of type dict; expected an elman.data.Batch or a"),
        ([(1, 2, 3, 4)], TypeError, r"train\[0\] is a tuple of 4 items; expected"),
        (iter([np.zeros(3)]), TypeError, "train's batch 0 is of type ndarray; expected an elman.data.Batch"),
    ],
)
def test_fit_refuses_what_is_not_batches_before_training(train, error, match):
    m, trainer = trainer_for()
    before = m.params.flat.copy()
    with pytest.raises(error, match=match):
        trainer.fit(train, 3)
    assert trainer.step == 0
    np.testing.assert_array_equal(m.params.flat, before)


def test_fit_points_a_dataset_to_the_loader():
    ds = data.SequenceDataset([np.array([1, 2]), np.array([3])], [0, 1], many_to_one=True)
    m = elman.RNN(4, 3, 2)
    trainer = elman.Trainer(m, optim.SGD(m, lr=0.1), loss="cross_entropy", progress=False)
    with pytest.raises(
        TypeError, match=r"train is a SequenceDataset; expected batches: pass data.Loader\(train, batch_size"
    ):
        trainer.fit(ds, 3)
    trainer.fit(data.Loader(ds, batch_size=2), 3)  # the way it points to
    assert trainer.step == 3


def test_evaluate_takes_lists_generators_and_tuples_and_counts_valid_positions():
    items = mse_batches(3, lengths=True)
    m, trainer = trainer_for()
    total, count = 0.0, 0
    for x, target, lengths in items:  # independently: zero the padded steps, sum squares, count valid cells
        y, _ = m.forward(x)
        valid = (np.arange(x.shape[0])[:, None] < lengths)[:, :, None]
        total += float((((y - target) * valid) ** 2).sum())
        count += int(lengths.sum()) * target.shape[2]
    expected = total / count
    for val in (items, iter(items), [data.Batch(*item) for item in items], (item for item in items)):
        assert math.isclose(trainer.evaluate(val), expected, rel_tol=1e-12)
    with pytest.raises(ValueError, match="data is an empty list"):
        trainer.evaluate([])
    with pytest.raises(TypeError, match="data is of type float"):
        trainer.evaluate(1.5)
