# Types of the native module built from cpp/bindings/module.cpp; keep the two in step. A wheel with
# runtime dispatch holds two builds of it, _core_avx2 and _core_baseline, and _kernels.py registers the
# one in use as elman._core.
from collections.abc import Sequence
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__version__: str
kernels: str  # "native", "baseline" or "avx2": what the module was compiled for

class NonFiniteError(FloatingPointError):
    """A loss or gradient that is not finite: train_step left the weights as they were."""

# ModelF32/OptimizerF32 and ModelF64/OptimizerF64 are one C++ template each, at float32 and float64.
# _Model and _Optimizer exist only in this stub: they name what the two share, so that code choosing a
# class by dtype type-checks. A model takes an optimizer of its own dtype (checked at run time).

# x: (T, B, I) real numbers or (T, B) integer tokens. target: (T, B, O) values for "mse" or (T, B)
# classes for "cross_entropy". h0: (L*D, B, H) or None for zeros. lengths: (B,) integers or None.
# params and grads are live flat views of the model's buffers. Every call returns h_n (L*D, B, H).
class _Model:
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        num_layers: int,
        nonlinearity: str,
        bidirectional: bool,
        dropout: float,
        init: str,
        seed: int,
    ) -> None: ...
    @property
    def params(self) -> NDArray[np.floating[Any]]: ...
    @property
    def grads(self) -> NDArray[np.floating[Any]]: ...
    @property
    def tensors(self) -> list[tuple[str, tuple[int] | tuple[int, int], int]]: ...
    @property
    def dropout_rng_state(self) -> list[int]: ...
    @dropout_rng_state.setter
    def dropout_rng_state(self, state: list[int]) -> None: ...
    def forward(
        self, x: NDArray[Any], h0: ArrayLike | None = None, lengths: ArrayLike | None = None
    ) -> tuple[NDArray[np.floating[Any]], NDArray[np.floating[Any]]]: ...
    @overload
    def loss_and_grad(
        self,
        x: NDArray[Any],
        target: NDArray[Any],
        loss: str,
        reduction: str,
        h0: ArrayLike | None = None,
        lengths: ArrayLike | None = None,
        flow: Literal[False] = False,
    ) -> tuple[float, NDArray[np.floating[Any]]]: ...
    @overload
    def loss_and_grad(
        self,
        x: NDArray[Any],
        target: NDArray[Any],
        loss: str,
        reduction: str,
        h0: ArrayLike | None,
        lengths: ArrayLike | None,
        flow: Literal[True],
    ) -> tuple[float, NDArray[np.floating[Any]], NDArray[np.floating[Any]]]: ...
    def loss(
        self,
        x: NDArray[Any],
        target: NDArray[Any],
        loss: str,
        reduction: str,
        h0: ArrayLike | None = None,
        lengths: ArrayLike | None = None,
    ) -> tuple[float, NDArray[np.floating[Any]]]: ...
    def train_step(
        self,
        x: NDArray[Any],
        target: NDArray[Any],
        opt: _Optimizer,
        loss: str,
        reduction: str,
        clip_value: float,
        clip_norm: float,
        h0: ArrayLike | None = None,
        lengths: ArrayLike | None = None,
    ) -> tuple[float, NDArray[np.floating[Any]]]: ...
    def step(self, opt: _Optimizer, grads: NDArray[Any]) -> None: ...

# kind: "sgd", "adagrad", "rmsprop" or "adam"; size: the model's num_params. first and second are
# live views of the state buffers (momentum or exp_avg; sum of squares, square_avg or exp_avg_sq).

class _Optimizer:
    def __init__(
        self,
        kind: str,
        size: int,
        lr: float,
        momentum: float,
        nesterov: bool,
        weight_decay: float,
        eps: float,
        alpha: float,
        beta1: float,
        beta2: float,
        decoupled: bool,
    ) -> None: ...
    @property
    def first(self) -> NDArray[np.floating[Any]]: ...
    @property
    def second(self) -> NDArray[np.floating[Any]]: ...
    steps: int
    lr: float

class ModelF32(_Model): ...
class ModelF64(_Model): ...
class OptimizerF32(_Optimizer): ...
class OptimizerF64(_Optimizer): ...

def clip_grad_value(grads: Sequence[NDArray[np.float32]] | Sequence[NDArray[np.float64]], threshold: float) -> None:
    """Clips every element into [-threshold, threshold], in place."""

def clip_grad_norm(grads: Sequence[NDArray[np.float32]] | Sequence[NDArray[np.float64]], max_norm: float) -> float:
    """Scales all arrays by min(1, max_norm / (norm + 1e-6)), in place; returns the norm."""

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
