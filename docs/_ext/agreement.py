"""The ``agreement-table`` directive: cross-check components while the docs build.

Usage in a page::

    ```{agreement-table} affine relu
    ```

With no names it covers every registered component. The numbers are measured when the docs
are built (seed 0), by the same engine as ``dualnet check``; a disagreement fails the build.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from dualnet import crosscheck, registry
from dualnet.crosscheck_report import format_error, format_errors

_measured: dict[tuple[str, str], crosscheck.CheckResult] = {}


def measure(component, dtype: str) -> crosscheck.CheckResult:
    key = (component.key, dtype)
    if key not in _measured:
        _measured[key] = crosscheck.check_component(component, dtype, seed=0)
    return _measured[key]


def table(header: list[str], rows: list[list[str]]) -> nodes.table:
    table_node = nodes.table(classes=["agreement"])
    group = nodes.tgroup(cols=len(header))
    table_node += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    head += nodes.row("", *(nodes.entry("", nodes.paragraph(text=cell)) for cell in header))
    group += head
    body = nodes.tbody()
    for row in rows:
        body += nodes.row("", *(nodes.entry("", nodes.paragraph(text=cell)) for cell in row))
    group += body
    return table_node


class AgreementTable(SphinxDirective):
    optional_arguments = 100
    has_content = False

    def run(self):
        try:
            components = registry.select(list(self.arguments))
        except ValueError as error:
            raise self.error(str(error)) from error
        header = [
            "component",
            "dtype",
            "forward",
            "backward vs autograd",
            "vs finite diff.",
            "verdict",
        ]
        rows = []
        for component in components:
            for dtype in crosscheck.DTYPES:
                result = measure(component, dtype)
                if not result.agrees:
                    raise self.error(f"{result.key} {result.dtype} disagrees: {result.failures()}")
                rows.append(
                    [
                        result.key,
                        dtype,
                        format_error(result.forward),
                        format_errors(result.autograd),
                        format_errors(result.finite_differences),
                        "agrees",
                    ]
                )
        return [table(header, rows)]


def setup(app):
    app.add_directive("agreement-table", AgreementTable)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
