"""Optimizers with PyTorch's update rules, run natively over the model's flat parameter buffer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from . import _validate as check
from .model import RNN
from .params import ParamDict

_CORE = {np.dtype(np.float32): _core.OptimizerF32, np.dtype(np.float64): _core.OptimizerF64}


class Optimizer:
    """Base class: holds the native optimizer of one model and its state buffers.

    Args:
        model: the elman.RNN whose parameters this optimizer updates.
        **hyperparameters: the subclass's settings (lr, ...), passed to the native optimizer.

    The native module checks the hyperparameters' types and the core their ranges; `hyperparameters`
    holds the ones given, as the core holds them.
    """

    kind: str = ""
    # Names of the native state buffers "first" and "second" in state_dict, or None where unused.
    state_names: tuple[str | None, str | None] = (None, None)

    def __init__(self, model: RNN, **hyperparameters: Any) -> None:
        if not isinstance(model, RNN):
            raise TypeError(f"model is a {type(model).__name__}; expected an elman.RNN")
        self.model = model
        self._core = _CORE[model.dtype](kind=self.kind, size=model.num_params, **hyperparameters)
        held = self._core.config
        self.hyperparameters: dict[str, Any] = {name: held[name] for name in hyperparameters}

    @property
    def lr(self) -> float:
        """The learning rate, as the core holds it; settable (schedules do), and kept in hyperparameters."""
        return self._core.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._core.lr = value
        self.hyperparameters["lr"] = self._core.lr

    @property
    def steps(self) -> int:
        """The number of updates taken so far."""
        return self._core.steps

    def step(self, grads: Mapping[str, ArrayLike] | None = None) -> None:
        """Updates the model's parameters from grads (default: model.grads)."""
        self.model._core.update(self._core, self._flat(self.model.grads if grads is None else grads))

    def _flat(self, grads: Mapping[str, ArrayLike]) -> np.ndarray:
        params = self.model.params
        if isinstance(grads, ParamDict) and grads.flat.size == params.flat.size:
            return grads.flat
        if not isinstance(grads, Mapping):
            raise TypeError(f"grads is a {type(grads).__name__}; expected model.grads or a mapping of name to array")
        if set(grads) != set(params):
            raise ValueError(f"grads has names {sorted(grads)}; expected {sorted(params)}")
        parts = []
        for name, p in params.items():
            g = np.asarray(grads[name])
            if g.shape != p.shape:
                raise ValueError(
                    f"grads[{name!r}] has shape {check.shape_str(g.shape)}; expected {check.shape_str(p.shape)}"
                )
            parts.append(g.ravel())
        return np.concatenate(parts).astype(self.model.dtype, copy=False)

    def _buffers(self) -> dict[str, np.ndarray]:
        first, second = self.state_names
        out = {}
        if first:
            out[first] = self._core.first
        if second:
            out[second] = self._core.second
        return out

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters, step count and state buffers (copies), for checkpoints."""
        return {
            "type": type(self).__name__,
            "hyperparameters": dict(self.hyperparameters),
            "step": self.steps,
            "state": {name: buf.copy() for name, buf in self._buffers().items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores a state_dict of the same optimizer type for a model of the same size."""
        if not isinstance(state, Mapping) or "type" not in state:
            raise TypeError("state is not an optimizer state_dict; expected the dict from state_dict()")
        if state["type"] != type(self).__name__:
            raise ValueError(f"state is from {state['type']}; expected {type(self).__name__}")
        buffers = self._buffers()
        saved = state.get("state", {})
        if set(saved) != set(buffers):
            raise ValueError(f"state holds buffers {sorted(saved)}; expected {sorted(buffers)}")
        arrays = {}
        for name, buf in buffers.items():
            a = np.asarray(saved[name])
            if a.shape != buf.shape:
                raise ValueError(
                    f"state buffer {name} has shape {check.shape_str(a.shape)}; expected {check.shape_str(buf.shape)}"
                )
            arrays[name] = a
        saved = dict(state.get("hyperparameters", {}))
        lr = saved.pop("lr", self.lr)
        mine = {k: v for k, v in self.hyperparameters.items() if k != "lr"}
        if {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()} != mine:
            raise ValueError(f"state has hyperparameters {saved}; expected this optimizer's {mine} (lr may differ)")
        old_steps, old_lr = self.steps, self.lr
        try:  # the core checks both; neither is kept unless both are good
            self._core.steps = state.get("step")
            self.lr = lr
        except (TypeError, ValueError):
            self._core.steps, self.lr = old_steps, old_lr
            raise
        for name, buf in buffers.items():
            buf[...] = arrays[name]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"elman.optim.{type(self).__name__}({args})"


class SGD(Optimizer):
    """torch.optim.SGD: momentum, Nesterov momentum and L2 weight decay.

    Args:
        model: the elman.RNN to optimize.
        lr: the learning rate.
        momentum: the momentum factor; 0 for plain SGD.
        nesterov: use Nesterov momentum (needs momentum > 0).
        weight_decay: the L2 penalty: weight_decay * p is added to the gradient.
    """

    kind = "sgd"
    state_names = ("momentum_buffer", None)

    def __init__(
        self, model: RNN, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0
    ) -> None:
        super().__init__(model, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)


class Adagrad(Optimizer):
    """torch.optim.Adagrad (no lr decay, zero initial accumulator).

    Args:
        model: the elman.RNN to optimize.
        lr: the learning rate.
        eps: added to the denominator's square root, for numerical stability.
    """

    kind = "adagrad"
    state_names = (None, "sum")

    def __init__(self, model: RNN, lr: float = 0.01, eps: float = 1e-10) -> None:
        super().__init__(model, lr=lr, eps=eps)


class RMSprop(Optimizer):
    """torch.optim.RMSprop (not centered).

    Args:
        model: the elman.RNN to optimize.
        lr: the learning rate.
        alpha: the smoothing constant of the running average of squared gradients.
        eps: added to the denominator's square root, for numerical stability.
        momentum: the momentum factor; 0 for none.
    """

    kind = "rmsprop"
    state_names = ("momentum_buffer", "square_avg")

    def __init__(
        self, model: RNN, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0
    ) -> None:
        super().__init__(model, lr=lr, alpha=alpha, eps=eps, momentum=momentum)


class Adam(Optimizer):
    """torch.optim.Adam; decoupled=True is AdamW's weight decay.

    Args:
        model: the elman.RNN to optimize.
        lr: the learning rate.
        betas: the decay rates of the running averages of the gradient and of its square.
        eps: added to the denominator's square root, for numerical stability.
        weight_decay: the L2 penalty: weight_decay * p is added to the gradient (unless decoupled).
        decoupled: instead shrink the weights by a factor 1 - lr * weight_decay each step, as AdamW does.
    """

    kind = "adam"
    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(
        self,
        model: RNN,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
    ) -> None:
        super().__init__(model, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled=decoupled)


def AdamW(
    model: RNN,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.01,
) -> Adam:
    """torch.optim.AdamW: Adam with decoupled weight decay (the arguments are Adam's)."""
    return Adam(model, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled=True)
