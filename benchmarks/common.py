"""Shared by the benchmarks: alternating best-of-repeats timing and a plain-text table."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_times_interleaved(
    functions: list[Callable[[], object]], repeats: int = 7, settle: float = 0.0
) -> list[float]:
    """Best wall time of one call of each function, timing them in alternation.

    On a shared machine the speed drifts over seconds; alternating the functions round by
    round exposes all of them to the same drift, so their ratio is fairer than timing one
    after the other.

    With ``settle`` > 0, each function runs untimed for ``settle`` seconds (at least once)
    before its timed call. Two libraries that both run their own threads slow each other down
    when alternated back to back: after a call, OpenBLAS's threads keep spinning for about a
    tenth of a second, taking the cores from whatever runs next (a PyTorch convolution timed
    right after a NumPy one ran 1.7 times slower in float32). Settling times each function as
    it runs alone. It keeps the processor busy rather than sleeping: after a sleep, a short
    single-threaded NumPy function ran up to 1.5 times slower for its next few calls.
    """
    for function in functions:
        function()  # warm up
    best = [float("inf")] * len(functions)
    for _ in range(repeats):
        for i, function in enumerate(functions):
            if settle > 0:
                settled = time.perf_counter() + settle
                function()
                while time.perf_counter() < settled:
                    function()
            start = time.perf_counter()
            function()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, ["-" * w for w in widths], *rows]
    ]
    return "\n".join(lines)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    print(format_table(header, rows))
