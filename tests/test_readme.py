"""README.md's Python examples run as written, so the README cannot drift from the library.

Every ```python block runs, in order, in one namespace (later blocks use earlier blocks' names), in a
fresh folder. A block that needs a package that is not installed (torch, onnx, onnxruntime) is skipped.
"""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=lambda i: f"block{i + 1}")
def test_readme_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    for i, code in enumerate(BLOCKS[: index + 1]):
        try:
            exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)
        except ModuleNotFoundError as e:
            if e.name and e.name.split(".")[0] in ("torch", "onnx", "onnxruntime"):
                pytest.skip(f"README block {i + 1} needs {e.name}, which is not installed")
            raise
