"""What the ranks of tests/test_distributed.py run: `mpiexec -n W python -m mpi4py mpi_worker.py CASE OUT`.

Each case trains on its rank's shard of a global batch that `problem` builds from a seed, and rank r
writes OUT/rank{r}.npz (final weights, losses, whatever the case checks). The test builds the same
global batch and trains one process on it as the reference.
"""

import os
import signal
import sys

import numpy as np

import elman
import elman.distributed as dist

STEPS = 4


def problem(case):
    """(model kwargs, optimizer class, optimizer kwargs, step kwargs, x, target, lengths) of a case."""
    rng = np.random.default_rng(7)
    T, I, H, O = 9, 3, 6, 4
    if case == "mse":
        B = 5  # two ranks take 2 and 3 sequences
        x = rng.normal(size=(T, B, I))
        target = rng.normal(size=(T, B, O))
        lengths = np.array([2, 3, 9, 8, 9])  # the first shard's sequences much shorter than the second's
        x[np.arange(T)[:, None] >= lengths] = 0.0
        model = dict(input_size=I, hidden_size=H, output_size=O, num_layers=2, dtype="float64", seed=3)
        # both clips bind: by value first, then by norm
        step = dict(loss="mse", clip_value=0.05, clip_norm=0.08)
        return model, elman.optim.Adam, dict(lr=0.05), step, x, target, lengths
    if case == "cross_entropy":
        B, V = 6, 5
        x = rng.integers(0, V, size=(T, B))
        target = rng.integers(0, V, size=(T, B))
        target[:, :3][rng.random((T, 3)) < 0.6] = elman._core.ignore_index  # most ignored on the first rank
        target[0, 3:] = elman._core.ignore_index
        model = dict(input_size=V, hidden_size=H, output_size=V, bidirectional=True, dtype="float64", seed=4)
        step = dict(loss="cross_entropy", clip_norm=0.3)
        return model, elman.optim.SGD, dict(lr=0.5, momentum=0.9), step, x, target, None
    if case == "gaussian_nll":  # the forecaster's loss: O = 4 outputs, the means and log-variances of 2 targets
        B = 3
        x = rng.normal(size=(T, B, I))
        target = rng.normal(size=(T, B, O // 2))
        lengths = np.array([4, 9, 7])
        x[np.arange(T)[:, None] >= lengths] = 0.0
        model = dict(input_size=I, hidden_size=H, output_size=O, dtype="float64", seed=5)
        step = dict(loss="gaussian_nll", clip_norm=0.5)
        return model, elman.optim.SGD, dict(lr=0.2), step, x, target, lengths
    raise ValueError(f"no case {case!r}")


def train(case, comm=None):
    """The case's model after STEPS steps, its losses, and the loss_and_grad/gradient_flow after them."""
    kwargs, opt_class, opt_kwargs, step, x, target, lengths = problem(case)
    model = elman.RNN(**kwargs)
    opt = opt_class(model, **opt_kwargs)
    if comm is not None:
        x, target = dist.shard(x, comm), dist.shard(target, comm)
        lengths = None if lengths is None else dist.shard(lengths, comm, axis=0)
    losses = [model.train_step(x, target, opt, lengths=lengths, comm=comm, **step)[0] for _ in range(STEPS)]
    loss, grads, _ = model.loss_and_grad(x, target, loss=step["loss"], lengths=lengths, comm=comm)
    grads = grads.flat.copy()
    flow = model.gradient_flow(x, target, loss=step["loss"], lengths=lengths, comm=comm)
    return dict(params=model.params.flat.copy(), losses=np.array(losses + [loss]), grads=grads, flow=flow.norms)


def main():
    case, out = sys.argv[1], sys.argv[2]
    comm = dist.init()
    rank = comm.Get_rank()
    if case == "raise":
        if rank == 1:
            raise RuntimeError("rank 1 fails on purpose")
        comm.Barrier()  # rank 0 waits for rank 1, which never comes
        return
    if case == "kill":
        m = elman.RNN(3, 8, 2, seed=0)
        opt = elman.optim.SGD(m, lr=0.1)
        x, y = np.zeros((5, 2, 3)), np.zeros((5, 2, 2))
        for i in range(1000000):
            if rank == 1 and i == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            m.train_step(x, y, opt, comm=comm)
        return
    if case == "broadcast":  # replicas built differently, made equal by rank 0's state
        m = elman.RNN(3, 8, 2, seed=rank)
        opt = elman.optim.Adam(m, lr=0.01 * (rank + 1))
        m.train_step(np.full((4, 2, 3), rank + 1.0), np.zeros((4, 2, 2)), opt)
        before = m.params.flat.copy()
        dist.broadcast(m, comm, opt)
        state = opt.state_dict()
        result = dict(before=before, params=m.params.flat, threads=elman.get_num_threads(), lr=opt.lr)
        result.update({f"opt_{k}": v for k, v in state["state"].items()}, step=state["step"])
        np.savez(os.path.join(out, f"rank{rank}.npz"), **result)
        return
    result = train(case, comm)
    np.savez(os.path.join(out, f"rank{rank}.npz"), **result)


if __name__ == "__main__":
    main()
