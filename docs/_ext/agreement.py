"""The ``agreement-table`` directive: cross-check components while the docs build.

Usage in a page::

    ```{agreement-table} affine relu
    ```

With no names it covers every registered component. It makes one table per dtype, with the
bounds in the header and no column that would say the same thing on every row, so that even
the table of all components fits a page without scrolling sideways. The numbers are measured
when the docs are built (seed 0), by the same engine as ``dualnet check``; a disagreement
fails the build.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from dualnet import crosscheck, registry
from dualnet.crosscheck_report import format_bound, format_error

_measured: dict[tuple[str, str], crosscheck.CheckResult] = {}


def measure(component, dtype: str) -> crosscheck.CheckResult:
    key = (component.key, dtype)
    if key not in _measured:
        _measured[key] = crosscheck.check_component(component, dtype, seed=0)
    return _measured[key]


def text_cell(text: str) -> nodes.entry:
    return nodes.entry("", nodes.paragraph(text=text))


def errors_cell(errors: dict[str, float] | None) -> nodes.entry:
    """One error per input (``dx 2.4e-15``), each kept on one line: a long list wraps between
    its entries instead of widening the table."""
    paragraph = nodes.paragraph()
    for i, (name, value) in enumerate((errors or {}).items()):
        if i:
            paragraph += nodes.Text(" ")
        paragraph += nodes.inline(text=f"d{name} {format_error(value)}", classes=["error"])
    if not errors:
        paragraph += nodes.Text("-")
    return nodes.entry("", paragraph)


def columns(dtype: str) -> list[tuple[str, str]]:
    """``(header, bound)`` of each column; finite differences only where they are checked."""
    bounds = crosscheck.BOUNDS[dtype]
    found = [("forward", bounds.forward), ("backward vs autograd", bounds.autograd)]
    if bounds.finite_differences is not None:
        found.append(("backward vs finite differences", bounds.finite_differences))
    return [("component", "")] + [(name, f"bound {format_bound(b)}") for name, b in found]


def dtype_table(dtype: str, results: list[crosscheck.CheckResult]) -> nodes.table:
    """One table for one dtype: a row per component, its bounds in the header."""
    header = columns(dtype)
    table_node = nodes.table(classes=["agreement", "colwidths-auto"])
    table_node += nodes.title(text=f"{dtype}: every check agrees within its bound")
    group = nodes.tgroup(cols=len(header))
    table_node += group
    group.extend(nodes.colspec(colwidth=1) for _ in header)
    head = nodes.thead()
    head += nodes.row("", *(header_cell(name, bound) for name, bound in header))
    group += head
    body = nodes.tbody()
    for result in results:
        cells = [text_cell(result.key), text_cell(format_error(result.forward))]
        cells.append(errors_cell(result.autograd))
        if crosscheck.BOUNDS[dtype].finite_differences is not None:
            cells.append(errors_cell(result.finite_differences))
        body += nodes.row("", *cells)
    group += body
    return table_node


def header_cell(name: str, bound: str) -> nodes.entry:
    paragraph = nodes.paragraph(text=name)
    if bound:
        paragraph += nodes.inline(text=f" ({bound})", classes=["bound"])
    return nodes.entry("", paragraph)


class AgreementTable(SphinxDirective):
    """One table per dtype of the measured errors of the components named (all by default)."""

    optional_arguments = 100
    has_content = False

    def run(self):
        try:
            components = registry.select(list(self.arguments))
        except ValueError as error:
            raise self.error(str(error)) from error
        tables = []
        for dtype in crosscheck.DTYPES:
            results = [measure(component, dtype) for component in components]
            for result in results:
                if not result.agrees:
                    raise self.error(f"{result.key} {dtype} disagrees: {result.failures()}")
            tables.append(dtype_table(dtype, results))
        return tables


def setup(app):
    app.add_directive("agreement-table", AgreementTable)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
