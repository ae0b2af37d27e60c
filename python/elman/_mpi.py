"""What the layers below elman.distributed need of MPI: a checked communicator and an in-place sum.

mpi4py is optional (the "mpi" extra) and importing mpi4py.MPI initializes MPI, so it is imported
only once a communicator is given, never by `import elman`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

INSTALL = 'pip install "elman[mpi]"'
"""How to get mpi4py and MPICH, for error messages."""


def communicator(comm: Any, name: str = "comm") -> Any:
    """`comm` if it is an mpi4py intracommunicator (such as MPI.COMM_WORLD), else a TypeError."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise TypeError(
            f"{name} is {comm!r}; expected an mpi4py communicator, and mpi4py is not installed ({INSTALL})"
        ) from None
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError(f"{name} is {comm!r} ({type(comm).__name__}); expected an mpi4py communicator (MPI.COMM_WORLD)")
    return comm


def sum_in_place(comm: Any, buffer: np.ndarray) -> None:
    """Replaces the contiguous `buffer` on every process with its sum over the processes of `comm`."""
    from mpi4py import MPI

    comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
