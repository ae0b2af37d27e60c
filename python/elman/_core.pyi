# Types of the native module built from cpp/bindings/module.cpp; keep the two in step. A wheel with
# runtime dispatch holds two builds of it, _core_avx2 and _core_baseline, and _kernels.py registers the
# one in use as elman._core.
from collections.abc import Sequence
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import NDArray

__version__: str
kernels: str  # "native", "baseline" or "avx2": what the module was compiled for
ignore_index: int  # the class target that loss "cross_entropy" skips (-100, as in PyTorch)

class NonFiniteError(FloatingPointError):
    """A loss or gradient that is not finite: train_step left the weights as they were."""

# ModelF32/OptimizerF32 and ModelF64/OptimizerF64 are one C++ template each, at float32 and float64.
# _Model and _Optimizer exist only in this stub: they name what the two share, so that code choosing a
# class by dtype type-checks. A model takes an optimizer of its own dtype (checked at run time).

# x: (T, B, I) real numbers or (T, B) integer tokens, (B, T, ...) for a batch_first model, or one
# sequence without the B axis. target: shaped like y for "mse", (T, B) classes for "cross_entropy".
# h0: (L*D, B, H) or None for zeros. lengths: (B,) integers or None. Arrays of any real dtype, lists
# included: the module converts and checks them. params and grads are live flat views of the model's
# buffers. The loss calls return (loss, count, h_n), count being what "mean" divides by.
class _Model:
    def __init__(
        self,
        *,
        input_size: int,
        hidden_size: int,
        output_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bidirectional: bool = False,
        dropout: float = 0.0,
        batch_first: bool = False,
        init: str = "uniform",
        seed: int = 0,
    ) -> None: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def params(self) -> NDArray[np.floating[Any]]: ...
    @property
    def grads(self) -> NDArray[np.floating[Any]]: ...
    @property
    def tensors(self) -> list[tuple[str, tuple[int, ...], int]]: ...
    @property
    def dropout_rng_state(self) -> list[int]: ...
    @dropout_rng_state.setter
    def dropout_rng_state(self, state: object) -> None: ...
    def forward(
        self, x: object, h0: object = None, lengths: object = None
    ) -> tuple[NDArray[np.floating[Any]], NDArray[np.floating[Any]]]: ...
    @overload
    def loss_and_grad(
        self,
        x: object,
        target: object,
        loss: object,
        reduction: object,
        h0: object = None,
        lengths: object = None,
        flow: Literal[False] = False,
    ) -> tuple[float, int, NDArray[np.floating[Any]]]: ...
    @overload
    def loss_and_grad(
        self,
        x: object,
        target: object,
        loss: object,
        reduction: object,
        h0: object,
        lengths: object,
        flow: Literal[True],
    ) -> tuple[float, int, NDArray[np.floating[Any]], NDArray[np.floating[Any]]]: ...
    def loss(
        self,
        x: object,
        target: object,
        loss: object,
        reduction: object,
        h0: object = None,
        lengths: object = None,
    ) -> tuple[float, int, NDArray[np.floating[Any]]]: ...
    def train_step(
        self,
        x: object,
        target: object,
        opt: _Optimizer,
        loss: object,
        reduction: object,
        clip_value: object = None,
        clip_norm: object = None,
        h0: object = None,
        lengths: object = None,
    ) -> tuple[float, NDArray[np.floating[Any]]]: ...
    def update(self, opt: _Optimizer, grads: object) -> None: ...
    # train_step in two phases around an in-place all-reduce of reduction_buffer (grads, then the
    # loss sum and the count): gradient_phase -> (local loss sum, local count, h_n).
    @property
    def reduction_buffer(self) -> NDArray[np.floating[Any]]: ...
    def gradient_phase(
        self, x: object, target: object, loss: object, h0: object = None, lengths: object = None
    ) -> tuple[float, int, NDArray[np.floating[Any]]]: ...
    def reduce_phase(self, reduction: object) -> tuple[float, int]: ...
    def update_phase(
        self, opt: _Optimizer, reduction: object, clip_value: object = None, clip_norm: object = None
    ) -> float: ...
    # x_t: (B, I) reals or (B,) tokens, or one sequence's (I,) or token; h: (L, B, H), (L, H) or None.
    def step(self, x_t: object, h: object = None) -> tuple[NDArray[np.floating[Any]], NDArray[np.floating[Any]]]: ...
    # Returns the tokens (num_samples, length) and the state that gave the last draw (L, num_samples, H).
    def generate(
        self,
        prime: object,
        length: object,
        temperature: object,
        top_k: object,
        top_p: object,
        num_samples: object,
        h0: object,
        seed: object,
        first_draw: object = 0,
    ) -> tuple[NDArray[np.int64], NDArray[np.floating[Any]]]: ...

# kind: "sgd", "adagrad", "rmsprop" or "adam"; size: the model's num_params. first and second are
# live views of the state buffers (momentum or exp_avg; sum of squares, square_avg or exp_avg_sq).

class _Optimizer:
    def __init__(
        self,
        *,
        kind: str,
        size: int,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        eps: float = 1e-8,
        alpha: float = 0.99,
        betas: object = (0.9, 0.999),
        decoupled: bool = False,
    ) -> None: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def first(self) -> NDArray[np.floating[Any]]: ...
    @property
    def second(self) -> NDArray[np.floating[Any]]: ...
    @property
    def steps(self) -> int: ...
    @steps.setter
    def steps(self, steps: object) -> None: ...
    @property
    def lr(self) -> float: ...
    @lr.setter
    def lr(self, lr: object) -> None: ...

class ModelF32(_Model): ...
class ModelF64(_Model): ...
class OptimizerF32(_Optimizer): ...
class OptimizerF64(_Optimizer): ...

def clip_grad_value(grads: Sequence[NDArray[np.float32]] | Sequence[NDArray[np.float64]], threshold: object) -> None:
    """Clips every element into [-threshold, threshold], in place."""

def clip_grad_norm(grads: Sequence[NDArray[np.float32]] | Sequence[NDArray[np.float64]], max_norm: object) -> float:
    """Scales all arrays by min(1, max_norm / (norm + 1e-6)), in place; returns the norm."""

def layout(
    *,
    input_size: int,
    hidden_size: int,
    output_size: int,
    num_layers: int = 1,
    nonlinearity: str = "tanh",
    bidirectional: bool = False,
    dropout: float = 0.0,
    batch_first: bool = False,
    init: str = "uniform",
    seed: int = 0,
) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...], int]]]:
    """The checked configuration and every parameter's (name, shape, offset) of a model, without building it."""

def set_num_threads(n: object) -> None: ...
def get_num_threads() -> int: ...
def threads_from_environment() -> int: ...
