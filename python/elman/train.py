"""elman.Trainer: the training loop around the fused native train_step.

Per step: take a batch, set the learning rate from the schedule, one native call (loss, gradients,
clipping, update), carry the hidden state for streams that ask for it, log, validate, checkpoint.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time

from tqdm import tqdm

from . import _validate as check
from . import files
from ._core import NonFiniteError
from .model import RNN
from .optim import Optimizer

_FORMAT = 1


# ------------------------------------------------------------------------------ learning-rate schedules


class StepDecay:
    """lr * gamma ** (step // every)."""

    def __init__(self, every: int, gamma: float = 0.1):
        self.every = check.integer("every", every, 1)
        self.gamma = check.real("gamma", gamma, 0.0)

    def __call__(self, step: int, lr: float) -> float:
        return lr * self.gamma ** (step // self.every)


class Cosine:
    """From lr down to min_lr along half a cosine over total steps, then min_lr."""

    def __init__(self, total: int, min_lr: float = 0.0):
        self.total = check.integer("total", total, 1)
        self.min_lr = check.real("min_lr", min_lr, 0.0)

    def __call__(self, step: int, lr: float) -> float:
        progress = min(step, self.total) / self.total
        return self.min_lr + (lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Warmup:
    """A linear rise over the first `steps` steps (from lr / steps to lr), then `then` (or constant lr)."""

    def __init__(self, steps: int, then=None):
        self.steps = check.integer("steps", steps, 1)
        self.then = then

    def __call__(self, step: int, lr: float) -> float:
        if step < self.steps:
            return lr * (step + 1) / self.steps
        return self.then(step - self.steps, lr) if self.then else lr


# ------------------------------------------------------------------------------------------- trainer


class Trainer:
    """Trains `model` with `optimizer` on batches from an endless source (data.TextBatches, data.Loader,
    or any iterator of objects with x, target or y, and optionally lengths and reset).

    A batch with a `reset` attribute is part of a stream: the hidden state carries over from one batch
    to the next (truncated BPTT) and is zeroed when reset is true.

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
    """

    def __init__(self, model: RNN, optimizer: Optimizer, *, loss="mse", reduction="mean", clip_value=None,
                 clip_norm=None, schedule=None, val_every=None, patience=None, min_delta=0.0, callbacks=(),
                 progress=None, log_every=10, gradient_flow=True):  # fmt: skip
        if not isinstance(model, RNN):
            raise TypeError(f"model is a {type(model).__name__}; expected an elman.RNN")
        if not isinstance(optimizer, Optimizer) or optimizer.model is not model:
            raise ValueError("optimizer must be an elman.optim optimizer built for this model")
        self.model, self.optimizer = model, optimizer
        self.loss = check.choice("loss", loss, ("mse", "cross_entropy"))
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

        self.step = 0
        self.history: list[dict] = []
        self.best_val = math.inf
        self.bad_validations = 0
        self.state = None  # the hidden state carried between stream batches
        self._best_params = None
        self._stop = False

    def stop(self) -> None:
        """Ends fit after the current step (for callbacks)."""
        self._stop = True

    # ------------------------------------------------------------------------------------ training

    def fit(self, train, steps: int, val=None, *, checkpoint=None, checkpoint_every=None, extra=None) -> list[dict]:
        """Trains until `steps` steps in all have been taken (a resumed trainer continues its count).

        val: validation data (anything `evaluate` takes). checkpoint: a path written every
        checkpoint_every steps and at the end, with `extra` (see save_checkpoint). Returns the history. A non-finite loss or gradient
        raises NonFiniteError, with the weights of the last good step kept.
        """
        steps = check.integer("steps", steps, 1)
        if checkpoint_every is not None:
            checkpoint_every = check.integer("checkpoint_every", checkpoint_every, 1)
            if checkpoint is None:
                raise ValueError("checkpoint_every is set but checkpoint is None; expected a path")
        self._stop = False
        show = sys.stderr.isatty() if self.progress is None else bool(self.progress)
        bar = tqdm(total=steps, initial=self.step, disable=not show, dynamic_ncols=True, unit="step")
        window_loss, window_steps, window_start = 0.0, 0, time.perf_counter()
        try:
            while self.step < steps and not self._stop:
                batch, h0 = next(train), self.state
                loss = self._train_one(batch)
                self.step += 1
                window_loss += loss
                window_steps += 1
                bar.update(1)
                validate = val is not None and self.val_every and (self.step % self.val_every == 0 or self.step == steps)
                if self.step % self.log_every == 0 or validate or self.step == steps:
                    now = time.perf_counter()
                    record = {
                        "step": self.step,
                        "loss": window_loss / window_steps,
                        "lr": self.optimizer.lr,
                        "steps_per_s": window_steps / max(now - window_start, 1e-9),
                    }
                    if validate:
                        record["val_loss"] = self.evaluate(val)
                        if self.gradient_flow:
                            record.update(self._flow(batch, h0))
                        self._early_stopping(record["val_loss"])
                    self.history.append(record)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k in ("loss", "val_loss")})
                    for callback in self.callbacks:
                        callback(self, record)
                    window_loss, window_steps, window_start = 0.0, 0, time.perf_counter()
                if checkpoint_every and self.step % checkpoint_every == 0:
                    self.save_checkpoint(checkpoint, train, extra)
        finally:
            bar.close()
        if self._stop and self._best_params is not None:
            self.model.params.flat[:] = self._best_params
        if checkpoint is not None:
            self.save_checkpoint(checkpoint, train, extra)
        return self.history

    def _train_one(self, batch) -> float:
        if self.schedule is not None:
            self.optimizer.lr = self.schedule(self.step, self.base_lr)
        stream = hasattr(batch, "reset")
        h0 = None if not stream or batch.reset else self.state
        target = _target(batch)
        try:
            loss, h_n = self.model.train_step(
                batch.x, target, self.optimizer, loss=self.loss, reduction=self.reduction,
                clip_value=self.clip_value, clip_norm=self.clip_norm, h0=h0, lengths=getattr(batch, "lengths", None),
            )  # fmt: skip
        except NonFiniteError as e:
            raise NonFiniteError(f"step {self.step + 1}: {e}") from None
        self.state = h_n if stream else None
        return loss

    def _flow(self, batch, h0) -> dict:
        h0 = None if not hasattr(batch, "reset") or batch.reset else h0
        flow = self.model.gradient_flow(batch.x, _target(batch), loss=self.loss, reduction=self.reduction, h0=h0,
                                        lengths=getattr(batch, "lengths", None))  # fmt: skip
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

    def evaluate(self, data) -> float:
        """The mean loss per counted element (per valid step, or per valid step and output for mse)
        over one pass of `data`: an object with one_pass() (TextBatches, Loader) or an iterable of
        batches. Streams carry their state from batch to batch. No dropout, no gradients."""
        batches = data.one_pass() if hasattr(data, "one_pass") else data
        total, count, state = 0.0, 0, None
        for batch in batches:
            h0 = state if hasattr(batch, "reset") and not batch.reset else None
            value, state = self.model.loss(batch.x, _target(batch), loss=self.loss, reduction="sum", h0=h0,
                                           lengths=getattr(batch, "lengths", None))  # fmt: skip
            total += value
            layout = self.model._batch(batch.x, None, getattr(batch, "lengths", None))
            count += layout.counted(layout.target(_target(batch), self.loss), self.loss)
        if count == 0:
            raise ValueError("data gave no batches with anything to count; expected validation batches")
        return total / count

    # ------------------------------------------------------------------------------------ history

    def history_csv(self, path) -> None:
        """The history's numbers as CSV, one row per record (empty cells where a record lacks a
        column); the per-step gradient flow goes to JSON only."""
        rows = [{k: v for k, v in record.items() if not isinstance(v, list)} for record in self.history]
        columns = list(dict.fromkeys(k for row in rows for k in row))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        files.atomic_write(path, text.getvalue().encode())

    def history_json(self, path) -> None:
        files.atomic_write(path, json.dumps(self.history, indent=1).encode())

    # --------------------------------------------------------------------------------- checkpoints

    def save_checkpoint(self, path, data=None, extra=None) -> None:
        """Everything a resumed run needs to continue bit for bit: the model, the optimizer's state,
        the trainer's counters and history, the dropout generator, the carried state and, when `data`
        has state_dict(), its position; `extra` is any JSON-serializable dict of the caller's (such as
        a command line's settings). Written atomically."""
        opt = self.optimizer.state_dict()
        tensors = {f"model/{k}": v for k, v in self.model.params.items()}
        tensors.update({f"optim/{k}": v for k, v in opt.pop("state").items()})
        if self.state is not None:
            tensors["trainer/state"] = self.state
        if self._best_params is not None:
            tensors["trainer/best_params"] = self._best_params
        state = {
            "format": _FORMAT,
            "model": self.model.config,
            "optimizer": opt,
            "trainer": {"step": self.step, "best_val": self.best_val, "bad_validations": self.bad_validations,
                        "base_lr": self.base_lr, "history": self.history},  # fmt: skip
            "rng": [str(w) for w in self.model.get_rng_state()],
            "data": data.state_dict() if hasattr(data, "state_dict") else None,
            "extra": extra,
        }
        files.save_checkpoint(path, tensors, state)

    def load_checkpoint(self, path, data=None):
        """Restores what save_checkpoint wrote into this trainer's model and optimizer (built with the
        same configuration) and into `data`; returns the checkpoint's `extra`."""
        tensors, state = files.load_checkpoint(path)
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
        self._best_params = tensors.get("trainer/best_params")
        self.model.set_rng_state([int(w) for w in state["rng"]])
        if state["data"] is not None:
            if data is None or not hasattr(data, "load_state_dict"):
                raise ValueError(f"{path} holds a data position; expected the data source to restore it into")
            data.load_state_dict(state["data"])
        return state.get("extra")

    @staticmethod
    def checkpoint_extra(path):
        """The `extra` dict of a checkpoint, without restoring anything (to rebuild what it needs)."""
        return files.load_checkpoint(path)[1].get("extra")


def _target(batch):
    return batch.target if hasattr(batch, "target") else batch.y
