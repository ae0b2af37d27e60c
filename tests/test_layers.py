"""The package's layers: a module imports only modules of lower layers (imports inside functions count).

The layers are docs/architecture.md's; a new module must be placed in one here.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "elman"

LAYERS = [
    {"_core", "_kernels", "_validate", "_mpi"},
    {"params"},
    {"files", "clip", "diagnostics", "pytorch"},
    {"model"},
    {"optim", "interop"},
    {"data", "plots"},
    {"distributed"},
    {"train", "sampling", "forecasting"},
    {"forecaster"},
    {"cli"},
    {"__main__"},
]


def layer_of(module: str) -> int:
    top = module.split(".")[0]
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"elman.{module} is in no layer of tests/test_layers.py; place it in one")


def is_module(name: str) -> bool:
    """Whether elman.<name> is a module (not a name the package's __init__ defines, like __version__)."""
    path = PACKAGE.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or path.is_dir() or name == "_core"


def package_imports(path: Path) -> set[str]:
    """The elman modules a file imports, relative to the package ("model", "data.text", ...)."""
    module = path.relative_to(PACKAGE).with_suffix("").parts
    package = module[:-1] if module[-1] != "__init__" else module[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                target = base + (node.module.split(".") if node.module else [])
                names = [".".join(target)] if node.module else [".".join(target + [a.name]) for a in node.names]
            elif node.module and node.module.startswith("elman."):
                names = [node.module[len("elman.") :]]
            else:
                continue
            found.update(n for n in names if n and is_module(n))
        elif isinstance(node, ast.Import):
            found.update(a.name[len("elman.") :] for a in node.names if a.name.startswith("elman."))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_look_down(path):
    own = path.relative_to(PACKAGE).with_suffix("").parts[0]
    mine = layer_of(own)
    for target in package_imports(path):
        if target.split(".")[0] == own:
            continue  # within a subpackage
        assert layer_of(target) < mine, f"elman.{own} (layer {mine}) imports elman.{target} (layer {layer_of(target)})"
