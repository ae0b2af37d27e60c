"""The `elman` command line: train a character-level model, sample from it, forecast a CSV column,
plot a training history."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from . import __version__, data, distributed, files, optim
from ._core import NonFiniteError, get_num_threads
from .forecaster import Forecaster
from .model import RNN, load
from .plots import plot_forecast, plot_training
from .sampling import sample_text, sample_texts, stream_text, vocabulary_of
from .train import Cosine, Trainer

OPTIMIZERS: dict[str, Callable[..., optim.Optimizer]] = {
    "adam": optim.Adam,
    "adamw": optim.AdamW,
    "sgd": optim.SGD,
    "rmsprop": optim.RMSprop,
    "adagrad": optim.Adagrad,
}


class CommandError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with errors on one line (and a pointer to --help) instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        """Exits with status 2 and the message on one line."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ------------------------------------------------------------------------------------------- train


def builtin_corpus() -> tuple[str, str]:
    """The standard library's documentation topics, which ship with every CPython (pydoc_data)."""
    from pydoc_data.topics import topics

    return "".join(topics[k] for k in sorted(topics)), "pydoc_data.topics"


def read_corpus(path: str | None) -> tuple[str, str]:
    """(text, where it came from): TEXT's contents, or the built-in corpus when TEXT is not given."""
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
        raise CommandError(
            f"TEXT {path!r} holds {len(text)} characters of {len(set(text))} kinds; expected a corpus "
            "with at least two different characters"
        )
    return text, os.path.abspath(path)


# The options of `train` a checkpoint records, by their names in argparse's namespace: a resumed run
# takes them from the checkpoint, and refuses different values given on its command line.
SETTINGS = (
    "text",
    "hidden",
    "layers",
    "seq_len",
    "batch",
    "optimizer",
    "lr",
    "clip",
    "seed",
    "val_fraction",
    "val_every",
    "dropout",
    "dtype",
    "schedule",
)


def train_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What a run depends on, kept in its checkpoint so --resume rebuilds the same run."""
    settings = {key: getattr(args, key) for key in SETTINGS}
    settings["text"] = args.text and os.path.abspath(args.text)
    return settings


def option_name(key: str) -> str:
    """How the command line spells a setting: "seq_len" is --seq-len, "text" is TEXT."""
    return "TEXT" if key == "text" else "--" + key.replace("_", "-")


def writable(option: str, path: str | None) -> None:
    """Fails before any work when an output's folder does not exist (rather than after training)."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{option} {str(path)!r}: the folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise CommandError(f"{option} {str(path)!r} is a folder; expected a file name")


def resume_settings(args: argparse.Namespace) -> None:
    """Takes the settings of the run saved in --resume into `args`, refusing any given on the command
    line with another value (--steps, the target, may differ)."""
    if not os.path.isfile(args.resume):
        raise CommandError(f"--resume {args.resume!r} does not exist; expected a checkpoint written with --checkpoint")
    saved = Trainer.checkpoint_extra(args.resume)
    if not isinstance(saved, dict) or not isinstance(saved.get("settings"), dict):
        raise CommandError(f"--resume {args.resume!r} was not written by `elman train --checkpoint`")
    given = train_settings(args)
    for key, value in saved["settings"].items():
        if key in args.explicit and given.get(key) != value:
            raise CommandError(
                f"{option_name(key)} is {given.get(key)!r} but the run in --resume {args.resume!r} has "
                f"{option_name(key)} {value!r}; leave it out to continue that run, or start a new run without --resume"
            )
        setattr(args, key, value)


def too_short(count: int, args: argparse.Namespace) -> CommandError:
    """The error for a corpus too short for the batches and the validation part asked for."""
    needed = max(args.batch * (args.seq_len + 2) / (1 - args.val_fraction), (args.seq_len + 2) / args.val_fraction)
    return CommandError(
        f"TEXT has {count} characters; expected at least {math.ceil(needed)} for --batch {args.batch}, --seq-len "
        f"{args.seq_len} and --val-fraction {args.val_fraction} (or lower them)"
    )


