"""elman: exact, fast Elman recurrent networks with a C++/Eigen core."""

import os as _os

from . import _core, data, optim
from ._core import NonFiniteError
from .clip import clip_grad_norm, clip_grad_value
from .files import load_model as load
from .interop import export_onnx
from .model import RNN
from .params import ParamDict
from .train import Cosine, StepDecay, Trainer, Warmup

__version__ = _core.__version__


def set_num_threads(n: int) -> None:
    """Threads of the native core (default 1): the recurrence splits the batch across them, the
    whole-sequence products split rows. A forked child process starts again with 1 (OpenMP's
    threads do not survive a fork)."""
    from ._validate import integer

    _core.set_num_threads(integer("n", n, 1))


def get_num_threads() -> int:
    return _core.get_num_threads()


_os.register_at_fork(after_in_child=lambda: _core.set_num_threads(1))


__all__ = [
    "Cosine",
    "NonFiniteError",
    "RNN",
    "StepDecay",
    "Trainer",
    "Warmup",
    "ParamDict",
    "clip_grad_norm",
    "clip_grad_value",
    "data",
    "export_onnx",
    "load",
    "get_num_threads",
    "optim",
    "set_num_threads",
    "__version__",
]
