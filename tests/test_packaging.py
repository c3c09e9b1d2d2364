"""The one dependency rule of docs/design.md and the mirror of the backends, checked on the
installed packages."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import dualnet
import reference_numpy
import torch_impl

pytestmark = pytest.mark.packaging

BLOCK_TORCH = """
import sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "torchvision", "dualnet", "torch_impl"}:
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Refuse())
try:
    import torch
except ImportError:
    pass
else:
    raise SystemExit("torch imported although it was blocked")
"""


def test_reference_numpy_imports_with_numpy_alone():
    code = (
        BLOCK_TORCH
        + """
import pkgutil, importlib, reference_numpy
for module in pkgutil.walk_packages(reference_numpy.__path__, "reference_numpy."):
    importlib.import_module(module.name)
loaded = sorted(n.split(".")[0] for n in sys.modules)
assert "torch" not in loaded and "dualnet" not in loaded, loaded
import numpy as np
out, cache = reference_numpy.layers.affine_forward(np.ones((2, 3)), np.ones((3, 1)), np.zeros(1))
print(out.ravel().tolist())
"""
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[3.0, 3.0]"


def imported_top_level_names(package) -> dict[str, set[str]]:
    found = {}
    for path in Path(package.__file__).parent.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path)] = names
    return found


def test_reference_numpy_source_imports_only_numpy_and_the_standard_library():
    for path, names in imported_top_level_names(reference_numpy).items():
        third_party = names - set(sys.stdlib_module_names) - {"reference_numpy"}
        assert third_party <= {"numpy"}, f"{path} imports {third_party}"


def test_torch_impl_never_imports_dualnet_or_reference_numpy():
    for path, names in imported_top_level_names(torch_impl).items():
        assert not names & {"dualnet", "reference_numpy"}, f"{path} imports {names}"


def test_the_backends_mirror_each_other_file_by_file():
    numpy_files = {p.name for p in Path(reference_numpy.__file__).parent.glob("*.py")}
    torch_files = {p.name for p in Path(torch_impl.__file__).parent.glob("*.py")}
    # the update rules and the two solvers train NumPy models; torch has torch.optim
    numpy_only = {"__init__.py", "gradcheck.py", "optim.py", "solver.py", "captioning_solver.py"}
    assert numpy_files - numpy_only <= torch_files


def test_version_is_exposed():
    assert dualnet.__version__
