"""ctest "python_files": files cross between Python and C++ (run as `python python_files.py PROGRAM`).

Python writes a model and its outputs (forward over a batch, and m.step one step at a time) with elman;
PROGRAM (test_python_files.cpp) loads them with load_model, checks that its forward and its step loop
give Python's numbers, and saves the model with save_model; Python then loads that file and checks the
weights and metadata are identical. Exits 77 (ctest: skipped) where this Python cannot import elman.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77


def main() -> int:
    probe = subprocess.run([sys.executable, "-c", "import elman"], capture_output=True)
    if probe.returncode != 0:
        print(f"skipped: {sys.executable} cannot import elman (pip install . first)")
        return SKIP
    import numpy as np

    import elman
    from elman import files

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        m = elman.RNN(3, 6, 2, num_layers=2, dtype="float64", seed=4)
        m.params.flat[:] = rng.normal(scale=0.5, size=m.num_params)
        m.save(folder / "model.safetensors", metadata={"written_by": "Python", "note": "héllo"})
        T, B = 7, 4
        x = rng.normal(size=(T, B, 3))
        h0 = rng.normal(size=(2, B, 6))
        y, h_n = m.forward(x, h0=h0)
        steps, h = [], h0
        for t in range(T):
            y_t, h = m.step(x[t], h)
            steps.append(y_t)
        files.save_checkpoint(
            folder / "io.safetensors", {"x": x, "h0": h0, "y": y, "h_n": h_n, "y_steps": np.stack(steps)}, {}
        )
        run = subprocess.run([sys.argv[1], str(folder)], capture_output=True, text=True)
        print(run.stdout, run.stderr, sep="")
        if run.returncode != 0:
            return run.returncode
        back = elman.load(folder / "from_cpp.safetensors")
        ok = back.config == m.config and back.metadata == {
            "written_by": "C++",
            "note": "héllo",
        }
        ok = ok and all(np.array_equal(back.params[k], m.params[k]) for k in m.params)
        print(f"python_files: Python loads the C++ file with identical weights and metadata: {ok}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