def cmd_train(args: argparse.Namespace) -> int:
    """`elman train`: see the parser's description."""
    # Under mpiexec / srun: data parallel over the ranks, --batch the global batch, rank 0 the one that
    # prints and writes. MPI starts first, so that a rank stopping at any error ends the whole job.
    comm = distributed.init() if distributed.launched() else None
    for option in ("out", "checkpoint", "plot", "history"):
        writable(f"--{option}", getattr(args, option))
    if args.resume:
        resume_settings(args)
    ranks, rank = (1, 0) if comm is None else (comm.Get_size(), comm.Get_rank())
    say = print if rank == 0 else _silent
    if args.batch % ranks:
        raise CommandError(f"--batch {args.batch} is not a multiple of the {ranks} MPI ranks; expected one")
    text, source = read_corpus(args.text)
    vocab = data.Vocabulary.from_text(text, unknown=None)
    tokens = vocab.encode(text)
    try:
        train_tokens, val_tokens = data.split(tokens, args.val_fraction)
    except ValueError:
        raise too_short(len(tokens), args) from None
    if len(train_tokens) < args.batch * (args.seq_len + 2) or len(val_tokens) < args.seq_len + 2:
        raise too_short(len(tokens), args)
    val_batch = max(1, min(args.batch, len(val_tokens) // (args.seq_len + 2)))
    if comm is None:
        train = data.TextBatches(train_tokens, args.batch, args.seq_len)
        val = data.TextBatches(val_tokens, val_batch, args.seq_len)
    else:
        if val_batch < ranks:
            raise CommandError(
                f"the validation part ({len(val_tokens)} characters) has room for {val_batch} streams of --seq-len "
                f"{args.seq_len}; expected one for each of the {ranks} MPI ranks (raise --val-fraction)"
            )
        train = distributed.shard_text(train_tokens, args.batch, args.seq_len, comm)
        val = distributed.shard_text(val_tokens, val_batch, args.seq_len, comm)

    model = RNN(
        vocab.size,
        args.hidden,
        vocab.size,
        num_layers=args.layers,
        dropout=args.dropout,
        dtype=args.dtype,
        seed=args.seed,
    )
    opt = OPTIMIZERS[args.optimizer](model, lr=args.lr)
    # A cosine schedule's horizon is --steps: its resume is exact only for the same --steps.
    schedule = Cosine(args.steps, args.lr / 10) if args.schedule == "cosine" else None
    trainer = Trainer(
        model,
        opt,
        loss="cross_entropy",
        clip_norm=args.clip,
        schedule=schedule,
        val_every=args.val_every,
        progress=args.progress,
        log_every=10,
        comm=comm,
    )
    if args.resume:
        trainer.load_checkpoint(args.resume, train)
        say(f"resumed {args.resume} at step {trainer.step} of {args.steps}")
    say(
        f"training on {source}: {len(tokens):,} characters, {vocab.size} kinds; "
        f"model {model.num_params:,} parameters (H={args.hidden}, L={args.layers})"
        + (f"; {ranks} MPI ranks of {args.batch // ranks} streams, {get_num_threads()} threads each" if comm else ""),
        flush=True,
    )

    def report(t: Trainer, record: dict[str, Any]) -> None:
        if "val_loss" in record:
            say(
                f"step {record['step']:6d}  train {record['loss']:.3f}  validation {record['val_loss']:.3f} nats/char  "
                f"| {t.flow_summary}",
                flush=True,
            )

    trainer.callbacks.append(report)
    extra = {"settings": train_settings(args)}
    trainer.fit(
        train,
        args.steps,
        val,
        checkpoint=args.checkpoint,
        checkpoint_every=args.val_every if args.checkpoint else None,
        extra=extra,
    )
    if rank != 0:
        return 0
    model.save(args.out, metadata={"vocabulary": vocab.to_json(), "corpus": source})
    print(f"wrote {args.out}")
    if args.history:
        trainer.history_json(args.history)
        print(f"wrote {args.history}")
    if args.plot:
        plot_training(trainer.history, args.plot, title=f"elman on {Path(source).name}")
        print(f"wrote {args.plot}")
    print("sample:")
    prime = default_prime(vocab)
    print(prime + sample_text(model, prime, 400, vocab=vocab, temperature=0.8, seed=args.seed))
    return 0


def _silent(*args: Any, **kwargs: Any) -> None:
    """print for the ranks other than 0 of a distributed run, which stay quiet."""


# ------------------------------------------------------------------------------------------ sample


def default_prime(vocab: data.Vocabulary) -> str:
    """Where a sample starts unless told: "The " when the corpus has those letters, else its first character."""
    return "The " if set("The ") <= set(vocab.chars) else vocab.chars[0]


def load_language_model(path: str) -> tuple[RNN, data.Vocabulary]:
    """The model of a file `elman train` wrote and the vocabulary in its metadata, checked to fit it."""
    if not os.path.isfile(path):
        raise CommandError(f"MODEL {path!r} does not exist; expected a file written by `elman train`")
    model = load(path)
    try:
        vocab = vocabulary_of(model)
    except ValueError as e:
        raise CommandError(f"MODEL {path!r}: {e}") from None
    return model, vocab


def cmd_sample(args: argparse.Namespace) -> int:
    """`elman sample`: the prime, then the characters the model draws, as they come; several samples
    are drawn as one batch and printed one after another, separated by a blank line."""
    model, vocab = load_language_model(args.model)
    prime = default_prime(vocab) if args.prime is None else args.prime
    if not prime:
        raise CommandError("--prime is empty; expected at least one character")
    unknown = sorted(set(prime) - set(vocab.chars))
    if unknown:
        raise CommandError(f"--prime holds characters the model never saw: {''.join(unknown)!r}")
    options = {"vocab": vocab, "temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p}
    if args.num_samples == 1:
        sys.stdout.write(prime)
        for ch in stream_text(model, prime, args.length, seed=args.seed, **options):
            sys.stdout.write(ch)
            sys.stdout.flush()
        sys.stdout.write("\n")
        return 0
    texts = sample_texts(model, prime, args.length, num_samples=args.num_samples, seed=args.seed, **options)
    sys.stdout.write("\n\n".join(prime + text for text in texts) + "\n")
    return 0


# ---------------------------------------------------------------------------------------- forecast


def read_forecast_csv(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(y, X, X_future) from CSV: the column --column (a pandas Series), the --covariates columns of
    the same rows and of the --horizon rows after the last value (rows whose --column is empty), indexed
    by the first column that holds dates, if any, with its frequency."""
    try:
        import pandas as pd
    except ImportError:
        raise CommandError("elman forecast reads CSV files with pandas: pip install pandas") from None
    try:
        frame = pd.read_csv(args.csv)
    except FileNotFoundError:
        raise CommandError(f"CSV {args.csv!r} does not exist; expected a CSV file with a header row") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise CommandError(f"CSV {args.csv!r} could not be read as CSV ({e})") from None
    covariates = [c for c in (args.covariates or "").split(",") if c]
    for name in [args.column, *covariates]:
        if name not in frame.columns:
            raise CommandError(f"CSV {args.csv!r} has no column {name!r}; expected one of {list(frame.columns)}")
    for name in frame.columns:
        if name in (args.column, *covariates) or frame[name].dtype.kind in "biuf":
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns when it guesses a date format
            dates = pd.to_datetime(frame[name], errors="coerce")
        if dates.notna().all():
            frame.index = pd.DatetimeIndex(dates, name=name, freq="infer" if len(frame) >= 3 else None)
            break
    target = frame[args.column]
    known = target.notna().to_numpy().nonzero()[0]
    if len(known) == 0:
        raise CommandError(f"CSV column {args.column!r} holds no values")
    end = int(known[-1]) + 1
    y = target.iloc[:end]
    if not covariates:
        return y, None, None
    X = frame[covariates]
    future = X.iloc[end : end + args.horizon]
    if len(future) < args.horizon:
        raise CommandError(
            f"--covariates {args.covariates} need their values for the {args.horizon} times forecast: CSV has "
            f"{len(future)} rows after the last value of {args.column!r}; expected {args.horizon} (rows with "
            f"{args.column!r} empty)"
        )
    return y, X.iloc[:end], future


def cmd_forecast(args: argparse.Namespace) -> int:
    """`elman forecast`: forecast --horizon steps past the end of a CSV column, with intervals."""
    for option in ("out", "plot"):
        writable(f"--{option}", getattr(args, option))
    y, X, X_future = read_forecast_csv(args)
    interval = args.interval
    if "model" in args.explicit and os.path.isfile(args.model):
        forecaster = Forecaster.load(args.model)
        if forecaster.horizon != args.horizon:
            raise CommandError(
                f"--horizon is {args.horizon} but --model {args.model!r} forecasts {forecaster.horizon} steps; "
                f"give --horizon {forecaster.horizon}, or a new --model path to train one"
            )
        if forecaster.likelihood is None:
            interval = None
        print(f"loaded {args.model}: forecasting {len(y)} values of {args.column!r} without training")
    else:
        writable("--model", args.model)
        forecaster = Forecaster(
            args.horizon,
            window=args.window,
            likelihood="gaussian" if interval else None,
            seed=args.seed,
            steps=args.steps,
            hidden_size=args.hidden,
            progress=args.progress,
        )
        fitted = len(y) - round(0.2 * len(y)) if args.backtest else len(y)
        forecaster.fit(y.iloc[:fitted], None if X is None else X.iloc[:fitted])
        if args.backtest:
            bt = forecaster.backtest(y, X, start=fitted)
            print(f"backtest: fitted on {fitted} values, forecasts from {len(bt.origins)} origins after them")
            print(bt.table())
        forecaster.save(args.model)
        print(
            f"trained on {len(y)} values of {args.column!r} ({forecaster.strategy}, window {forecaster.window_}, "
            f"{forecaster.steps_} steps); wrote {args.model}"
        )
    forecast = forecaster.predict(y, X_future, X=X)
    table = forecast.to_frame("forecast")
    if interval:
        lower, upper = forecaster.predict_interval(y, X_future, coverage=interval, X=X)
        table["lower"], table["upper"] = lower.to_numpy(), upper.to_numpy()
    files.atomic_write(args.out, table.to_csv(index_label=y.index.name or "step").encode())
    first, last = forecast.index[[0, -1]].astype(str)  # dates without a midnight time, as in the CSV
    print(f"wrote {args.out}: {args.horizon} steps from {first} to {last}")
    if args.plot:
        shown = y.iloc[-max(4 * args.horizon, 3 * forecaster.window_) :]
        band = (table["lower"].to_numpy(), table["upper"].to_numpy()) if interval else None
        title = f"{args.column}: {args.horizon} steps ahead" + (f", {interval:.0%} interval" if interval else "")
        plot_forecast(
            (shown.index, shown.to_numpy()),
            (forecast.index, forecast.to_numpy()),
            args.plot,
            band,
            title=title,
            label=args.column,
        )
        print(f"wrote {args.plot}")
    return 0


# -------------------------------------------------------------------------------------------- plot


def cmd_plot(args: argparse.Namespace) -> int:
    """`elman plot`: draws a history written by `elman train --history`."""
    writable("--out", args.out)
    expected = "expected a JSON history written by `elman train --history`"
    try:
        history = json.loads(Path(args.history).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"HISTORY {args.history!r} does not exist; {expected}") from None
    except IsADirectoryError:
        raise CommandError(f"HISTORY {args.history!r} is a folder; {expected}") from None
    except UnicodeDecodeError as e:
        raise CommandError(f"HISTORY {args.history!r} is not text (byte {e.start} is not UTF-8); {expected}") from None
    except json.JSONDecodeError as e:
        raise CommandError(f"HISTORY {args.history!r} is not JSON ({e.msg} at line {e.lineno}); {expected}") from None
    if not isinstance(history, list) or not all(isinstance(r, dict) and "step" in r for r in history):
        raise CommandError(
            f"HISTORY {args.history!r} is not a training history; expected a list of records with 'step'"
        )
    try:
        plot_training(history, args.out)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise CommandError(
            f"HISTORY {args.history!r} holds a record that cannot be drawn ({type(e).__name__}: {e})"
        ) from None
    print(f"wrote {args.out}")
    return 0


# ------------------------------------------------------------------------------------------ parser


def _number(parse: Callable[[str], Any], kind: str, ok: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse type: `parse` the text, then check it with `ok`."""

    def convert(text: str) -> Any:
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
_non_negative_float = _number(float, "a number", lambda v: v >= 0 and math.isfinite(v), "a finite number >= 0")
_fraction = _number(float, "a number", lambda v: 0 < v < 1, "a fraction in (0, 1)")
_unit_interval = _number(float, "a number", lambda v: 0 <= v < 1, "in [0, 1)")
_probability = _number(float, "a number", lambda v: 0 < v <= 1, "a probability in (0, 1]")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to every option's help; an option whose default is None says in its own help
    what happens when it is not given, so "(default: None)" is never shown."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def parser() -> argparse.ArgumentParser:
    """The `elman` command line: subcommands train, sample, forecast and plot."""
    fmt = _Formatter
    p = _Parser(prog="elman", description="Exact, fast Elman recurrent networks.", formatter_class=fmt)
    p.add_argument("--version", action="version", version=f"elman {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser(
        "train",
        help="train a character-level language model",
        formatter_class=fmt,
        description="Train a character-level language model on TEXT (default: the Python "
        "documentation topics that ship with Python).",
    )
    t.add_argument(
        "text", nargs="?", metavar="TEXT", help="a UTF-8 text file (default: the built-in corpus, pydoc_data.topics)"
    )
    t.add_argument("--out", default="model.safetensors", help="where to write the model")
    t.add_argument("--steps", type=_positive_int, default=3000, help="total training steps")
    t.add_argument("--hidden", type=_positive_int, default=256, help="hidden units per layer")
    t.add_argument("--layers", type=_positive_int, default=1, help="stacked layers")
    t.add_argument("--seq-len", type=_positive_int, default=64, help="steps of truncated BPTT")
    t.add_argument("--batch", type=_positive_int, default=32, help="parallel streams")
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam", help="the update rule")
    t.add_argument("--lr", type=_positive_float, default=3e-3, help="learning rate")
    t.add_argument(
        "--schedule",
        choices=["constant", "cosine"],
        default="constant",
        help="learning rate over the run; cosine decays to lr/10 at --steps",
    )
    t.add_argument("--clip", type=_positive_float, default=5.0, help="gradient norm limit")
    t.add_argument("--dropout", type=_unit_interval, default=0.0, help="dropout between layers")
    t.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="the model's numbers")
    t.add_argument("--seed", type=_seed, default=0, help="weights, dropout and the final sample")
    t.add_argument("--val-fraction", type=_fraction, default=0.05, help="held-out tail of the corpus")
    t.add_argument("--val-every", type=_positive_int, default=500, help="steps between validations")
    t.add_argument("--checkpoint", help="write a checkpoint here at every validation and at the end (default: none)")
    t.add_argument("--resume", help="continue the run saved in this checkpoint up to --steps (default: a new run)")
    t.add_argument("--plot", help="draw losses and gradient flow to this PNG (default: no plot)")
    t.add_argument("--history", help="write the training history to this JSON file (default: not written)")
    t.set_defaults(run=cmd_train)

    s = sub.add_parser("sample", help="generate text from a trained model", formatter_class=fmt)
    s.add_argument("model", metavar="MODEL", help="a model file written by `elman train`")
    s.add_argument("--prime", help='text to start from (default: "The ", or the first character the model knows)')
    s.add_argument("--length", type=_positive_int, default=500, help="characters to generate")
    s.add_argument(
        "--temperature",
        type=_non_negative_float,
        default=0.8,
        help="softmax temperature; 0 takes the likeliest character",
    )
    s.add_argument("--top-k", type=_positive_int, help="sample only from the k likeliest (default: from all)")
    s.add_argument(
        "--top-p",
        type=_probability,
        help="then only from the smallest set of likeliest characters whose probability reaches p (default: 1)",
    )
    s.add_argument("--num-samples", type=_positive_int, default=1, help="samples to draw, as one batch")
    s.add_argument("--seed", type=_seed, help="the same seed gives the same text (default: a fresh one each run)")
    s.set_defaults(run=cmd_sample)

    f = sub.add_parser(
        "forecast",
        help="forecast a CSV column past its end",
        formatter_class=fmt,
        description="Forecast --horizon steps past the end of a CSV column with elman.Forecaster, with "
        "intervals; writes the forecasts and the model. A column of dates, if any, indexes the forecasts. "
        "Covariates must be known for the forecast times too: rows after the last value of --column.",
    )
    f.add_argument("csv", metavar="CSV", help="a CSV file with a header row")
    f.add_argument("--column", required=True, help="the column to forecast (required)")
    f.add_argument("--covariates", help="comma-separated columns known in advance (default: none)")
    f.add_argument("--horizon", type=_positive_int, required=True, help="steps to forecast (required)")
    f.add_argument("--interval", type=_unit_interval, default=0.8, help="coverage of the interval; 0 for none")
    f.add_argument(
        "--model",
        default="forecaster.safetensors",
        help="where to write the trained forecaster; an existing file given here forecasts without training",
    )
    f.add_argument("--out", default="forecast.csv", help="where to write the forecasts and interval bounds")
    f.add_argument("--plot", help="draw history, forecast and interval band to this PNG (default: no plot)")
    f.add_argument(
        "--backtest",
        action="store_true",
        help="fit on the first 80%%, print rolling-origin errors against seasonal naive and persistence",
    )
    f.add_argument("--window", type=_positive_int, help="rows of history the network reads (default: from the season)")
    f.add_argument("--steps", type=_positive_int, default=800, help="most training steps (early stopping)")
    f.add_argument("--hidden", type=_positive_int, default=32, help="hidden units")
    f.add_argument("--seed", type=_seed, default=0, help="weights and window order")
    f.set_defaults(run=cmd_forecast)

    g = sub.add_parser("plot", help="draw a saved training history", formatter_class=fmt)
    g.add_argument("history", metavar="HISTORY", help="a JSON history (train --history)")
    g.add_argument("--out", default="history.png", help="where to write the PNG")
    g.set_defaults(run=cmd_plot)

    for command in (t, f):
        command.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            help="progress bar (default: when stderr is a terminal)",
        )
    return p


def given_options(argv: list[str]) -> set[str]:
    """The namespace names of the options `argv` gives explicitly (not left to their defaults): argv
    parsed again with every default suppressed."""
    p = parser()
    for action in p._actions:  # argparse keeps subcommands' parsers only here
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                for option in command._actions:
                    option.default = argparse.SUPPRESS
                command.set_defaults(run=argparse.SUPPRESS)
    return set(vars(p.parse_args(argv))) - {"command", "run"}


def main(argv: list[str] | None = None) -> int:
    """Runs the command line `argv` (default: sys.argv[1:]); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.explicit = given_options(argv)
    status = _run(args)
    if status:
        distributed.abort_if_running(status)  # the other ranks of an MPI job would wait for this one
    return status


def _run(args: argparse.Namespace) -> int:
    try:
        return args.run(args)
    except MemoryError:
        print(
            f"elman {args.command}: error: out of memory; try smaller sizes (--hidden, --layers, --batch)",
            file=sys.stderr,
        )
        return 2
    except (CommandError, ValueError, TypeError, OSError, NonFiniteError) as e:
        print(f"elman {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"elman {args.command}: interrupted", file=sys.stderr)
        return 130
