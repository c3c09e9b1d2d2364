"""SqueezeNet trained from scratch: why its last convolution starts with a positive bias.

The class scores of SqueezeNet pass a ReLU. Started at zero, the first updates push every
score map below zero, where no gradient passes: the network is stuck at chance for good. The
classification builder starts the bias at ``SQUEEZENET_SCORE_BIAS``, which keeps the maps
alive. Both halves are checked on the same batches with the same optimizer.
"""

import pytest
import torch

from dualnet.apps.classify import config as classify_config
from dualnet.apps.classify import models
from dualnet.data import load_images

pytestmark = pytest.mark.visualization


def live_share_after_training(zero_bias: bool, splits, steps: int = 12) -> float:
    """The share of positive class-score pixels on training images after ``steps`` AdamW
    steps at a rate of 1e-3."""
    config = classify_config.make_config("squeezenet1_1", image_size=32, seed=0)
    model = models.build_model(config, num_classes=10, image_shape=(3, 32, 32))
    if zero_bias:
        torch.nn.init.zeros_(model.classifier[1].bias)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images, labels = splits.train
    mean = torch.tensor(splits.mean).view(1, 3, 1, 1)
    std = torch.tensor(splits.std).view(1, 3, 1, 1)
    X = (images[: 64 * steps].float() / 255 - mean) / std
    for step in range(steps):
        batch = slice(64 * step, 64 * (step + 1))
        loss = torch.nn.functional.cross_entropy(model(X[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        maps = model.classifier[1](model.features(X[:256]))
    return float((maps > 0).float().mean())


@pytest.mark.slow
def test_the_positive_start_keeps_the_score_maps_alive(session_cache):
    splits = load_images("embedded", data_root=session_cache, image_size=32)
    assert models.SQUEEZENET_SCORE_BIAS > 0
    assert live_share_after_training(zero_bias=True, splits=splits) < 0.05
    assert live_share_after_training(zero_bias=False, splits=splits) > 0.9
