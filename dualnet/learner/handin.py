"""A learner's hand-in: load it without caching it, and find the registered functions it
defines.

A hand-in is a Python file (``my_layers.py``) or an importable module name
(``homework.layers``). It is executed in a fresh module object that is never left in
``sys.modules`` and writes no bytecode, so that checking it twice runs the current file and
nothing of it stays behind. Its functions count under the reference's names
(``affine_forward``, ``softmax_loss``, ``sgd_momentum``), whether it defines them or imports
them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from dualnet import registry
from dualnet.registry.component import Component


class HandinError(Exception):
    """A hand-in that cannot be checked: missing, failing to import, or defining nothing the
    registry knows. The message is one line that names the hand-in."""


@contextlib.contextmanager
def importing_from(path: Path, name: str, module: ModuleType):
    """While a hand-in runs its top level: its folder first on ``sys.path`` (for its own
    helper modules), the module in ``sys.modules`` (``dataclasses`` looks for it there), and
    no bytecode written. Everything is put back afterwards."""
    folder = str(path.parent)
    saved_path, saved_bytecode = list(sys.path), sys.dont_write_bytecode
    saved_module = sys.modules.get(name)
    sys.path.insert(0, folder)
    sys.modules[name] = module
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        if saved_module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved_module
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_bytecode


def last_line(exc: BaseException, path: str | None = None) -> str:
    """``"ValueError: shapes do not match (my_layers.py, line 12)"``: the exception's last
    line, with the deepest line of ``path`` (or of any file) it passed through."""
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if path is None or f.filename == path] or frames
    text = traceback.format_exception_only(type(exc), exc)[-1].strip()
    if inside:
        text += f" ({Path(inside[-1].filename).name}, line {inside[-1].lineno})"
    return text


def spec_of(target: str):
    """The import spec of a file path or a module name, or a :class:`HandinError`."""
    if target.endswith(".py") or Path(target).is_file():
        path = Path(target)
        if not path.is_file():
            raise HandinError(f"{target}: no such file")
        name = f"dualnet_handin_{path.stem}"
        return importlib.util.spec_from_file_location(name, path.resolve())
    try:
        spec = importlib.util.find_spec(target)
    except (ImportError, ValueError) as exc:
        raise HandinError(f"{target}: cannot find the module ({last_line(exc)})") from None
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        raise HandinError(f"{target}: no such file and no module of that name")
    return spec


def load(target) -> ModuleType:
    """The hand-in as a fresh module: ``target`` is a module object (used as it is), a path
    to a ``.py`` file or a module name.

    Raises:
        HandinError: when it is missing or its top level raises.
    """
    if isinstance(target, ModuleType):
        return target
    target = str(target)
    spec = spec_of(target)
    module = importlib.util.module_from_spec(spec)
    try:
        with importing_from(Path(spec.origin), spec.name, module):
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        raise HandinError(f"{target}: importing it raised {last_line(exc, spec.origin)}") from None
    return module


def defined_functions(module: ModuleType) -> dict[str, Callable]:
    """The registered NumPy function names the module binds to a callable."""
    names = {n for c in registry.COMPONENTS.values() for n in c.numpy_functions}
    return {n: getattr(module, n) for n in sorted(names) if callable(getattr(module, n, None))}


def components_of(
    module: ModuleType, names: list[str] | None = None, label: str | None = None
) -> list[tuple[Component, dict[str, Callable]]]:
    """``(entry, the module's functions for it)`` for every registered entry (or every one
    named) of which the module defines at least one function, in registry order. ``label``
    names the module in an error (its file or name by default).

    Raises:
        ValueError: for an unknown name (from :func:`dualnet.registry.select`).
        HandinError: when the module defines nothing of what is asked.
    """
    defined = defined_functions(module)
    found = []
    for component in registry.select(names):
        functions = {n: defined[n] for n in component.numpy_functions if n in defined}
        if functions:
            found.append((component, functions))
    if not found:
        wanted = registry.select(names) if names else []
        expected = ", ".join(n for c in wanted[:3] for n in c.numpy_functions)
        raise HandinError(
            f"{label or getattr(module, '__file__', None) or module.__name__}: defines none of the "
            + (f"functions asked for ({expected})" if names else "registered functions")
            + " under the reference's names (affine_forward, softmax_loss, ...)"
        )
    return found
