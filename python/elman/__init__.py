"""elman: exact, fast Elman recurrent networks with a C++/Eigen core."""

from ._kernels import load_core as _load_core

_load_core()  # elman._core: the build of the native module this CPU runs (see _kernels.py)

from . import _core, data, optim  # noqa: E402
from ._core import NonFiniteError  # noqa: E402
from .clip import clip_grad_norm, clip_grad_value  # noqa: E402
from .forecaster import Forecaster  # noqa: E402
from .interop import export_onnx  # noqa: E402
from .model import RNN, load  # noqa: E402
from .params import ParamDict  # noqa: E402
from .train import Cosine, StepDecay, Trainer, Warmup  # noqa: E402

__version__: str = _core.__version__
kernels: str = _core.kernels
"""The native kernels in use: "avx2" or "baseline" (any x86-64 CPU) from a wheel, which chooses by CPU
unless the environment variable ELMAN_KERNELS names one; "native" from a source build."""


def set_num_threads(n: int) -> None:
    """Threads of the native core. Default: the environment variable ELMAN_NUM_THREADS, else
    OMP_NUM_THREADS, else the cores this process may run on (its CPU affinity); a call too small to
    pay for more runs on one. The recurrence splits the batch across them, the whole-sequence
    products split rows, in more parts than threads claimed one at a time, so that another program
    busy on a core slows a step down no more than that core's share. A forked child process starts
    again with 1 (the parent's threads do not exist in it)."""
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The threads the native core uses (see set_num_threads)."""
    return _core.get_num_threads()


_core.get_num_threads()  # the default, now: a bad ELMAN_NUM_THREADS or OMP_NUM_THREADS is an error at import


__all__ = [
    "Cosine",
    "Forecaster",
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
    "kernels",
    "optim",
    "set_num_threads",
    "__version__",
]
