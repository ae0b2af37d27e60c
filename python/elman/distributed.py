"""Data-parallel training on MPI (mpi4py; `pip install "elman[mpi]"` brings it with MPICH).

Every process (rank) holds a full replica of the model and its shard of the global batch. After the
native gradient phase, one in-place all-reduce sums the flat gradient buffer with the loss sum and
the count of valid positions; clipping and the update then run natively on every rank
(`RNN.train_step(..., comm=comm)`), so the replicas stay bit-identical. Text streams are sharded by
rank: rank r of W owns streams [r*B/W, (r+1)*B/W) of the B, so carried hidden states stay exact.
Dropout is the one exception to "equals one process": each rank draws its shard's masks from its own
copy of the generator (rank 0's after `broadcast`), not the masks one process would draw for those rows.

    comm = elman.distributed.init()        # under `mpiexec -n W python -m mpi4py script.py`
    elman.distributed.broadcast(m, comm, opt)
    train = elman.distributed.shard_text(tokens, batch_size, seq_len, comm)
    elman.Trainer(m, opt, loss="cross_entropy", comm=comm).fit(train, steps)
"""

from __future__ import annotations

import os
import stat
import struct
import sys
import time
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from . import _validate as check
from ._mpi import INSTALL, communicator
from .data import TextBatches
from .model import RNN
from .optim import Optimizer

# Environment variables that launchers (MPICH's and Open MPI's mpiexec, Slurm's srun) give every process.
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE")


def launched() -> bool:
    """Whether this process was started by an MPI launcher (mpiexec, srun)."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def init(threads: int | None = None) -> Any:
    """mpi4py's COMM_WORLD (size 1 when not started by mpiexec), with two settings for a job:

    - an uncaught exception on any rank prints its traceback and aborts the whole job (MPI_Abort),
      so the other ranks never wait forever in a collective;
    - the native threads of this rank: `threads`, else ELMAN_NUM_THREADS or OMP_NUM_THREADS, else
      the cores this rank may use (`rank_cores`).
    """
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError(f"elman.distributed needs mpi4py: {INSTALL}") from None
    comm = MPI.COMM_WORLD
    if comm.Get_size() > 1:
        sys.excepthook = _abort_hook(comm, sys.excepthook)
    if threads is None:
        threads = _core.threads_from_environment() or rank_cores(comm)  # the core reads the variables
    _core.set_num_threads(check.integer("threads", threads, 1))
    return comm


def rank_cores(comm: Any) -> int:
    """The cores this rank may use: its CPU affinity if the launcher pinned it to part of the
    machine; if not (MPICH's default), the machine's cores divided among the ranks on it."""
    comm = communicator(comm)
    mine = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if mine < (os.cpu_count() or 1):
        return max(1, mine)
    from mpi4py import MPI

    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return max(1, mine // local.Get_size())
    finally:
        local.Free()


def _abort_hook(comm: Any, previous: Any) -> Any:
    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        previous(kind, value, tb)
        sys.stderr.write(f"elman.distributed: rank {comm.Get_rank()} failed; aborting the job\n")
        _drain_output()
        comm.Abort(1)

    return hook


def abort_if_running(status: int) -> None:
    """Ends the whole job with `status` when this process is one of several MPI ranks (after an
    error the others would otherwise wait for it in a collective); else does nothing."""
    if "mpi4py.MPI" not in sys.modules:
        return
    MPI = sys.modules["mpi4py.MPI"]
    if MPI.Is_initialized() and not MPI.Is_finalized() and MPI.COMM_WORLD.Get_size() > 1:
        _drain_output()
        MPI.COMM_WORLD.Abort(status)


def _drain_output(most: float = 2.0) -> None:
    """Flushes stdout and stderr, then waits (at most `most` seconds) until the launcher has read
    what they hold: MPI_Abort kills the job at once, and a message still in the pipe to mpiexec's
    proxy (the reason this rank failed) would be lost with it."""
    sys.stdout.flush()
    sys.stderr.flush()
    deadline = time.monotonic() + most
    for fd in (1, 2):
        while _unread(fd) > 0 and time.monotonic() < deadline:
            time.sleep(0.005)


def _unread(fd: int) -> int:
    """The bytes written to `fd` that its reader has not taken yet, where it is a pipe (else 0)."""
    try:
        import fcntl  # POSIX only, as MPI launchers' pipes are
        import termios

        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return 0
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    except (ImportError, OSError):
        return 0


def broadcast(model: RNN, comm: Any, optimizer: Optimizer | None = None) -> None:
    """Rank 0's weights and dropout generator (and `optimizer`'s state: buffers, step count, lr)
    into every rank's, in place: replicas built differently start the same."""
    comm = communicator(comm)
    if not isinstance(model, RNN):
        raise TypeError(f"model is a {type(model).__name__}; expected an elman.RNN")
    if optimizer is not None and (not isinstance(optimizer, Optimizer) or optimizer.model is not model):
        raise ValueError("optimizer must be an elman.optim optimizer built for model")
    comm.Bcast(model.params.flat, root=0)
    model.set_rng_state(comm.bcast(model.get_rng_state(), root=0))
    if optimizer is not None:
        state = comm.bcast(optimizer.state_dict() if comm.Get_rank() == 0 else None, root=0)
        if comm.Get_rank() != 0:
            optimizer.load_state_dict(state)


