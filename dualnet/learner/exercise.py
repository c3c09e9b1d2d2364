"""Exercise skeletons: a file a learner fills in (``dualnet exercise``).

For the components asked for, the file holds every NumPy function the registry calls, with
the reference's signature and complete docstring (shapes, the forward math, what the
backward returns) and a body that raises ``NotImplementedError``. Signatures and docstrings
are read from the reference's source with :mod:`ast`; no line of its code is copied. The
file's header says which command checks it.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable
from pathlib import Path

from dualnet import registry
from dualnet.registry.component import Component

# What a function needs from the reference that its docstring alone cannot give: an import
# and a note above the function.
HELPERS = {
    "dropout_forward": (
        "from reference_numpy.layers import dropout_mask",
        "Draw the keep-mask with dropout_mask(x.shape, p, seed) (imported above): the check "
        "hands PyTorch the mask that call draws.",
    ),
}


def components_for(names: list[str] | None, topic: str | None) -> list[Component]:
    """The entries named, or those of ``topic``.

    Raises:
        ValueError: for an unknown name or topic, or for neither or both given.
    """
    if bool(names) == bool(topic):
        raise ValueError("name the components (dualnet exercise affine relu) or give --topic")
    if names:
        return registry.select(names)
    topics = sorted({c.topic for c in registry.COMPONENTS.values()})
    if topic not in topics:
        raise ValueError(f"--topic {topic}: unknown topic. Topics: {', '.join(topics)}")
    return [c for c in registry.COMPONENTS.values() if c.topic == topic]


def functions_for(components: list[Component]) -> list[Callable]:
    """The reference functions of ``components``, each once, in registry order."""
    found: dict[str, Callable] = {}
    for component in components:
        found.update(component.numpy_functions)
    return list(found.values())


@functools.cache
def source_of(path: str) -> tuple[ast.Module, list[str]]:
    text = Path(path).read_text()
    return ast.parse(text), text.splitlines()


def signature_and_docstring(function: Callable) -> tuple[str, str]:
    """The ``def`` line(s) of ``function`` exactly as its source writes them, and its
    docstring."""
    tree, lines = source_of(inspect.getsourcefile(function))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function.__name__:
            signature = "\n".join(lines[node.lineno - 1 : node.body[0].lineno - 1])
            return signature, ast.get_docstring(node) or f"Write {node.name}."
    raise LookupError(f"no top-level def {function.__name__} in {function.__module__}")


def indent(text: str, spaces: int = 4) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


def stub(function: Callable) -> str:
    """``def name(signature):`` with the reference's docstring and a body that raises
    ``NotImplementedError``, after a note when :data:`HELPERS` has one."""
    name = function.__name__
    signature, docstring = signature_and_docstring(function)
    note = HELPERS[name][1] if name in HELPERS else ""
    lines = textwrap.wrap(note, 98, initial_indent="# ", subsequent_indent="# ")
    lines += [
        signature,
        indent(f'r"""{docstring}\n"""'),
        f'    raise NotImplementedError("{name}: not written yet")',
    ]
    return "\n".join(lines)


def header(components: list[Component], out: Path) -> str:
    names = ", ".join(dict.fromkeys(c.key for c in components))
    pages = ", ".join(dict.fromkeys(f"docs/{c.page}.md" for c in components))
    about = (
        f"Exercise: {names}.\n\nWrite every function below; each raises NotImplementedError "
        "until you do. Keep the names and the signatures: the check finds your functions by "
        "them. The docstrings say what each takes and returns, with shapes; the derivations "
        f"are in {pages}."
    )
    paragraphs = [textwrap.fill(p, 96) for p in about.split("\n\n")]
    check = (
        "Check your work as often as you like (the forward against PyTorch, the backward "
        "against autograd and finite differences, each mistake named):"
    )
    paragraphs += [textwrap.fill(check, 96), f"    dualnet check --impl {out}"]
    return '"""' + "\n\n".join(paragraphs) + '\n"""'


def skeleton(components: list[Component], out: Path) -> str:
    """The whole text of the exercise file for ``components``, to be written to ``out``."""
    functions = functions_for(components)
    imports = ["from __future__ import annotations", "", "import numpy as np"]
    helpers = [HELPERS[f.__name__][0] for f in functions if f.__name__ in HELPERS]
    imports += ["", *helpers] if helpers else []
    top = header(components, out) + "\n\n" + "\n".join(imports)
    return "\n\n\n".join([top, *(stub(f) for f in functions)]) + "\n"


def write_exercise(names: list[str] | None, topic: str | None, out: str | Path) -> Path:
    """Write the skeleton of the components named (or of ``topic``) to ``out``.

    Raises:
        ValueError: for an unknown name or topic, an ``out`` that is not a ``.py`` file, or
            one whose folder is missing.
        FileExistsError: when ``out`` exists: an exercise is never overwritten.
    """
    out = Path(out)
    if out.suffix != ".py":
        raise ValueError(f"--out {out}: must name a .py file")
    if not out.parent.is_dir():
        raise ValueError(f"--out {out}: the folder {out.parent} does not exist")
    text = skeleton(components_for(names, topic), out)
    with out.open("x") as file:  # "x": fails rather than overwrite
        file.write(text)
    return out
