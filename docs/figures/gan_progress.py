"""Draw docs/_static/gan_progress.png: the fixed noise of six GAN runs over training.

Run from the repository root after training the six runs of the measured table into one
folder (``dualnet gan train --model M --loss L --out RUNS/M-L``)::

    python docs/figures/gan_progress.py RUNS

Each panel shows, for one model and loss, the first eight digits of the run's fixed noise at
four of its sampled steps (the first, two in between, the last), read from ``snapshots.npz``.
"""

import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from dualnet.apps.gan.plots import tile

OUTPUT = Path(__file__).resolve().parents[1] / "_static" / "gan_progress.png"
RUNS = [(model, loss) for model in ("fc", "dc") for loss in ("vanilla", "ls", "wgan-gp")]


def panel(axis, run: Path, title: str) -> None:
    with np.load(run / "snapshots.npz") as snapshots:
        steps, images = snapshots["steps"], snapshots["images"]
    rows = np.unique(np.linspace(0, len(steps) - 1, 4).round().astype(int))
    axis.imshow(tile(np.concatenate([images[i][:8] for i in rows]), 8), cmap="gray")
    axis.set_yticks([i * 30 + 14 for i in range(len(rows))], [f"step {steps[i]}" for i in rows])
    axis.set_xticks([])
    axis.tick_params(length=0, labelsize=8)
    axis.set_title(title, fontsize=9)


def main(runs: Path) -> None:
    figure = Figure(figsize=(10, 5.2), layout="constrained")
    for axis, (model, loss) in zip(figure.subplots(2, 3).ravel(), RUNS, strict=True):
        panel(axis, runs / f"{model}-{loss}", f"--model {model} --loss {loss}")
    figure.savefig(OUTPUT, dpi=80)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
