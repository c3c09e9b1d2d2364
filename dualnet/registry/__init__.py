"""The component registry: one entry per component, read by everything that iterates over them.

The parametrized cross-check tests, ``dualnet check`` and the agreement table in the docs all
take their list of components from :data:`COMPONENTS`. An entry says how to build random
inputs of a given dtype, which inputs are differentiable, and how each backend runs it
(:class:`~dualnet.registry.component.Component`).
"""

from __future__ import annotations

from dualnet.registry import (
    attention,
    conv,
    gan,
    layer_utils,
    layers,
    losses,
    lstm,
    optim,
    rnn,
    style,
    visualization,
)
from dualnet.registry.component import Case, Component

# One module per backend file, in the order a course meets them.
MODULES = (
    layers,
    losses,
    conv,
    layer_utils,
    optim,
    rnn,
    lstm,
    attention,
    visualization,
    style,
    gan,
)

COMPONENTS: dict[str, Component] = {
    entry.key: entry for module in MODULES for entry in module.ENTRIES
}


def select(names: list[str] | None = None) -> list[Component]:
    """The entries named, in registry order; all of them when ``names`` is empty or ``None``.

    A name matches its entry's key (``"dropout[test]"``) or, for a component with variants,
    every variant (``"dropout"``).

    Raises:
        ValueError: naming every unknown name and listing the known ones.
    """
    if not names:
        return list(COMPONENTS.values())
    unknown = [n for n in names if not any(n in (c.key, c.name) for c in COMPONENTS.values())]
    if unknown:
        known = ", ".join(sorted({c.name for c in COMPONENTS.values()}))
        raise ValueError(f"unknown component(s): {', '.join(unknown)}. Known components: {known}")
    return [c for c in COMPONENTS.values() if c.key in names or c.name in names]


__all__ = ["COMPONENTS", "Case", "Component", "select"]