def bounds(n: int, comm: Any) -> tuple[int, int]:
    """[start, stop) of this rank's share of n items: rank r of W takes [r*n//W, (r+1)*n//W), which
    is [r*n/W, (r+1)*n/W) when W divides n."""
    comm = communicator(comm)
    n = check.integer("n", n, 1)
    rank, size = comm.Get_rank(), comm.Get_size()
    if n < size:
        raise ValueError(f"n is {n}; expected at least one item for each of the {size} ranks")
    return rank * n // size, (rank + 1) * n // size


def shard(array: npt.ArrayLike, comm: Any, axis: int = 1) -> np.ndarray:
    """This rank's part of `array` along `axis` (a view): axis 1 is the batch axis of a time-major
    x (T, B, ...) or target, axis 0 that of lengths (B,) or of batch-first arrays."""
    a = check.array("array", array)
    axis = check.integer("axis", axis)
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"axis is {axis}; expected an axis of an array of shape {check.shape_str(a.shape)}")
    start, stop = bounds(a.shape[axis], comm)
    index: list[slice] = [slice(None)] * a.ndim
    index[axis] = slice(start, stop)
    return a[tuple(index)]


class TextShard(TextBatches):
    """The batches of `TextBatches(tokens, batch_size, seq_len)` restricted to this rank's streams
    `streams` = bounds(batch_size, comm): x and target (S, stop - start). Positions, epochs and
    state_dict are the global batches', the same on every rank, so a checkpoint's data position
    resumes at any number of ranks."""

    def __init__(self, tokens: npt.ArrayLike, batch_size: int, seq_len: int, comm: Any) -> None:
        super().__init__(tokens, batch_size, seq_len)
        self.streams = bounds(self.batch_size, comm)
        self._index = self._index[:, slice(*self.streams)]


def shard_text(tokens: npt.ArrayLike, batch_size: int, seq_len: int, comm: Any) -> TextShard:
    """This rank's streams of the global batches of B = batch_size streams (see TextShard)."""
    return TextShard(tokens, batch_size, seq_len, comm)


def gather_streams(state: np.ndarray, comm: Any) -> np.ndarray | None:
    """Every rank's carried states (L*D, B_r, H) side by side in rank order, (L*D, B, H), on rank 0
    (None elsewhere): the state one process would carry for the whole batch."""
    comm = communicator(comm)
    parts = comm.gather(np.ascontiguousarray(state), root=0)
    return None if parts is None else np.concatenate(parts, axis=1)
