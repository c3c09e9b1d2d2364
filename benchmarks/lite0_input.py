"""What EfficientNet-Lite0's shipped weights expect: the input normalisation and the padding.

For each of the bundled photographs, 18 views (shorter side 224, 256 and 288 pixels; the
centre and two corner crops of 224; each also mirrored): 126 views of 7 objects. For each
combination of normalisation ((x - 0.5) / 0.5 or ImageNet's mean and standard deviation) and
padding (TensorFlow's "same", or PyTorch's symmetric), it prints

* how well the variance of what the stem's batch norm receives matches the variance that
  batch norm stored in training (mean |log ratio| over its live channels: 0 is a perfect
  match);
* the mean probability and the mean log-probability of the photographs' accepted classes;
* how many views have an accepted class on top.

Run: ``python benchmarks/lite0_input.py`` (about 30 s on two CPU cores).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table  # noqa: E402

from dualnet.apps import networks  # noqa: E402
from dualnet.data import photos  # noqa: E402
from torch_impl.models import efficientnet  # noqa: E402

NORMALISATIONS = {
    "(x - 0.5) / 0.5": (efficientnet.INPUT_MEAN, efficientnet.INPUT_STD),
    "ImageNet mean, std": (networks.IMAGENET_MEAN, networks.IMAGENET_STD),
}


def views() -> tuple[torch.Tensor, list[list[int]]]:
    """The 126 views ``(126, 3, 224, 224)`` and the accepted classes of each."""
    images, accepted = [], []
    for name, entry in photos.PHOTOS.items():
        image = torch.from_numpy(photos.read_photo(name).copy()).permute(2, 0, 1).float() / 255
        for short in (224, 256, 288):
            scale = short / min(image.shape[1:])
            size = [round(side * scale) for side in image.shape[1:]]
            resized = F.interpolate(image[None], size=size, mode="bilinear", antialias=True)[0]
            height, width = resized.shape[1:]
            corners = [((height - 224) // 2, (width - 224) // 2), (0, 0),
                       (height - 224, width - 224)]  # fmt: skip
            for top, left in corners:
                crop = resized[:, top : top + 224, left : left + 224].clamp(0, 1)
                images += [crop, crop.flip(-1)]
                accepted += [entry["accepted"]] * 2
    return torch.stack(images), accepted


def stem_mismatch(model, z: torch.Tensor) -> float:
    """Mean |log(variance seen / variance stored)| of the stem's batch norm, live channels."""
    conv, norm = model.features[0][0], model.features[0][1]
    live = norm.running_var > 1e-4
    with torch.no_grad():
        variance = conv(z).var(dim=(0, 2, 3))[live]
    return float((variance / norm.running_var[live]).log().abs().mean())


def main() -> None:
    X, accepted = views()
    state = networks.efficientnet_lite0().state_dict()
    rows = []
    for tf_padding in (True, False):
        model = efficientnet.EfficientNetLite0(tf_padding=tf_padding)
        model.load_state_dict(state)
        model.eval()
        for label, (mean, std) in NORMALISATIONS.items():
            mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (mean, std))
            z = (X - mean) / std
            with torch.no_grad():
                p = model(z).softmax(dim=1)
            right = torch.stack([p[i, a].sum() for i, a in enumerate(accepted)])
            top = sum(int(p[i].argmax()) in a for i, a in enumerate(accepted))
            padding = "TensorFlow" if tf_padding else "symmetric"
            rows.append([padding, label, f"{stem_mismatch(model, z):.3f}",
                         f"{right.mean():.3f}", f"{right.log().mean():.3f}",
                         f"{top}/{len(accepted)}"])  # fmt: skip
    header = ["padding", "normalisation", "stem variance mismatch", "mean p", "mean log p",
              "top-1 right"]  # fmt: skip
    print_table(header, rows)


if __name__ == "__main__":
    main()
