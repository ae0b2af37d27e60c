"""The `elman` command line, run in-process (and once as a real subprocess)."""

import argparse
import subprocess
import sys

import numpy as np
import pytest
import safetensors.numpy

import elman
from elman import sampling
from elman.cli import main

SMALL = ["--steps", "30", "--hidden", "24", "--seq-len", "12", "--batch", "4", "--val-every", "10", "--no-progress"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("To be, or not to be, that is the question.\n" * 60)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_then_sample(tmp_path, corpus, capsys):
    model = tmp_path / "m.safetensors"
    code, out, err = run(
        capsys, "train", corpus, "--out", model, *SMALL, "--plot", tmp_path / "p.png", "--history", tmp_path / "h.json"
    )
    assert code == 0, err
    assert "validation" in out and "nats/char" in out and "grad flow" in out and "sample:" in out
    m = elman.load(model)
    vocab = elman.data.Vocabulary.from_json(m.metadata["vocabulary"])
    assert set(vocab.chars) == set(corpus.read_text())
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    code, first, _ = run(capsys, "sample", model, "--prime", "To be", "--length", "40", "--seed", "3")
    assert code == 0 and first.startswith("To be") and len(first.rstrip("\n")) == 45
    code, again, _ = run(capsys, "sample", model, "--prime", "To be", "--length", "40", "--seed", "3")
    assert again == first

    # Each character's rank among the model's outputs, recomputed by a whole forward pass over the text
    # so far (no state carried from step to step, unlike the sampler).
    def ranks(text):
        ids = vocab.encode(text)
        y, _ = m.forward(ids[:-1, None])
        logits = y[len("To be") - 1 :, 0]
        order = np.argsort(-logits, axis=1, kind="stable")
        return [int(np.nonzero(order[i] == c)[0][0]) for i, c in enumerate(ids[len("To be") :])]

    code, greedy, _ = run(capsys, "sample", model, "--prime", "To be", "--length", "40", "--top-k", "1")
    assert code == 0 and ranks(greedy.rstrip("\n")) == [0] * 40
    code, cold, _ = run(capsys, "sample", model, "--prime", "To be", "--length", "40", "--temperature", "0")
    assert cold == greedy
    for seed in ("3", "4"):
        code, top3, _ = run(
            capsys, "sample", model, "--prime", "To be", "--length", "40", "--seed", seed, "--top-k", "3"
        )
        assert code == 0 and max(ranks(top3.rstrip("\n"))) <= 2
    # top-p so small that only the likeliest character reaches it: greedy again
    code, nucleus, _ = run(capsys, "sample", model, "--prime", "To be", "--length", "40", "--top-p", "1e-9")
    assert code == 0 and nucleus == greedy
    code, several, _ = run(
        capsys, "sample", model, "--prime", "To be", "--length", "30", "--num-samples", "3", "--seed", "5"
    )
    texts = sampling.sample_texts(m, "To be", 30, num_samples=3, temperature=0.8, seed=5)
    assert code == 0 and several == "\n\n".join("To be" + t for t in texts) + "\n" and len(set(texts)) == 3
    assert first == "To be" + sampling.sample_text(m, "To be", 40, temperature=0.8, seed=3) + "\n"
    code, out, _ = run(capsys, "plot", tmp_path / "h.json", "--out", tmp_path / "again.png")
    assert code == 0 and (tmp_path / "again.png").exists()


def test_resume_ends_bit_identical(tmp_path, corpus, capsys):
    whole, part = tmp_path / "whole.safetensors", tmp_path / "part.safetensors"
    args = [
        "--hidden",
        "24",
        "--seq-len",
        "12",
        "--batch",
        "4",
        "--val-every",
        "10",
        "--no-progress",
        "--dropout",
        "0.1",
        "--layers",
        "2",
    ]
    assert run(capsys, "train", corpus, "--out", whole, "--steps", "40", *args)[0] == 0
    ckpt = tmp_path / "run.ckpt"
    assert run(capsys, "train", corpus, "--out", part, "--steps", "20", "--checkpoint", ckpt, *args)[0] == 0
    code, out, err = run(capsys, "train", "--resume", ckpt, "--steps", "40", "--out", part, "--no-progress")
    assert code == 0, err
    assert "resumed" in out and "at step 20" in out
    code, out, err = run(capsys, "train", "--resume", ckpt, "--steps", "40", "--hidden", "128", "--no-progress")
    assert code == 2 and err.count("\n") == 1
    assert "--hidden is 128 but the run in --resume" in err and "has --hidden 24" in err
    code, out, err = run(
        capsys, "train", "--resume", ckpt, "--steps", "40", "--layers", "2", "--no-progress", "--out", part
    )
    assert code == 0, err  # a setting equal to the checkpoint's is no conflict
    a, b = safetensors.numpy.load_file(whole), safetensors.numpy.load_file(part)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name


def test_forecast(tmp_path, capsys):
    """A CSV with a date column forecasts past its end with intervals; the model file then forecasts
    the same data without training, to the same numbers."""
    t = np.arange(150)
    values = 10 + 0.2 * t + 3 * np.sin(2 * np.pi * t / 12) + 0.2 * np.random.default_rng(0).normal(size=t.size)
    dates = [f"{2000 + i // 12}-{i % 12 + 1:02d}-01" for i in t]
    csv_path = tmp_path / "series.csv"
    csv_path.write_text("month,value\n" + "".join(f"{d},{v:.6f}\n" for d, v in zip(dates, values)))
    out_csv, png, model = tmp_path / "f.csv", tmp_path / "f.png", tmp_path / "f.safetensors"
    common = ["forecast", csv_path, "--column", "value", "--horizon", "6", "--out", out_csv, "--model", model]
    code, out, err = run(
        capsys, *common, "--steps", "200", "--hidden", "12", "--plot", png, "--backtest", "--no-progress"
    )
    assert code == 0, err
    assert "seasonal_naive_rmse" in out and model.is_file()
    rows = out_csv.read_text().splitlines()
    assert rows[0] == "month,forecast,lower,upper" and len(rows) == 1 + 6
    assert rows[1].startswith("2012-07-01") and rows[-1].startswith("2012-12-01")
    first = [float(v) for v in rows[1].split(",")[1:]]
    assert first[1] < first[0] < first[2] and first[0] > values.max() - 3
    assert png.read_bytes()[:4] == b"\x89PNG"
    code, out, err = run(capsys, *common)
    assert code == 0 and "without training" in out, err
    assert out_csv.read_text().splitlines() == rows


def test_forecast_covariates_need_future_rows(tmp_path, capsys):
    csv_path = tmp_path / "x.csv"
    csv_path.write_text("t,y,x\n" + "".join(f"{i},{i % 7},{i % 3}\n" for i in range(80)))
    code, _, err = run(capsys, "forecast", csv_path, "--column", "y", "--covariates", "x", "--horizon", "4")
    assert code == 2 and "CSV has 0 rows after the last value of 'y'; expected 4" in err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "/no/such/file.txt"], "TEXT '/no/such/file.txt' does not exist"),
        (["train", "{one}"], "holds 40 characters of 1 kinds"),
        (["train", "{short}"], "expected at least"),
        (
            ["train", "{two}"],
            "TEXT has 2 characters; expected at least 2224 for --batch 32, --seq-len 64 and --val-fraction",
        ),
        (["train", "{short}", "--val-fraction", "0.01"], "--val-fraction 0.01"),
        (["sample", "{mismatched}"], "vocab has 3 characters but the model has input_size 5 and output_size 5"),
        (
            ["plot", "{mismatched}"],
            "is not text (byte 0 is not UTF-8); expected a JSON history written by `elman train",
        ),
        (["train", "--steps", "0"], "argument --steps: 0 is not a positive integer"),
        (["train", "--lr", "fast"], "argument --lr: 'fast' is not a number"),
        (["train", "--lr", "nan"], "argument --lr: nan is not a positive finite number"),
        (["train", "--resume", "/no/such.ckpt"], "--resume '/no/such.ckpt' does not exist"),
        (["sample", "/no/model.safetensors"], "MODEL '/no/model.safetensors' does not exist"),
        (["sample", "{notes}"], "is not a readable safetensors file"),
        (["forecast", "{csv}", "--column", "nope", "--horizon", "3"], "'nope'"),
        (["forecast", "{csv}", "--column", "name", "--horizon", "3"], "name"),
        (["forecast", "/no/data.csv", "--column", "x", "--horizon", "3"], "/no/data.csv"),
        (["forecast", "{csv}", "--column", "x"], "the following arguments are required: --horizon"),
        (["plot", "{notes}"], "is not JSON"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path, capsys, argv, message):
    (tmp_path / "one.txt").write_text("a" * 40)
    (tmp_path / "short.txt").write_text("ab" * 20)
    (tmp_path / "notes.txt").write_text("not a model")
    (tmp_path / "data.csv").write_text("name,value\nalpha,1\nbeta,2\ngamma,3\n")
    (tmp_path / "two.txt").write_text("ab")
    wrong = elman.RNN(5, 4, 5, seed=0)
    wrong.save(tmp_path / "mismatched.safetensors", metadata={"vocabulary": elman.data.Vocabulary("abc").to_json()})
    names = {
        "one": "one.txt",
        "short": "short.txt",
        "notes": "notes.txt",
        "csv": "data.csv",
        "two": "two.txt",
        "mismatched": "mismatched.safetensors",
    }
    argv = [a.format(**{k: tmp_path / v for k, v in names.items()}) for a in argv]
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert message in lines[0], lines[0]


def test_every_option_shows_its_default_once():
    from elman.cli import parser

    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, command in commands.items():
        formatter = command._get_formatter()
        for action in command._actions:
            positional = not action.option_strings and action.nargs != "?"
            if action.default == argparse.SUPPRESS or action.required or positional:
                continue
            text = formatter._expand_help(action) if action.help else ""
            where = f"elman {name} {'/'.join(action.option_strings) or action.metavar}: {text!r}"
            assert text.count("(default: ") == 1 and "(default: None)" not in text, where
            if action.default is not None:
                assert f"(default: {action.default})" in text, where
    out = subprocess.run(
        [sys.executable, "-m", "elman", "sample", "--help"], capture_output=True, text=True, check=True
    )
    assert "(default: 0.8)" in out.stdout and "(default: None)" not in out.stdout


def test_help_shows_defaults_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "elman", "train", "--help"], capture_output=True, text=True, check=True)
    assert "(default: 3000)" in out.stdout and "--resume" in out.stdout
    for command in ("sample", "forecast", "plot"):
        subprocess.run([sys.executable, "-m", "elman", command, "--help"], capture_output=True, check=True)
    version = subprocess.run([sys.executable, "-m", "elman", "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"elman {elman.__version__}"
