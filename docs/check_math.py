"""Open built docs pages in headless Chromium and fail unless MathJax typeset their math.

    python docs/check_math.py docs/_build/html/derivations/affine.html [more pages]

For each page: load it from disk with the network switched off, let MathJax run, dump the
resulting DOM, and require that every math element of the page was turned into a
``mjx-container`` and that MathJax reported no error (``mjx-merror``). Exits 1 otherwise.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # file:// pages may load their own scripts and fonts from disk, and nothing else
    "--allow-file-access-from-files",
    "--proxy-server=127.0.0.1:9",
    "--virtual-time-budget=20000",
    "--dump-dom",
]


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check_math: no chromium found; install Debian's package: apt-get install chromium")


def rendered_dom(chromium: str, page: Path) -> str:
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if result.returncode != 0 or "<html" not in result.stdout:
        sys.exit(f"check_math: chromium failed on {page}:\n{result.stderr[-2000:]}")
    return result.stdout


def check(page: Path, chromium: str) -> bool:
    source = page.read_text()
    expected = len(re.findall(r'class="math[ "]', source))
    dom = rendered_dom(chromium, page)
    typeset = dom.count("<mjx-container")
    errors = dom.count("<mjx-merror")
    leftover = len(
        re.findall(r"\\\(|\\\[", re.sub(r"<mjx-assistive-mml.*?</mjx-assistive-mml>", "", dom))
    )
    ok = expected > 0 and typeset >= expected and errors == 0
    verdict = "typeset" if ok else "NOT TYPESET"
    print(
        f"{page}: {expected} math elements in the source, {typeset} typeset by MathJax, "
        f"{errors} MathJax errors, {leftover} raw TeX delimiters left: {verdict}"
    )
    return ok


def main(argv: list[str]) -> int:
    if not argv:
        sys.exit(__doc__)
    chromium = find_chromium()
    results = [check(Path(page), chromium) for page in argv]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
