"""Which section of a derivation page to read for a wrong output or a wrong gradient.

A component's entry names its page (``derivations/affine``). For a wrong output the link
points at the page's forward equations, for a wrong gradient at its backward derivation;
on a page that derives several components (``style_losses``: content loss, Gram matrix,
style loss) the search starts under the component's own heading. Anchors are those MyST
writes for headings (``myst_heading_anchors`` in ``docs/conf.py``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from dualnet.registry.component import Component

DOCS = Path(__file__).resolve().parents[2] / "docs"

# Words of the heading under which a component is derived, where its name is not in it.
SCOPE = {
    "style_transfer_loss": "whole objective",
    "sgd_momentum": "with momentum",
    "discriminator_loss": "vanilla",
    "generator_loss": "vanilla",
    "ls_discriminator_loss": "least-squares",
    "ls_generator_loss": "least-squares",
    "wgan_critic_loss": "wasserstein",
    "wgan_generator_loss": "wasserstein",
}

FORWARD_WORDS = ("forward", "losses", "loss")
BACKWARD_WORDS = ("backward", "gradient", "through time")
# Sequences are differentiated by backpropagation through time, after the one-step backward.
SEQUENCE_BACKWARD_WORDS = ("through time", "backward")
SEQUENCES = {"rnn", "lstm", "attention_lstm"}


def slug(title: str) -> str:
    """The anchor MyST gives a heading (GitHub style): lower case, spaces as hyphens, every
    character but letters, digits, ``_`` and ``-`` dropped."""
    return re.sub(r"[^\w\- ]", "", title.lower().replace(" ", "-"))


@functools.cache
def headings(page: str) -> tuple[tuple[int, str, str], ...]:
    """``(level, title, anchor)`` of every heading of ``docs/<page>.md`` outside code
    blocks, a repeated anchor suffixed ``-1``, ``-2``, ... as MyST does; empty when the page
    is not there (an installed copy without the docs)."""
    path = DOCS / f"{page}.md"
    if not path.is_file():
        return ()
    found, anchors, fenced = [], set(), False
    for line in path.read_text().splitlines():
        if line.startswith(("```", "~~~")):
            fenced = not fenced
        match = None if fenced else re.match(r"(#{1,6})\s+(.*)", line)
        if match:
            title = match.group(2).strip().replace("`", "")
            anchor, i = slug(title), 1
            while anchor in anchors:
                anchor, i = f"{slug(title)}-{i}", i + 1
            anchors.add(anchor)
            found.append((len(match.group(1)), title, anchor))
    return tuple(found)


def scope(component: Component, found: tuple) -> tuple:
    """The headings under the component's own second-level heading, that heading first; all
    headings but the page title when the page has no such heading for it."""
    words = SCOPE.get(component.name, component.name.replace("_", " "))
    for i, (level, title, _anchor) in enumerate(found):
        if level == 2 and words in title.lower():
            end = next((j for j in range(i + 1, len(found)) if found[j][0] <= level), len(found))
            return found[i:end]
    return tuple(h for h in found if h[0] > 1)


def section(component: Component, backward: bool) -> str:
    """``docs/derivations/affine.md#backward``: where to read about a wrong gradient
    (``backward=True``) or a wrong output. The first of the words that a heading starts
    with, else contains, picks the heading; the component's own heading, else the page, is
    the fallback."""
    page = f"docs/{component.page}.md"
    found = scope(component, headings(component.page))
    if backward:
        words = SEQUENCE_BACKWARD_WORDS if component.name in SEQUENCES else BACKWARD_WORDS
    else:
        words = FORWARD_WORDS
    for word in words:
        for test in (str.startswith, str.__contains__):
            for _level, title, anchor in found:
                if test(title.lower(), word):
                    return f"{page}#{anchor}"
    return f"{page}#{found[0][2]}" if found else page
