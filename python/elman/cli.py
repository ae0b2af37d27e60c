"""The `elman` command line: train a character-level model, sample from it, forecast a CSV column,
plot a training history."""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from . import __version__, data, files, optim
from ._core import NonFiniteError
from .model import RNN
from .train import Cosine, Trainer

OPTIMIZERS: dict = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD, "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad}


class CommandError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with errors on one line (and a pointer to --help) instead of the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------------------------------------- train


def builtin_corpus() -> tuple[str, str]:
    """The standard library's documentation topics, which ship with every CPython (pydoc_data)."""
    from pydoc_data.topics import topics

    return "".join(topics[k] for k in sorted(topics)), "pydoc_data.topics"


def read_corpus(path: str | None) -> tuple[str, str]:
    if path is None:
        return builtin_corpus()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"TEXT {path!r} does not exist; expected a UTF-8 text file") from None
    except IsADirectoryError:
        raise CommandError(f"TEXT {path!r} is a folder; expected a UTF-8 text file") from None
    except UnicodeDecodeError as e:
        raise CommandError(f"TEXT {path!r} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    if len(set(text)) < 2:
        raise CommandError(f"TEXT {path!r} holds {len(text)} characters of {len(set(text))} kinds; expected a corpus "
                           "with at least two different characters")  # fmt: skip
    return text, os.path.abspath(path)


def train_settings(args) -> dict:
    """What a run depends on, kept in its checkpoint so --resume rebuilds the same run."""
    return {
        "text": args.text and os.path.abspath(args.text), "hidden": args.hidden, "layers": args.layers, "seq_len": args.seq_len,
        "batch": args.batch, "optimizer": args.optimizer, "lr": args.lr, "clip": args.clip, "seed": args.seed,
        "val_fraction": args.val_fraction, "val_every": args.val_every, "dropout": args.dropout, "dtype": args.dtype,
        "schedule": args.schedule,
    }  # fmt: skip


def writable(option: str, path) -> None:
    """Fails before any work when an output's folder does not exist (rather than after training)."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{option} {str(path)!r}: the folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise CommandError(f"{option} {str(path)!r} is a folder; expected a file name")


def cmd_train(args) -> int:
    for option in ("out", "checkpoint", "plot", "history"):
        writable(f"--{option}", getattr(args, option))
    if args.resume:
        if not os.path.isfile(args.resume):
            raise CommandError(f"--resume {args.resume!r} does not exist; expected a checkpoint written with --checkpoint")
        saved = Trainer.checkpoint_extra(args.resume)
        if not isinstance(saved, dict) or "settings" not in saved:
            raise CommandError(f"--resume {args.resume!r} was not written by `elman train --checkpoint`")
        for key, value in saved["settings"].items():
            setattr(args, key, value)
    text, source = read_corpus(args.text)
    vocab = data.Vocabulary.from_text(text, unknown=None)
    tokens = vocab.encode(text)
    train_tokens, val_tokens = data.split(tokens, args.val_fraction)
    needed = args.batch * (args.seq_len + 2)
    if len(train_tokens) < needed or len(val_tokens) < args.seq_len + 2:
        raise CommandError(f"TEXT has {len(tokens)} characters; expected at least {math.ceil(needed / (1 - args.val_fraction))} "
                           f"for --batch {args.batch} and --seq-len {args.seq_len} (or lower them)")  # fmt: skip
    train = data.TextBatches(train_tokens, args.batch, args.seq_len)
    val = data.TextBatches(val_tokens, max(1, min(args.batch, len(val_tokens) // (args.seq_len + 2))), args.seq_len)

    model = RNN(vocab.size, args.hidden, vocab.size, num_layers=args.layers, dropout=args.dropout, dtype=args.dtype,
                seed=args.seed)  # fmt: skip
    opt = OPTIMIZERS[args.optimizer](model, lr=args.lr)
    # A cosine schedule's horizon is --steps: its resume is exact only for the same --steps.
    schedule = Cosine(args.steps, args.lr / 10) if args.schedule == "cosine" else None
    trainer = Trainer(model, opt, loss="cross_entropy", clip_norm=args.clip, schedule=schedule,
                      val_every=args.val_every, progress=args.progress, log_every=10)  # fmt: skip
    if args.resume:
        trainer.load_checkpoint(args.resume, train)
        print(f"resumed {args.resume} at step {trainer.step} of {args.steps}")
    print(f"training on {source}: {len(tokens):,} characters, {vocab.size} kinds; "
          f"model {model.num_params:,} parameters (H={args.hidden}, L={args.layers})", flush=True)  # fmt: skip

    def report(t, record):
        if "val_loss" in record:
            print(f"step {record['step']:6d}  train {record['loss']:.3f}  validation {record['val_loss']:.3f} nats/char  "
                  f"| {t.flow_summary}", flush=True)  # fmt: skip

    trainer.callbacks.append(report)
    extra = {"settings": train_settings(args)}
    trainer.fit(train, args.steps, val, checkpoint=args.checkpoint, checkpoint_every=args.val_every if args.checkpoint else None,
                extra=extra)  # fmt: skip
    model.save(args.out, metadata={"vocabulary": vocab.to_json(), "corpus": source})
    print(f"wrote {args.out}")
    if args.history:
        trainer.history_json(args.history)
    if args.plot:
        from .plots import plot_training

        plot_training(trainer.history, args.plot, title=f"elman on {Path(source).name}")
        print(f"wrote {args.plot}")
    print("sample:")
    prime = default_prime(vocab)
    print(prime + generate(model, vocab, prime=prime, length=400, temperature=0.8, top_k=None, seed=args.seed))
    return 0


# ------------------------------------------------------------------------------------------ sample


def default_prime(vocab) -> str:
    """Where a sample starts unless told: "The " when the corpus has those letters, else its first character."""
    return "The " if set("The ") <= set(vocab.chars) else vocab.chars[0]


def generate(model: RNN, vocab, prime: str, length: int, temperature: float, top_k, seed, stream=None) -> str:
    """Characters drawn one at a time from the model's softmax, after feeding it `prime`."""
    rng = np.random.default_rng(seed)
    ids = vocab.encode(prime)
    if ids.size == 0:
        raise CommandError("--prime is empty; expected at least one character")
    y, h = model.forward(ids[:, None])
    logits = y[-1, 0].astype(np.float64)
    out = []
    for _ in range(length):
        z = logits / temperature
        if top_k is not None and top_k < z.size:
            z[np.argpartition(z, -top_k)[:-top_k]] = -np.inf
        p = np.exp(z - z.max())
        c = int(rng.choice(z.size, p=p / p.sum()))
        char = vocab.decode([c])
        out.append(char)
        if stream:
            stream.write(char)
            stream.flush()
        y, h = model.forward(np.array([[c]]), h)
        logits = y[0, 0].astype(np.float64)
    return "".join(out)


def load_language_model(path: str):
    if not os.path.isfile(path):
        raise CommandError(f"MODEL {path!r} does not exist; expected a file written by `elman train`")
    model = files.load_model(path)
    if "vocabulary" not in model.metadata:
        raise CommandError(f"MODEL {path!r} has no vocabulary in its metadata; expected a file written by `elman train`")
    return model, data.Vocabulary.from_json(model.metadata["vocabulary"])


def cmd_sample(args) -> int:
    model, vocab = load_language_model(args.model)
    if args.prime is None:
        args.prime = default_prime(vocab)
    unknown = sorted(set(args.prime) - set(vocab.chars))
    if unknown:
        raise CommandError(f"--prime holds characters the model never saw: {''.join(unknown)!r}")
    sys.stdout.write(args.prime)
    generate(model, vocab, args.prime, args.length, args.temperature, args.top_k, args.seed, stream=sys.stdout)
    sys.stdout.write("\n")
    return 0


# ---------------------------------------------------------------------------------------- forecast


def cmd_forecast(args) -> int:
    writable("--out", args.out)
    writable("--plot", args.plot)
    try:
        series = data.read_csv_column(args.csv, args.column)
    except (ValueError, FileNotFoundError) as e:
        raise CommandError(str(e)) from None
    needed = 2 * (args.window + 2)
    if series.size < needed / args.test_fraction:
        raise CommandError(f"CSV column {args.column!r} has {series.size} values; expected at least "
                           f"{math.ceil(needed / args.test_fraction)} for --window {args.window}")  # fmt: skip
    ts = data.TimeSeries(series, val_fraction=args.test_fraction)
    train = data.Loader(ts.train_windows(args.window), batch_size=args.batch, seed=args.seed)
    model = RNN(1, args.hidden, 1, seed=args.seed)
    trainer = Trainer(model, optim.Adam(model, lr=args.lr), clip_norm=1.0, progress=args.progress,
                      schedule=Cosine(args.steps, args.lr / 10))  # fmt: skip
    trainer.fit(train, args.steps)

    # One-step-ahead forecasts over the test part, the state running through the whole series.
    whole = ts.normalizer.transform(series.reshape(-1, 1))
    y, _ = model.forward(whole[:-1])  # prediction of value t+1 from values up to t
    split = ts.train.shape[0]
    forecast = ts.normalizer.inverse_transform(y[split - 1 :]).ravel()
    actual = series[split:]
    persistence = series[split - 1 : -1]
    rmse = float(np.sqrt(np.mean((forecast - actual) ** 2)))
    baseline = float(np.sqrt(np.mean((persistence - actual) ** 2)))
    print(f"test RMSE {rmse:.4g} (elman) vs {baseline:.4g} (persistence) over {actual.size} steps")
    rows = [{"step": split + i, "actual": a, "forecast": f, "persistence": p}
            for i, (a, f, p) in enumerate(zip(actual, forecast, persistence))]  # fmt: skip
    text = _csv_text(rows)
    files.atomic_write(args.out, text.encode())
    print(f"wrote {args.out}")
    if args.plot:
        from .plots import plot_forecast

        plot_forecast(actual, forecast, persistence, args.plot, title=f"{args.column}: RMSE {rmse:.3g} vs {baseline:.3g}")
        print(f"wrote {args.plot}")
    return 0


def _csv_text(rows: list[dict]) -> str:
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


# -------------------------------------------------------------------------------------------- plot


def cmd_plot(args) -> int:
    writable("--out", args.out)
    try:
        history = json.loads(Path(args.history).read_text())
    except FileNotFoundError:
        raise CommandError(f"HISTORY {args.history!r} does not exist; expected a JSON history (train --history)") from None
    except json.JSONDecodeError as e:
        raise CommandError(f"HISTORY {args.history!r} is not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(history, list) or not all(isinstance(r, dict) and "step" in r for r in history):
        raise CommandError(f"HISTORY {args.history!r} is not a training history; expected a list of records with 'step'")
    from .plots import plot_training

    try:
        plot_training(history, args.out)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise CommandError(f"HISTORY {args.history!r} holds a record that cannot be drawn ({type(e).__name__}: {e})") from None
    print(f"wrote {args.out}")
    return 0


# ------------------------------------------------------------------------------------------ parser


def _number(parse, kind: str, ok, expected: str):
    """An argparse type: `parse` the text, then check it with `ok`."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text} is not {expected}")
        return value

    return convert


_positive_int = _number(int, "an integer", lambda v: v >= 1, "a positive integer")
_seed = _number(int, "an integer", lambda v: v >= 0, "a non-negative integer")
_positive_float = _number(float, "a number", lambda v: v > 0 and math.isfinite(v), "a positive finite number")
_fraction = _number(float, "a number", lambda v: 0 < v < 1, "a fraction in (0, 1)")
_unit_interval = _number(float, "a number", lambda v: 0 <= v < 1, "in [0, 1)")


def parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = _Parser(prog="elman", description="Exact, fast Elman recurrent networks.", formatter_class=fmt)
    p.add_argument("--version", action="version", version=f"elman {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a character-level language model", formatter_class=fmt,
                       description="Train a character-level language model on TEXT (default: the Python "
                                   "documentation topics that ship with Python).")  # fmt: skip
    t.add_argument("text", nargs="?", metavar="TEXT", help="a UTF-8 text file (default: built-in corpus)")
    t.add_argument("--out", default="model.safetensors", help="where to write the model")
    t.add_argument("--steps", type=_positive_int, default=3000, help="total training steps")
    t.add_argument("--hidden", type=_positive_int, default=256, help="hidden units per layer")
    t.add_argument("--layers", type=_positive_int, default=1, help="stacked layers")
    t.add_argument("--seq-len", type=_positive_int, default=64, help="steps of truncated BPTT")
    t.add_argument("--batch", type=_positive_int, default=32, help="parallel streams")
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    t.add_argument("--lr", type=_positive_float, default=3e-3, help="learning rate")
    t.add_argument("--schedule", choices=["constant", "cosine"], default="constant",
                   help="learning rate over the run; cosine decays to lr/10 at --steps")  # fmt: skip
    t.add_argument("--clip", type=_positive_float, default=5.0, help="gradient norm limit")
    t.add_argument("--dropout", type=_unit_interval, default=0.0, help="dropout between layers")
    t.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    t.add_argument("--seed", type=_seed, default=0)
    t.add_argument("--val-fraction", type=_fraction, default=0.05, help="held-out tail of the corpus")
    t.add_argument("--val-every", type=_positive_int, default=500, help="steps between validations")
    t.add_argument("--checkpoint", help="write a checkpoint here at every validation and at the end")
    t.add_argument("--resume", help="continue the run saved in this checkpoint up to --steps")
    t.add_argument("--plot", help="draw losses and gradient flow to this PNG")
    t.add_argument("--history", help="write the training history to this JSON file")
    t.set_defaults(run=cmd_train)

    s = sub.add_parser("sample", help="generate text from a trained model", formatter_class=fmt)
    s.add_argument("model", metavar="MODEL", help="a model file written by `elman train`")
    s.add_argument("--prime", default=None, help='text to start from (default: "The ", or the first character the model knows)')
    s.add_argument("--length", type=_positive_int, default=500, help="characters to generate")
    s.add_argument("--temperature", type=_positive_float, default=0.8)
    s.add_argument("--top-k", type=_positive_int, default=None, help="sample only from the k likeliest")
    s.add_argument("--seed", type=_seed, default=None)
    s.set_defaults(run=cmd_sample)

    f = sub.add_parser("forecast", help="forecast a CSV column one step ahead", formatter_class=fmt,
                       description="Train on the first part of a CSV column, forecast the rest one step "
                                   "ahead, and compare with the persistence baseline.")  # fmt: skip
    f.add_argument("csv", metavar="CSV")
    f.add_argument("--column", required=True, help="the column to forecast")
    f.add_argument("--window", type=_positive_int, default=48, help="training window length")
    f.add_argument("--test-fraction", type=_fraction, default=0.2)
    f.add_argument("--steps", type=_positive_int, default=800)
    f.add_argument("--hidden", type=_positive_int, default=32)
    f.add_argument("--batch", type=_positive_int, default=32)
    f.add_argument("--lr", type=_positive_float, default=1e-2)
    f.add_argument("--seed", type=_seed, default=0)
    f.add_argument("--out", default="forecast.csv", help="where to write the forecasts")
    f.add_argument("--plot", help="draw the forecasts to this PNG")
    f.set_defaults(run=cmd_forecast)

    g = sub.add_parser("plot", help="draw a saved training history", formatter_class=fmt)
    g.add_argument("history", metavar="HISTORY", help="a JSON history (train --history)")
    g.add_argument("--out", default="history.png")
    g.set_defaults(run=cmd_plot)

    for command in (t, f):
        command.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                             help="progress bar (default: when the terminal shows it)")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except MemoryError:
        print(f"elman {args.command}: error: out of memory; try smaller sizes (--hidden, --layers, --batch)", file=sys.stderr)
        return 2
    except (CommandError, ValueError, TypeError, OSError, NonFiniteError) as e:
        print(f"elman {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"elman {args.command}: interrupted", file=sys.stderr)
        return 130
