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
    trainer = elman.Trainer(m, optim.Adam(m, lr=0.01), loss="cross_entropy", clip_norm=5.0, val_every=150,
                            progress=False)  # fmt: skip
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
    trainer = elman.Trainer(m, opt, loss="cross_entropy", clip_value=1.0, clip_norm=2.0,
                            schedule=elman.Warmup(5, elman.Cosine(40)), progress=False, log_every=5)  # fmt: skip
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
    x = np.zeros((5, 2, 1))
    batches = iter([data.Batch(x, np.zeros((5, 2, 1)), None), data.Batch(x, np.full((5, 2, 1), 1e200), None)])
    trainer = elman.Trainer(m, optim.SGD(m, lr=0.1), progress=False)
    with pytest.raises(elman.NonFiniteError, match="step 2"):
        trainer.fit(batches, 2)
    good = m.params.flat.copy()
    assert trainer.step == 1
    np.testing.assert_array_equal(m.params.flat, good)


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
    rows = list(csv.DictReader(open(tmp_path / "h.csv")))
    assert [int(r["step"]) for r in rows] == [5, 10]
    assert json.load(open(tmp_path / "h.json")) == trainer.history
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
