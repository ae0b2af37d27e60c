"""Data parallelism on MPI: real `mpiexec -n 2` jobs (MPICH from PyPI) against one process on the
global batch, from the library and from the command line; resumes; failing and killed ranks."""

import json
import os
import shutil
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


def mpirun(n, *command, timeout=TIMEOUT, env=None):
    """`mpiexec -n n command...`; fails the test if the job does not end within `timeout`."""
    full = {**os.environ, "ELMAN_NUM_THREADS": "1", **(env or {})}
    try:
        return subprocess.run(
            [MPIEXEC, "-n", str(n), *map(str, command)], capture_output=True, text=True, timeout=timeout, env=full
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the MPI job did not end within {timeout} s (a hang): {e.stderr}")


def worker(n, case, out):
    result = mpirun(n, sys.executable, "-m", "mpi4py", HERE / "mpi_worker.py", case, out)
    assert result.returncode == 0, result.stderr
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(n)]


@pytest.mark.parametrize("case", ["mse", "cross_entropy"])
def test_two_ranks_equal_one_process_on_the_global_batch(case, tmp_path):
    ranks = worker(2, case, tmp_path)
    one = mpi_worker.train(case)
    for key in ("params", "losses", "grads", "flow"):
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key], err_msg=f"{key} differ between the ranks")
        assert_close(ranks[0][key], one[key], 1e-10, key)
    initial = elman.RNN(**mpi_worker.problem(case)[0]).params.flat
    assert np.abs(one["params"] - initial).max() > 1e-3, "the steps must move the weights for the check to mean anything"


def test_a_rank_that_raises_ends_the_job(tmp_path):
    # dist.init() installs the hook that aborts: plain `python`, no `-m mpi4py`
    result = mpirun(2, sys.executable, HERE / "mpi_worker.py", "raise", tmp_path)
    assert result.returncode != 0
    assert "rank 1 fails on purpose" in result.stderr


def test_a_killed_rank_ends_the_job(tmp_path):
    result = mpirun(2, sys.executable, "-m", "mpi4py", HERE / "mpi_worker.py", "kill", tmp_path)
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


def test_cli_a_failing_rank_ends_the_job(corpus, tmp_path):
    # rank 1 alone is given an output folder that does not exist, so it stops at once while rank 0
    # trains on into the first all-reduce
    script = tmp_path / "one_rank_fails.py"
    script.write_text(
        "import os, sys\nfrom elman.cli import main\n"
        "argv = sys.argv[1:]\n"
        "if os.environ['PMI_RANK'] == '1':\n"
        "    argv += ['--plot', os.path.join(os.path.dirname(argv[-1]), 'missing', 'p.png')]\n"
        "sys.exit(main(argv))\n"
    )
    result = mpirun(2, sys.executable, script, "train", corpus, *CLI, "--steps", "100000", "--out", tmp_path / "m")
    assert result.returncode != 0
    assert "missing" in result.stderr and "does not exist" in result.stderr
