"""elman.Trainer: the training loop around the fused native train_step.

Per step: take a batch, set the learning rate from the schedule, one native call (loss, gradients,
clipping, update), carry the hidden state for streams that ask for it, log, validate, checkpoint.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from . import _validate as check
from . import distributed, files
from ._core import NonFiniteError
from ._mpi import communicator, sum_in_place
from .data import Batch, SequenceDataset, as_batch
from .model import RNN
from .optim import Optimizer

_FORMAT = 1

Schedule = Callable[[int, float], float]  # (step, base lr) -> the step's lr


# ------------------------------------------------------------------------------ learning-rate schedules


class StepDecay:
    """lr * gamma ** (step // every)."""

    def __init__(self, every: int, gamma: float = 0.1) -> None:
        self.every = check.integer("every", every, 1)
        self.gamma = check.real("gamma", gamma, 0.0)

    def __call__(self, step: int, lr: float) -> float:
        """The learning rate of `step` for base rate `lr`."""
        return lr * self.gamma ** (step // self.every)


class Cosine:
    """From lr down to min_lr along half a cosine over total steps, then min_lr."""

    def __init__(self, total: int, min_lr: float = 0.0) -> None:
        self.total = check.integer("total", total, 1)
        self.min_lr = check.real("min_lr", min_lr, 0.0)

    def __call__(self, step: int, lr: float) -> float:
        """The learning rate of `step` for base rate `lr`."""
        progress = min(step, self.total) / self.total
        return self.min_lr + (lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Warmup:
    """A linear rise over the first `steps` steps (from lr / steps to lr), then `then` (or constant lr)."""

    def __init__(self, steps: int, then: Schedule | None = None) -> None:
        self.steps = check.integer("steps", steps, 1)
        self.then = then

    def __call__(self, step: int, lr: float) -> float:
        """The learning rate of `step` for base rate `lr`."""
        if step < self.steps:
            return lr * (step + 1) / self.steps
        return self.then(step - self.steps, lr) if self.then else lr


# ------------------------------------------------------------------------------------------- trainer


class Trainer:
    """Trains `model` with `optimizer` on elman.data.Batch-es (see `fit` for the sources it takes).

    A batch whose `reset` is not None is part of a stream: the hidden state carries over from one batch
    to the next (truncated BPTT) and is zeroed when reset is True.

    loss, reduction, clip_value, clip_norm: as in RNN.train_step.
    schedule: None or a callable (step, base_lr) -> lr, such as StepDecay, Cosine or Warmup.
    val_every: validate every this many steps (and at the end) when fit gets validation data.
    patience: stop after this many validations without a new best (early stopping); the best weights
        are restored when training stops that way.
    callbacks: callables (trainer, record) run after every logged record; trainer.stop() ends training.
    progress: a tqdm bar with the loss and steps/s; None shows it only when stderr is a terminal.
    log_every: steps between history records.
    gradient_flow: at each validation, also record the gradient flow of the last training batch
        ("grad_flow": ||dL/dh_t|| per layer and step, "grad_ratio" and "spectral_radius", see
        RNN.gradient_flow) and keep its one-line summary in `flow_summary`.
    comm: an mpi4py communicator for data-parallel training (see elman.distributed): every rank runs
        the same Trainer on its shard of every batch (and of the validation data); steps, losses and
        history are the whole batch's, the same on every rank; only rank 0 shows progress and writes
        checkpoints and histories. A checkpoint holds every rank's carried states side by side.
    """

    def __init__(
        self,
        model: RNN,
        optimizer: Optimizer,
        *,
        loss: str = "mse",
        reduction: str = "mean",
        clip_value: float | None = None,
        clip_norm: float | None = None,
        schedule: Schedule | None = None,
        val_every: int | None = None,
        patience: int | None = None,
        min_delta: float = 0.0,
        callbacks: Iterable[Callable[[Trainer, dict[str, Any]], None]] = (),
        progress: bool | None = None,
        log_every: int = 10,
        gradient_flow: bool = True,
        comm: Any = None,
    ) -> None:
        if not isinstance(model, RNN):
            raise TypeError(f"model is a {type(model).__name__}; expected an elman.RNN")
        if not isinstance(optimizer, Optimizer) or optimizer.model is not model:
            raise ValueError("optimizer must be an elman.optim optimizer built for this model")
        self.model, self.optimizer = model, optimizer
        self.loss = check.choice("loss", loss, ("mse", "cross_entropy", "gaussian_nll"))
        self.reduction = check.choice("reduction", reduction, ("mean", "sum"))
        self.clip_value = None if clip_value is None else check.real("clip_value", clip_value, 0.0)
        self.clip_norm = None if clip_norm is None else check.real("clip_norm", clip_norm, 0.0)
        if schedule is not None and not callable(schedule):
            raise TypeError(f"schedule is {schedule!r}; expected a callable (step, lr) -> lr")
        self.schedule = schedule
        self.base_lr = optimizer.lr
        self.val_every = None if val_every is None else check.integer("val_every", val_every, 1)
        self.patience = None if patience is None else check.integer("patience", patience, 1)
        self.min_delta = check.real("min_delta", min_delta, 0.0)
        self.callbacks = list(callbacks)
        self.progress = progress
        self.log_every = check.integer("log_every", log_every, 1)
        self.gradient_flow = check.flag("gradient_flow", gradient_flow)
        self.flow_summary = ""
        self.comm = None if comm is None else communicator(comm)
        self.rank = 0 if self.comm is None else self.comm.Get_rank()

        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.best_val = math.inf
        self.bad_validations = 0
        self.state: np.ndarray | None = None  # the hidden state carried between stream batches
        self._best_params: np.ndarray | None = None
        self._stop = False

    def stop(self) -> None:
        """Ends fit after the current step (for callbacks)."""
        self._stop = True

    # ------------------------------------------------------------------------------------ training

    def fit(
        self,
        train: Any,
        steps: int,
        val: Any = None,
        *,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Trains until `steps` steps in all have been taken (a resumed trainer continues its count).

        train, one batch per step, each an elman.data.Batch or a tuple (x, target) or (x, target,
        lengths):
        - an endless source (data.TextBatches, data.Loader, any endless iterator);
        - a list (or other re-iterable collection) of batches, taken in order and cycled, one pass an epoch;
        - a finite iterator or generator: when it runs out, training stops there with a warning.
        val: validation data (anything `evaluate` takes). checkpoint: a path written every
        checkpoint_every steps and at the end, with `extra` (see save_checkpoint). Returns the history.
        A non-finite loss or gradient raises NonFiniteError, with the weights of the last good step kept.
        """
        steps = check.integer("steps", steps, 1)
        if checkpoint_every is not None:
            checkpoint_every = check.integer("checkpoint_every", checkpoint_every, 1)
            if checkpoint is None:
                raise ValueError("checkpoint_every is set but checkpoint is None; expected a path")
        batches = _batches("train", train, cycle=True)
        self._stop = False
        show = self.rank == 0 and (sys.stderr.isatty() if self.progress is None else bool(self.progress))
        bar = tqdm(total=steps, initial=self.step, disable=not show, dynamic_ncols=True, unit="step")
        window = _Window()
        batch, h0 = None, None
        try:
            while self.step < steps and not self._stop:
                taken = next(batches, None)
                if taken is None:
                    warnings.warn(
                        f"train ran out of batches at step {self.step} of {steps}; training stopped there "
                        "(pass an endless source such as data.Loader, or a list, which is cycled, to train longer)",
                        stacklevel=2,
                    )
                    break
                batch, h0 = taken, self.state
                window.add(self._train_one(batch))
                self.step += 1
                bar.update(1)
                last = self.step == steps
                if self.step % self.log_every == 0 or last or self._validates(val, last):
                    self._record(window, val, batch, h0, self._validates(val, last))
                    bar.set_postfix({k: f"{v:.4g}" for k, v in self.history[-1].items() if k in ("loss", "val_loss")})
                    window = _Window()
                if checkpoint is not None and checkpoint_every and self.step % checkpoint_every == 0:
                    self.save_checkpoint(checkpoint, train, extra)
        finally:
            bar.close()
        if window.steps and batch is not None:  # the source ran out between records
            self._record(window, val, batch, h0, self._validates(val, True))
        if self._stop and self._best_params is not None:
            self.model.params.flat[:] = self._best_params
        if checkpoint is not None:
            self.save_checkpoint(checkpoint, train, extra)
        return self.history

    def _validates(self, val: Any, last: bool) -> bool:
        """Whether the step just taken ends with a validation."""
        return val is not None and self.val_every is not None and (self.step % self.val_every == 0 or last)

    def _record(self, window: _Window, val: Any, batch: Batch, h0: np.ndarray | None, validate: bool) -> None:
        """Appends the history record of the steps in `window` (and a validation), then runs the callbacks."""
        record: dict[str, Any] = {
            "step": self.step,
            "loss": window.loss / window.steps,
            "lr": self.optimizer.lr,
            "steps_per_s": window.steps / max(time.perf_counter() - window.start, 1e-9),
        }
        if validate:
            record["val_loss"] = self.evaluate(val)
            if self.gradient_flow:
                record.update(self._flow(batch, h0))
            self._early_stopping(record["val_loss"])
        self.history.append(record)
        for callback in self.callbacks:
            callback(self, record)

    def _train_one(self, batch: Batch) -> float:
        if self.schedule is not None:
            self.optimizer.lr = self.schedule(self.step, self.base_lr)
        try:
            loss, h_n = self.model.train_step(
                batch.x,
                batch.target,
                self.optimizer,
                loss=self.loss,
                reduction=self.reduction,
                clip_value=self.clip_value,
                clip_norm=self.clip_norm,
                h0=self.state if batch.reset is False else None,
                lengths=batch.lengths,
                comm=self.comm,
            )
        except NonFiniteError as e:
            raise NonFiniteError(f"step {self.step + 1}: {e}") from None
        self.state = h_n if batch.stream else None
        return loss

    def _flow(self, batch: Batch, h0: np.ndarray | None) -> dict[str, Any]:
        flow = self.model.gradient_flow(
            batch.x,
            batch.target,
            loss=self.loss,
            reduction=self.reduction,
            h0=h0 if batch.reset is False else None,
            lengths=batch.lengths,
            comm=self.comm,
        )
        self.flow_summary = flow.summary()
        return {
            "grad_flow": flow.norms.tolist(),
            "grad_ratio": float(flow.ratio()[0]),
            "spectral_radius": float(flow.spectral_radius.max()),
        }

    def _early_stopping(self, val_loss: float) -> None:
        if val_loss < self.best_val - self.min_delta:
            self.best_val, self.bad_validations = val_loss, 0
            if self.patience is not None:
                self._best_params = self.model.params.flat.copy()
        else:
            self.bad_validations += 1
            if self.patience is not None and self.bad_validations >= self.patience:
                self._stop = True

    def evaluate(self, data: Any) -> float:
        """The mean loss per counted element (per valid step, or per valid step and output for mse)
        over one pass of `data`: a source with one_pass() (data.TextBatches, data.Loader), a list of
        batches, or a finite iterator of them (batches as `fit` takes them). Streams carry their state
        from batch to batch. No dropout, no gradients. With comm, `data` is this rank's shard and the
        mean is over every rank's."""
        source = data.one_pass() if hasattr(data, "one_pass") else data
        total, count, state = 0.0, 0, None
        for batch in _batches("data", source, cycle=False):
            h0 = state if batch.reset is False else None
            value, counted, state = self.model.loss_sum(
                batch.x, batch.target, loss=self.loss, h0=h0, lengths=batch.lengths
            )
            total += value
            count += counted
        if self.comm is not None:
            sums = np.array([total, count], dtype=np.float64)
            sum_in_place(self.comm, sums)
            total, count = float(sums[0]), int(sums[1])
        if count == 0:
            raise ValueError("data gave no batches with anything to count; expected validation batches")
        return total / count

    # ------------------------------------------------------------------------------------ history

    def history_csv(self, path: str | os.PathLike[str]) -> None:
        """The history's numbers as CSV, one row per record (empty cells where a record lacks a
        column); the per-step gradient flow goes to JSON only. Only rank 0 writes."""
        if self.rank != 0:
            return
        rows = [{k: v for k, v in record.items() if not isinstance(v, list)} for record in self.history]
        columns = list(dict.fromkeys(k for row in rows for k in row))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        files.atomic_write(path, text.getvalue().encode())

    def history_json(self, path: str | os.PathLike[str]) -> None:
        """The whole history, gradient flow included, as a JSON list of records (what `elman plot` draws).
        Only rank 0 writes."""
        if self.rank != 0:
            return
        files.atomic_write(path, json.dumps(self.history, indent=1).encode())

    # --------------------------------------------------------------------------------- checkpoints

    def save_checkpoint(
        self, path: str | os.PathLike[str], data: Any = None, extra: dict[str, Any] | None = None
    ) -> None:
        """Everything a resumed run needs to continue bit for bit: the model, the optimizer's state,
        the trainer's counters and history, the dropout generator, the carried state and, when `data`
        has state_dict(), its position; `extra` is any JSON-serializable dict of the caller's (such as
        a command line's settings). Written atomically.

        With comm, every rank must call it: rank 0 writes the carried states of every rank side by
        side, (L*D, B, H) as one process would carry them, and the data position, which must be the
        same on every rank (as data.TextBatches' and distributed.TextShard's are); the call returns
        when the file is complete."""
        position = data.state_dict() if hasattr(data, "state_dict") else None
        carried = self.state
        if self.comm is not None:
            positions = self.comm.allgather(position)
            if any(p != position for p in positions):
                raise ValueError(f"data is at positions {positions} on the ranks; expected one position on all")
            if carried is not None:
                carried = distributed.gather_streams(carried, self.comm)
            if self.rank != 0:
                self.comm.Barrier()
                return
        opt = self.optimizer.state_dict()
        tensors = {f"model/{k}": v for k, v in self.model.params.items()}
        tensors.update({f"optim/{k}": v for k, v in opt.pop("state").items()})
        if carried is not None:
            tensors["trainer/state"] = carried
        if self._best_params is not None:
            tensors["trainer/best_params"] = self._best_params
        state: dict[str, Any] = {
            "format": _FORMAT,
            "model": self.model.config,
            "optimizer": opt,
            "trainer": {
                "step": self.step,
                "best_val": self.best_val,
                "bad_validations": self.bad_validations,
                "base_lr": self.base_lr,
                "history": self.history,
            },
            "rng": [str(w) for w in self.model.get_rng_state()],
            "data": position,
            "extra": extra,
            "ranks": 1 if self.comm is None else self.comm.Get_size(),
        }
        files.save_checkpoint(path, tensors, state)
        if self.comm is not None:
            self.comm.Barrier()

    def load_checkpoint(self, path: str | os.PathLike[str], data: Any = None) -> Any:
        """Restores what save_checkpoint wrote into this trainer's model and optimizer (built with the
        same configuration) and into `data`; returns the checkpoint's `extra`. With comm, rank 0
        reads the file and sends it to the others (no shared folder needed), and each rank takes its
        streams of the carried states: a run resumes at any number of ranks that divides its batch."""
        if self.comm is None:
            tensors, state = files.load_checkpoint(path)
        else:
            read = files.load_checkpoint(path) if self.rank == 0 else None
            tensors, state = self.comm.bcast(read, root=0)
        if state.get("format") != _FORMAT:
            raise ValueError(f"{path} holds trainer format {state.get('format')!r}; expected {_FORMAT}")
        config = state["model"]
        if config != self.model.config:
            raise ValueError(f"{path} was saved for a model with config {config}; this model has {self.model.config}")
        for name in self.model.params:
            self.model.params[name] = tensors[f"model/{name}"]
        opt = dict(state["optimizer"])
        opt["state"] = {k[len("optim/") :]: v for k, v in tensors.items() if k.startswith("optim/")}
        self.optimizer.load_state_dict(opt)
        t = state["trainer"]
        self.step, self.best_val, self.bad_validations = t["step"], t["best_val"], t["bad_validations"]
        self.base_lr, self.history = t["base_lr"], t["history"]
        self.state = tensors.get("trainer/state")
        if self.comm is not None and self.state is not None:
            self.state = np.ascontiguousarray(distributed.shard(self.state, self.comm, axis=1))
        self._best_params = tensors.get("trainer/best_params")
        self.model.set_rng_state([int(w) for w in state["rng"]])
        if state["data"] is not None:
            if data is None or not hasattr(data, "load_state_dict"):
                raise ValueError(f"{path} holds a data position; expected the data source to restore it into")
            data.load_state_dict(state["data"])
        return state.get("extra")

    @staticmethod
    def checkpoint_extra(path: str | os.PathLike[str]) -> Any:
        """The `extra` dict of a checkpoint, without restoring anything (to rebuild what it needs)."""
        return files.load_checkpoint(path)[1].get("extra")


class _Window:
    """The training losses summed since the last history record."""

    def __init__(self) -> None:
        self.loss, self.steps, self.start = 0.0, 0, time.perf_counter()

    def add(self, loss: float) -> None:
        """Counts one step's loss."""
        self.loss += loss
        self.steps += 1


def _batches(name: str, source: Any, *, cycle: bool) -> Iterator[Batch]:
    """The batches of `source` (named `name` in errors) as Batch: an iterator's as they come, a
    re-iterable collection's pass after pass when `cycle`, else once. What cannot give batches is
    refused here, before the first one is taken."""
    if isinstance(source, SequenceDataset):
        raise TypeError(
            f"{name} is a SequenceDataset; expected batches: pass data.Loader({name}, batch_size) "
            f"(endless, shuffled) or {name}.batches(batch_size) (one pass)"
        )
    if isinstance(source, tuple) and source and isinstance(source[0], np.ndarray):
        raise TypeError(
            f"{name} is a tuple of arrays; expected batches: pass [{name}] to repeat it as one batch, or "
            f"data.Loader({name}, batch_size) for batches of it"
        )
    if isinstance(source, (str, bytes, Mapping, np.ndarray)) or not isinstance(source, Iterable):
        raise TypeError(
            f"{name} is of type {type(source).__name__}; expected batches: a data.TextBatches or data.Loader, a list "
            "of batches, or an iterator of them, each a data.Batch or a tuple (x, target) or (x, target, lengths)"
        )
    if isinstance(source, Sequence):  # a list: every item checked now, not after steps on the first ones
        if not source:
            raise ValueError(f"{name} is an empty {type(source).__name__}; expected at least one batch")
        source = [as_batch(item, f"{name}[{i}]") for i, item in enumerate(source)]
    return _iterate(name, source, cycle)


def _iterate(name: str, source: Iterable[Any], cycle: bool) -> Iterator[Batch]:
    if iter(source) is source:  # an iterator: endless (TextBatches, Loader) or one pass
        for i, item in enumerate(source):
            yield as_batch(item, f"{name}'s batch {i}")
        return
    while True:
        i = -1
        for i, item in enumerate(source):
            yield as_batch(item, f"{name}[{i}]")
        if i < 0:
            raise ValueError(f"{name} is an empty {type(source).__name__}; expected at least one batch")
        if not cycle:
            return
