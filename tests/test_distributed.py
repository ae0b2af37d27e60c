"""Data parallelism on MPI: real `mpiexec -n 2` jobs (MPICH from PyPI) against one process on the
global batch, from the library and from the command line; resumes; failing and killed ranks."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import elman

from conftest import assert_close

mpi4py = pytest.importorskip("mpi4py", reason='mpi4py is not installed (pip install "elman[mpi]")')

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
MPIEXEC = shutil.which("mpiexec", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
if MPIEXEC is None:
    pytest.skip("mpi4py is installed but no mpiexec was found (pip install mpich)", allow_module_level=True)

sys.path.insert(0, str(HERE))
import mpi_worker  # noqa: E402

TIMEOUT = 180  # seconds: a hung job fails the test instead of hanging the suite
FAULT_TIMEOUT = 30  # seconds within which a failing or killed rank must end the whole job


def mpirun(n, *command, timeout=TIMEOUT, env=None):
    """`mpiexec -n n command...`; fails the test if the job does not end within `timeout`, after
    killing its whole process group (mpiexec, proxies and ranks)."""
    full = {**os.environ, "ELMAN_NUM_THREADS": "1", **(env or {})}
    job = subprocess.Popen(
        [MPIEXEC, "-n", str(n), *map(str, command)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
        start_new_session=True,
    )
    try:
        out, err = job.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        out, err = job.communicate()
        pytest.fail(f"the MPI job did not end within {timeout} s (a hang): {err}")
    return subprocess.CompletedProcess(job.args, job.returncode, out, err)


def worker(n, case, out):
    result = mpirun(n, sys.executable, "-m", "mpi4py", HERE / "mpi_worker.py", case, out)
    assert result.returncode == 0, result.stderr
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(n)]


@pytest.mark.parametrize("case", ["mse", "cross_entropy", "gaussian_nll"])
def test_two_ranks_equal_one_process_on_the_global_batch(case, tmp_path):
    ranks = worker(2, case, tmp_path)
    one = mpi_worker.train(case)
    for key in ("params", "losses", "grads", "flow"):
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key], err_msg=f"{key} differ between the ranks")
        assert_close(ranks[0][key], one[key], 1e-10, key)
    initial = elman.RNN(**mpi_worker.problem(case)[0]).params.flat
    assert np.abs(one["params"] - initial).max() > 1e-3, (
        "the steps must move the weights for the check to mean anything"
    )


def test_broadcast_makes_replicas_equal_and_threads_default_to_the_rank_share(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ELMAN_NUM_THREADS", "OMP_NUM_THREADS")}
    result = subprocess.run(
        [MPIEXEC, "-n", "2", sys.executable, "-m", "mpi4py", HERE / "mpi_worker.py", "broadcast", tmp_path],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    r0, r1 = (dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(2))
    assert not np.array_equal(r0["before"], r1["before"])
    np.testing.assert_array_equal(r1["params"], r0["before"])
    for key in r0:
        if key != "before":
            np.testing.assert_array_equal(r0[key], r1[key], err_msg=key)
    assert r0["lr"] == 0.01 and r0["step"] == 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if cores == os.cpu_count():  # not pinned: the machine's cores shared by the two ranks on it
        assert r0["threads"] == max(1, cores // 2)


def test_bad_arguments_name_what_was_expected():
    m = elman.RNN(3, 4, 2, seed=0)
    opt = elman.optim.SGD(m, lr=0.1)
    x, y = np.zeros((5, 2, 3)), np.zeros((5, 2, 2))
    with pytest.raises(TypeError, match=r"comm is .*expected an mpi4py communicator"):
        m.train_step(x, y, opt, comm="world")
    with pytest.raises(TypeError, match=r"comm is .*expected an mpi4py communicator"):
        elman.Trainer(m, opt, comm=1)
    from mpi4py import MPI

    import elman.distributed as dist

    with pytest.raises(ValueError, match=r"axis is 3; expected an axis of an array of shape \(5, 2, 3\)"):
        dist.shard(x, MPI.COMM_WORLD, axis=3)
    with pytest.raises(ValueError, match=r"n is 0; expected an integer >= 1"):
        dist.bounds(0, MPI.COMM_WORLD)
    with pytest.raises(ValueError, match="optimizer must be an elman.optim optimizer built for model"):
        dist.broadcast(m, MPI.COMM_WORLD, elman.optim.SGD(elman.RNN(3, 4, 2, seed=0), lr=0.1))


def test_a_rank_that_raises_ends_the_job(tmp_path):
    # dist.init() installs the hook that aborts: plain `python`, no `-m mpi4py`
    result = mpirun(2, sys.executable, HERE / "mpi_worker.py", "raise", tmp_path, timeout=FAULT_TIMEOUT)
    assert result.returncode != 0
    assert "rank 1 fails on purpose" in result.stderr


def test_a_killed_rank_ends_the_job(tmp_path):
    result = mpirun(2, sys.executable, "-m", "mpi4py", HERE / "mpi_worker.py", "kill", tmp_path, timeout=FAULT_TIMEOUT)
    assert result.returncode != 0


# ------------------------------------------------------------------------------------ command line

CLI = ["--hidden", "24", "--seq-len", "10", "--batch", "4", "--val-every", "10", "--dtype", "float64", "--no-progress"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("".join(f"{i} bottles of beer on the wall, {i} bottles of beer.\n" for i in range(99, 0, -1)))
    return path


def elman_train(n, corpus, folder, *argv):
    folder.mkdir(exist_ok=True)
    args = ["train", corpus, *CLI, "--out", folder / "m.safetensors", "--history", folder / "h.json", *argv]
    if n == 0:  # one plain process, no mpiexec
        result = subprocess.run(
            [sys.executable, "-m", "elman", *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT
        )
    else:
        result = mpirun(n, sys.executable, "-m", "elman", *args)
    assert result.returncode == 0, result.stderr
    history = json.loads((folder / "h.json").read_text())
    return elman.load(folder / "m.safetensors"), history, result.stdout


def test_cli_two_ranks_equal_one_process(corpus, tmp_path):
    one, one_history, _ = elman_train(0, corpus, tmp_path / "one", "--steps", "30")
    two, two_history, out = elman_train(2, corpus, tmp_path / "two", "--steps", "30")
    assert "2 MPI ranks of 2 streams" in out
    assert out.count("sample:") == 1, "only rank 0 prints"
    assert_close(two.params.flat, one.params.flat, 1e-10, "weights")
    for a, b in zip(one_history, two_history):
        for key in ("loss", "val_loss", "grad_ratio", "spectral_radius"):
            if key in a:
                assert b[key] == pytest.approx(a[key], rel=1e-10), key
    assert [r["step"] for r in one_history] == [r["step"] for r in two_history]


def test_cli_resume_at_two_ranks_is_bit_identical_and_continues_at_one(corpus, tmp_path):
    whole, _, _ = elman_train(2, corpus, tmp_path / "whole", "--steps", "40")
    ckpt = tmp_path / "ckpt.safetensors"
    elman_train(2, corpus, tmp_path / "first", "--steps", "20", "--checkpoint", ckpt)
    saved = shutil.copy(ckpt, tmp_path / "saved.safetensors")
    resumed, _, out = elman_train(2, corpus, tmp_path / "resumed", "--steps", "40", "--resume", ckpt)
    assert "resumed" in out
    np.testing.assert_array_equal(resumed.params.flat, whole.params.flat)
    # the same checkpoint at another number of ranks (one process) continues the same run
    other, _, _ = elman_train(0, corpus, tmp_path / "other", "--steps", "40", "--resume", saved)
    assert_close(other.params.flat, whole.params.flat, 1e-10, "weights resumed at 1 process")


def long_cli_job_where_rank_one(corpus, tmp_path, prelude):
    """A 2-rank `elman train` meant to run for long, in which rank 1 first runs `prelude` (Python code
    that may change `argv`); the job must end within FAULT_TIMEOUT."""
    script = tmp_path / "rank_one_differs.py"
    body = "".join(f"    {line}\n" for line in prelude.splitlines())
    script.write_text(
        "import os, signal, sys, threading\nfrom elman.cli import main\nargv = sys.argv[1:]\n"
        f"if os.environ['PMI_RANK'] == '1':\n{body}sys.exit(main(argv))\n"
    )
    command = ["train", corpus, *CLI, "--steps", "100000", "--out", tmp_path / "m"]
    return mpirun(2, sys.executable, script, *command, timeout=FAULT_TIMEOUT)


def test_cli_a_failing_rank_ends_the_job(corpus, tmp_path):
    # rank 1 alone is given an output folder that does not exist, so it stops at once while rank 0
    # trains on into the first all-reduce
    result = long_cli_job_where_rank_one(
        corpus, tmp_path, "argv += ['--plot', os.path.join(os.path.dirname(argv[-1]), 'missing', 'p.png')]"
    )
    assert result.returncode != 0
    assert "missing" in result.stderr and "does not exist" in result.stderr


def test_cli_a_killed_rank_ends_the_job(corpus, tmp_path):
    # rank 1 is killed (SIGKILL: no handler runs) a second into a run that would otherwise go on for long
    result = long_cli_job_where_rank_one(
        corpus, tmp_path, "threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGKILL)).start()"
    )
    assert result.returncode != 0
    assert not (tmp_path / "m").exists(), "no model is written by a job that failed"
