"""Draw docs/_static/photos.png: the bundled photographs as the ImageNet networks see them
(224 x 224, centre crop), each with its hand-annotated box and its ImageNet label.

Run from the repository root: ``python docs/figures/photos.py``.
"""

from pathlib import Path

from matplotlib.figure import Figure

from dualnet.apps.networks import imagenet_classes
from dualnet.data import photos

OUTPUT = Path(__file__).resolve().parents[1] / "_static" / "photos.png"


def main() -> None:
    chosen = photos.photo_set(224)
    classes = imagenet_classes()
    figure = Figure(figsize=(1.9 * len(chosen.names), 2.3), layout="constrained")
    axes = figure.subplots(1, len(chosen.names))
    for axis, image, mask, name, label in zip(
        axes, chosen.images, chosen.masks, chosen.names, chosen.labels.tolist(), strict=True
    ):
        axis.imshow(image.permute(1, 2, 0).numpy())
        axis.contour(mask.float().numpy(), levels=[0.5], colors="cyan", linewidths=1.2)
        axis.set_title(f"{name}\n{classes[label]} ({label})", fontsize=8)
        axis.axis("off")
    figure.savefig(OUTPUT, dpi=80)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
