"""The choice of native kernels at import (python/elman/_kernels.py). Choices that import a module are
made in a fresh interpreter: one process never loads two builds of it."""

import importlib.util
import os
import platform
import subprocess
import sys

import pytest

import elman
from elman import _kernels

DISPATCH = importlib.util.find_spec("elman._core_baseline") is not None  # a wheel with two builds


def import_elman(kernels):
    env = {**os.environ, "ELMAN_KERNELS": kernels}
    return subprocess.run(
        [sys.executable, "-c", "import elman; print(elman.kernels)"], env=env, capture_output=True, text=True
    )


def test_the_loaded_module_is_elman_core():
    assert elman.kernels in ("native", "baseline", "avx2")
    assert sys.modules["elman._core"] is elman._core
    assert elman._core.kernels == elman.kernels


def test_unknown_choice_is_refused():
    run = import_elman("avx512")
    assert run.returncode != 0
    assert "ELMAN_KERNELS is 'avx512'; expected 'baseline', 'avx2' or unset" in run.stderr


@pytest.mark.parametrize("kernels", ["baseline", "avx2"])
def test_forced_choice_is_loaded_or_refused_with_the_reason(kernels):
    run = import_elman(kernels)
    assert run.returncode == 0 or kernels != elman.kernels, run.stderr
    if run.returncode == 0:
        assert run.stdout.strip() == kernels
        return
    assert f"ELMAN_KERNELS is {kernels!r}, but" in run.stderr
    if DISPATCH:  # the baseline build runs on every x86-64 CPU
        assert kernels == "avx2" and "this CPU lacks" in run.stderr
    else:
        assert "has only" in run.stderr


@pytest.mark.skipif(platform.machine() != "x86_64" or not os.path.exists("/proc/cpuinfo"), reason="x86-64 Linux")
def test_cpu_flags_are_read():
    assert "sse2" in _kernels._cpu_flags()  # every x86-64 CPU has it


@pytest.mark.skipif(not DISPATCH, reason="a wheel with two builds of the module")
def test_avx2_forced_on_a_cpu_without_it_is_refused_before_anything_is_imported(monkeypatch):
    monkeypatch.setattr(_kernels, "_cpu_flags", lambda: {"sse2", "avx"})
    monkeypatch.setenv("ELMAN_KERNELS", "avx2")
    with pytest.raises(ImportError, match=r"ELMAN_KERNELS is 'avx2', but this CPU lacks avx2 and fma"):
        _kernels.load_core()
    assert sys.modules["elman._core"] is elman._core
