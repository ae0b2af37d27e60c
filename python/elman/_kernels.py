"""Which build of the native module becomes `elman._core`.

A source build has one, `_core`, compiled for the building machine. A distributed x86-64 wheel has two
builds of the same bindings (CMake's ELMAN_DISPATCH): `_core_avx2`, with AVX2 and FMA, and
`_core_baseline`, for any x86-64 CPU. `load_core` imports the one this CPU can run, or the one the
environment variable ELMAN_KERNELS names, and registers it as `elman._core`, which is what the rest of
the package imports. It never imports both: the two would register the same C++ types with pybind11.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

# The CPU flags each build of a wheel needs, best first.
_NEEDS = {"avx2": ("avx2", "fma"), "baseline": ()}


def _cpu_flags() -> set[str]:
    """The flags Linux reports, which leave out what the kernel does not enable (AVX without XSAVE);
    empty elsewhere, so that only the baseline is chosen."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def load_core() -> None:
    """Imports the build of the native module to use and registers it as elman._core (see above)."""
    forced = os.environ.get("ELMAN_KERNELS", "")
    if forced not in ("", *_NEEDS):
        raise ImportError(f"ELMAN_KERNELS is {forced!r}; expected 'baseline', 'avx2' or unset (chosen by CPU)")
    if importlib.util.find_spec("elman._core_baseline") is None:  # one module, _core: nothing to choose
        core = importlib.import_module("elman._core")
        if forced and forced != core.kernels:
            raise ImportError(
                f"ELMAN_KERNELS is {forced!r}, but this build of elman has only "
                f"{core.kernels!r} kernels (a choice exists in wheels built with ELMAN_DISPATCH)"
            )
        return
    flags = _cpu_flags()
    runnable = [name for name, needs in _NEEDS.items() if flags.issuperset(needs)]
    if forced and forced not in runnable:
        raise ImportError(
            f"ELMAN_KERNELS is {forced!r}, but this CPU lacks "
            f"{' and '.join(sorted(set(_NEEDS[forced]) - flags))} (per /proc/cpuinfo)"
        )
    sys.modules["elman._core"] = importlib.import_module(f"elman._core_{forced or runnable[0]}")
