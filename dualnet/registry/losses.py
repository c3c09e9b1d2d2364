"""Registry entries for the classification losses (``losses.py`` in both backends)."""

from __future__ import annotations

import numpy as np

import reference_numpy.losses as R
import torch_impl.losses as T
from dualnet.registry.component import Case, combined_loss

TOPIC = "losses"


def softmax_case(rng: np.random.Generator, dtype) -> Case:
    x = rng.standard_normal((5, 4)).astype(dtype)
    y = rng.integers(0, 4, size=5)
    return Case({"x": x, "y": y}, wrt=("x",))


def svm_case(rng: np.random.Generator, dtype) -> Case:
    """Scores whose margins ``x_c - x_y + 1`` all stay at least 0.1 away from the hinge at 0."""
    n, c = 5, 4
    x = rng.standard_normal((n, c))
    y = rng.integers(0, c, size=n)
    correct = x[np.arange(n), y][:, np.newaxis]
    margins = x - correct + 1
    near_hinge = np.abs(margins) < 0.1
    near_hinge[np.arange(n), y] = False
    x = x + 0.2 * near_hinge
    return Case({"x": x.astype(dtype), "y": y}, wrt=("x",))


ENTRIES = [
    combined_loss(
        name="softmax_loss",
        topic=TOPIC,
        summary="mean cross-entropy of softmax(x) against labels y",
        page="derivations/softmax_loss",
        make_case=softmax_case,
        loss=R.softmax_loss,
        torch_function=T.softmax_loss,
    ),
    combined_loss(
        name="svm_loss",
        topic=TOPIC,
        summary="mean multiclass hinge loss with margin 1",
        page="derivations/svm_loss",
        make_case=svm_case,
        loss=R.svm_loss,
        torch_function=T.svm_loss,
    ),
]
