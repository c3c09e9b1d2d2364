"""Draw docs/_static/style_modes.png: the three modes of ``dualnet style``, one row each.

Run from the repository root after the three runs of the measured table, written into one
folder (``dualnet style transfer --out RUNS/transfer``, ``dualnet style invert --out
RUNS/invert``, ``dualnet style texture --style stripes --out RUNS/texture``)::

    python docs/figures/style_modes.py RUNS

Each row shows what the run started from (the content image, the style image, or both) and
the snapshots of ``snapshots.npz``, from the start image to the result.
"""

import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

OUTPUT = Path(__file__).resolve().parents[1] / "_static" / "style_modes.png"
ROWS = (("transfer", ("content", "style")), ("invert", ("content",)), ("texture", ("style",)))


def row(axes, run: Path, mode: str, inputs: tuple[str, ...]) -> None:
    with np.load(run / "snapshots.npz") as snapshots:
        steps, images = snapshots["steps"], snapshots["images"]
    panels = [(name, np.asarray(Image.open(run / f"{name}.png"))) for name in inputs]
    frames = zip(steps, images, strict=True)
    panels += [(f"step {step}", image.transpose(1, 2, 0)) for step, image in frames]
    for axis in axes:
        axis.axis("off")
    for axis, (title, image) in zip(axes[2 - len(inputs) :], panels, strict=False):
        axis.imshow(image)
        axis.set_title(title, fontsize=8)
    axes[0].text(-0.15, 0.5, mode, rotation=90, va="center", ha="right",
                 transform=axes[0].transAxes, fontsize=10)  # fmt: skip


def main(runs: Path) -> None:
    figure = Figure(figsize=(11, 4.6), layout="constrained")
    axes = figure.subplots(len(ROWS), 8)
    for axis_row, (mode, inputs) in zip(axes, ROWS, strict=True):
        row(axis_row, runs / mode, mode, inputs)
    figure.savefig(OUTPUT, dpi=64)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
