"""The `elman` command line, run in-process (and once as a real subprocess)."""

import subprocess
import sys

import numpy as np
import pytest
import safetensors.numpy

import elman
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
    code, out, err = run(capsys, "train", corpus, "--out", model, *SMALL, "--plot", tmp_path / "p.png",
                         "--history", tmp_path / "h.json")  # fmt: skip
    assert code == 0, err
    assert "validation" in out and "nats/char" in out and "grad flow" in out and "sample:" in out
    m = elman.load(model)
    vocab = elman.data.Vocabulary.from_json(m.metadata["vocabulary"])
    assert set(vocab.chars) == set(corpus.read_text())
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    code, first, _ = run(capsys, "sample", model, "--prime", "To be", "--length", "40", "--seed", "3")
    assert code == 0 and first.startswith("To be") and len(first.rstrip("\n")) == 45
    code, second, _ = run(capsys, "sample", model, "--prime", "To be", "--length", "40", "--seed", "3", "--top-k", "3")
    assert code == 0
    code, again, _ = run(capsys, "sample", model, "--prime", "To be", "--length", "40", "--seed", "3")
    assert again == first
    code, out, _ = run(capsys, "plot", tmp_path / "h.json", "--out", tmp_path / "again.png")
    assert code == 0 and (tmp_path / "again.png").exists()


def test_resume_ends_bit_identical(tmp_path, corpus, capsys):
    whole, part = tmp_path / "whole.safetensors", tmp_path / "part.safetensors"
    args = ["--hidden", "24", "--seq-len", "12", "--batch", "4", "--val-every", "10", "--no-progress", "--dropout", "0.1",
            "--layers", "2"]  # fmt: skip
    assert run(capsys, "train", corpus, "--out", whole, "--steps", "40", *args)[0] == 0
    ckpt = tmp_path / "run.ckpt"
    assert run(capsys, "train", corpus, "--out", part, "--steps", "20", "--checkpoint", ckpt, *args)[0] == 0
    code, out, err = run(capsys, "train", "--resume", ckpt, "--steps", "40", "--out", part, "--no-progress")
    assert code == 0, err
    assert "resumed" in out and "at step 20" in out
    a, b = safetensors.numpy.load_file(whole), safetensors.numpy.load_file(part)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name


def test_forecast(tmp_path, capsys):
    t = np.arange(700)
    values = np.sin(t * 0.13) + 0.3 * np.sin(t * 0.031)
    csv_path = tmp_path / "series.csv"
    csv_path.write_text("time,value\n" + "".join(f"{i},{v:.6f}\n" for i, v in enumerate(values)))
    out_csv, png = tmp_path / "f.csv", tmp_path / "f.png"
    code, out, err = run(capsys, "forecast", csv_path, "--column", "value", "--window", "30", "--steps", "300",
                         "--out", out_csv, "--plot", png, "--no-progress")  # fmt: skip
    assert code == 0, err
    line = next(l for l in out.splitlines() if l.startswith("test RMSE"))
    rmse, baseline = float(line.split()[2]), float(line.split()[5])
    assert rmse < baseline  # a smooth series: the model beats "tomorrow equals today"
    rows = out_csv.read_text().splitlines()
    assert rows[0] == "step,actual,forecast,persistence" and len(rows) == 1 + 140
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "/no/such/file.txt"], "TEXT '/no/such/file.txt' does not exist"),
        (["train", "{one}"], "holds 40 characters of 1 kinds"),
        (["train", "{short}"], "expected at least"),
        (["train", "--steps", "0"], "argument --steps: 0 is not a positive integer"),
        (["train", "--lr", "fast"], "argument --lr: 'fast' is not a number"),
        (["train", "--lr", "nan"], "argument --lr: nan is not a positive finite number"),
        (["train", "--resume", "/no/such.ckpt"], "--resume '/no/such.ckpt' does not exist"),
        (["sample", "/no/model.safetensors"], "MODEL '/no/model.safetensors' does not exist"),
        (["sample", "{notes}"], "is not a readable safetensors file"),
        (["forecast", "{csv}", "--column", "nope"], "'nope'"),
        (["forecast", "{csv}", "--column", "name"], "name"),
        (["forecast", "/no/data.csv", "--column", "x"], "/no/data.csv"),
        (["plot", "{notes}"], "is not JSON"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path, capsys, argv, message):
    (tmp_path / "one.txt").write_text("a" * 40)
    (tmp_path / "short.txt").write_text("ab" * 20)
    (tmp_path / "notes.txt").write_text("not a model")
    (tmp_path / "data.csv").write_text("name,value\nalpha,1\nbeta,2\ngamma,3\n")
    names = {"one": "one.txt", "short": "short.txt", "notes": "notes.txt", "csv": "data.csv"}
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


def test_help_shows_defaults_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "elman", "train", "--help"], capture_output=True, text=True, check=True)
    assert "(default: 3000)" in out.stdout and "--resume" in out.stdout
    for command in ("sample", "forecast", "plot"):
        subprocess.run([sys.executable, "-m", "elman", command, "--help"], capture_output=True, check=True)
    version = subprocess.run([sys.executable, "-m", "elman", "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"elman {elman.__version__}"
