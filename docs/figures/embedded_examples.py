"""Draw docs/_static/embedded_examples.png: eight training images of each embedded class.

Run from the repository root: ``python docs/figures/embedded_examples.py``. The dataset is
loaded through :func:`dualnet.data.load_images` (generated on first use, then cached).
"""

from pathlib import Path

from dualnet.data import load_images, plot_examples

OUTPUT = Path(__file__).resolve().parents[1] / "_static" / "embedded_examples.png"


def main() -> None:
    figure = plot_examples(load_images("embedded"), per_class=8, split="train", seed=0)
    figure.savefig(OUTPUT, dpi=80)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
