"""The digit classifier that scores generated digits: a small LeNet, trained once and cached.

Inception-based scores mean little on MNIST (and their weights cannot be downloaded here), so
the GAN application trains its own judge: :class:`DigitClassifier`, two 5x5 convolutions with
max-pooling and two fully connected layers, on the training digits of the dataset. Its
128 penultimate features are what the Fréchet distance compares
(:mod:`dualnet.apps.gan.evaluate`); its class probabilities tell which digit a sample
shows.

:func:`load_scorer` trains it on first use (seconds on the embedded digits, a minute or two on
MNIST, on the CPU) and caches it in ``DATA_ROOT/gan-scorer/``. The cache names the data it
was trained on by a SHA-256 of the training digits, so other data retrain it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dualnet.apps import runs
from dualnet.apps.gan.data import Digits, to_unit_range

SCORER_FORMAT = "dualnet-gan-scorer-1"
FEATURES = 128
EPOCHS = 4
MIN_STEPS = 600
"""The scorer trains for ``EPOCHS`` epochs, or longer on small data: at least this many steps."""
BATCH = 64


class DigitClassifier(nn.Module):
    """LeNet-like digit classifier.

    conv 32 5x5 (28 → 24), ReLU, max-pool 2 (→ 12); conv 64 5x5 (→ 8), ReLU, max-pool 2
    (→ 4); fc 1024 → 128, ReLU (the **features**); fc 128 → 10 (the scores).
    Input ``(N, 784)`` or ``(N, 1, 28, 28)`` in ``[-1, 1]``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(4 * 4 * 64, FEATURES),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURES, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``(N, 128)``."""
        return self.body(x.reshape(len(x), 1, 28, 28))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores ``(N, 10)``."""
        return self.head(self.features(x))


@dataclass
class Scorer:
    """A trained :class:`DigitClassifier` with its accuracy on the test digits."""

    model: DigitClassifier
    test_acc: float
    data: str

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
        """Features ``(N, 128)`` and class probabilities ``(N, 10)`` (float64, CPU) of
        ``uint8`` digits ``(N, 28, 28)``."""
        self.model.eval()
        features, probabilities = [], []
        for start in range(0, len(images), batch):
            x = to_unit_range(images[start : start + batch])
            h = self.model.features(x)
            features.append(h.double())
            probabilities.append(F.softmax(self.model.head(h), dim=1).double())
        return torch.cat(features), torch.cat(probabilities)


def fingerprint(digits: Digits) -> str:
    """SHA-256 of the training digits and labels: what a cached scorer was trained on."""
    images, labels = digits.train
    digest = hashlib.sha256(images.contiguous().numpy().tobytes())
    digest.update(labels.numpy().astype("int64").tobytes())
    return digest.hexdigest()


def train_scorer(digits: Digits, seed: int = 0) -> Scorer:
    """Train a :class:`DigitClassifier` on ``digits.train`` with Adam (1e-3, batches of 64)."""
    images, labels = digits.train
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = DigitClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    per_epoch = max(1, len(labels) // BATCH)
    epochs = max(EPOCHS, -(-MIN_STEPS // per_epoch))
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        for index in range(per_epoch):
            batch = order[index * BATCH : (index + 1) * BATCH]
            loss = F.cross_entropy(model(to_unit_range(images[batch])), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    scorer = Scorer(model, test_acc=0.0, data=digits.name)
    _, probabilities = scorer(digits.test[0])
    scorer.test_acc = float((probabilities.argmax(dim=1) == digits.test[1]).double().mean())
    return scorer


def scorer_path(root: Path, digits: Digits) -> Path:
    return Path(root) / "gan-scorer" / f"lenet-{digits.name}.pt"


def load_scorer(digits: Digits, root: Path) -> Scorer:
    """The cached scorer for ``digits`` from ``root/gan-scorer/``, trained and cached first
    when there is none, or when the cached one was trained on other digits or is damaged."""
    path = scorer_path(root, digits)
    expected = fingerprint(digits)
    try:
        stored = runs.load_checkpoint(path, SCORER_FORMAT)
    except runs.CheckpointError:
        stored = None
    if stored is not None and stored["fingerprint"] == expected:
        model = DigitClassifier()
        model.load_state_dict(stored["model"])
        return Scorer(model, test_acc=stored["test_acc"], data=stored["data"])
    scorer = train_scorer(digits)
    payload = {
        "format": SCORER_FORMAT,
        "model": scorer.model.state_dict(),
        "test_acc": scorer.test_acc,
        "data": digits.name,
        "fingerprint": expected,
    }
    runs.save_checkpoint(payload, path)
    return scorer
