r"""Registry entries for the input-gradient methods (``visualization.py`` in both backends).

Each method is checked as a whole, forward only, like the update rules: its "forward pass" is
the method itself (a saliency map, an attack, an ascent step), run on a small fixed network
whose weights are inputs of the case, and its one output is compared between the backends.
There is nothing to differentiate (``case.wrt = ()``): the gradient that matters is the one
*inside* the method, of a class score or of the loss with respect to the pixels, which the
NumPy side takes from the hand-derived backward passes of
``reference_numpy.models.ThreeLayerConvNet`` and the PyTorch side from autograd through its
twin ``torch_impl.models.ThreeLayerConvNet``. Both see the network through their
``PixelModel``, which takes pixels in [0, 1] and normalises them inside.

The network is conv 3x3 (6 filters) - ReLU - 2x2 max pool - affine (16) - ReLU - affine
(``K = 5`` classes), on ``N = 2`` images ``(3, 8, 8)``. A case is redrawn until every image
the method shows the network lies clear of the network's kinks (:func:`kink_margin`) and, for
the attacks, which take the sign of the gradient, until no gradient entry is near 0: there
the two backends' rounding could pick different branches and the outputs differ by a whole
step, not by rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

import reference_numpy.visualization as R
import torch_impl.visualization as T
from dualnet.registry.component import Case, Component, dotted_name, substitutable
from reference_numpy.conv import conv_forward_fast, max_pool_forward_fast
from reference_numpy.layers import affine_forward
from reference_numpy.models import ThreeLayerConvNet as NumpyConvNet
from reference_numpy.models.cnn import POOL_PARAM
from torch_impl.models import ThreeLayerConvNet as TorchConvNet

TOPIC = "visualization"
PAGE = "derivations/input_gradients"

N, CHANNELS, SIZE, CLASSES = 2, 3, 8, 5
ARCHITECTURE = {
    "input_dim": (CHANNELS, SIZE, SIZE),
    "num_filters": 6,
    "filter_size": 3,
    "hidden_dim": 16,
    "num_classes": CLASSES,
}
MEAN, STD = (0.45, 0.5, 0.4), (0.25, 0.2, 0.3)
"""The pixel normalisation of both ``PixelModel`` s."""

WEIGHTS = ("W1", "b1", "W2", "b2", "W3", "b3")
IMAGES = ("X", "y")

MARGIN = 1e-5
"""The smallest distance from a kink allowed, relative to the largest value of its kind: about
a hundred times the rounding error of a float32 pre-activation or gradient entry."""

# --------------------------------------------------------------------------------------------
# The network, from the case's arrays, in each backend
# --------------------------------------------------------------------------------------------


def numpy_network(inputs: dict[str, np.ndarray]) -> R.PixelModel:
    """The NumPy network with the case's weights, in their dtype, taking pixels in [0, 1]."""
    model = NumpyConvNet(**ARCHITECTURE, dtype=inputs["W1"].dtype, seed=0)
    model.set_params({name: inputs[name] for name in WEIGHTS})
    return R.PixelModel(model, MEAN, STD)


def torch_network(tensors: dict[str, torch.Tensor]) -> T.PixelModel:
    """The PyTorch twin with the case's weights, in their dtype and on their device."""
    W1 = tensors["W1"]
    model = TorchConvNet(**ARCHITECTURE, dtype=W1.dtype, device=W1.device, seed=0)
    model.load_state_dict({name: tensors[name] for name in WEIGHTS})
    return T.PixelModel(model, MEAN, STD).to(W1.device)


# --------------------------------------------------------------------------------------------
# Kinks
# --------------------------------------------------------------------------------------------


def smallest_relative(values: np.ndarray, scale: np.ndarray) -> float:
    """``min |values| / max |scale|``; ``inf`` when there are no values."""
    if values.size == 0:
        return np.inf
    return float(np.abs(values).min() / max(float(np.abs(scale).max()), 1e-300))


def kink_margin(model: NumpyConvNet, normalised: np.ndarray) -> float:
    """How far the network is from a kink at the images ``normalised`` ``(N, 3, 8, 8)``: the
    smallest of |conv pre-activation|, the gap between the two largest entries of a 2x2
    pooling window (where the largest is positive) and |hidden pre-activation|, each relative
    to the largest value of its layer."""
    p = model.params
    conv, _ = conv_forward_fast(normalised, p["W1"], p["b1"], model.conv_param)
    active = np.maximum(conv, 0)
    n, f, h, w = active.shape
    windows = active.reshape(n, f, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    top_two = np.sort(windows.reshape(-1, 4), axis=1)[:, -2:]
    gaps = (top_two[:, 1] - top_two[:, 0])[top_two[:, 1] > 0]
    pooled, _ = max_pool_forward_fast(active, POOL_PARAM)
    hidden, _ = affine_forward(pooled, p["W2"], p["b2"])
    return min(
        smallest_relative(conv, conv),
        smallest_relative(gaps, conv),
        smallest_relative(hidden, hidden),
    )


class MarginProbe:
    """A NumPy network that notes, at every call, how far the images are from a kink and how
    close to 0 the input gradient comes, and otherwise is the network it wraps."""

    def __init__(self, network: R.PixelModel):
        self.network = network
        self.kinks: list[float] = []
        self.gradients: list[float] = []

    @property
    def num_classes(self) -> int:
        return self.network.num_classes

    def input_gradient(self, X: np.ndarray, dscores: np.ndarray):
        normalised = (X - self.network.mean) / self.network.std
        self.kinks.append(kink_margin(self.network.model, normalised))
        scores, dX = self.network.input_gradient(X, dscores)
        if np.any(dscores):  # not a call that only asks for the scores
            self.gradients.append(smallest_relative(dX, dX))
        return scores, dX


def clear_of_kinks(
    method: Callable, arguments: Callable[[dict, Case], tuple], signs: bool
) -> Callable[[Case], bool]:
    """Whether ``method`` (the reference, in float64, on the case's values) shows the network
    only images at least :data:`MARGIN` from a kink and, when it takes the ``signs`` of the
    gradients, only gradients whose entries are all at least :data:`MARGIN` from 0."""

    def clear(case: Case) -> bool:
        wide = {
            k: a.astype(np.float64) if a.dtype.kind == "f" else a for k, a in case.inputs.items()
        }
        probe = MarginProbe(numpy_network(wide))
        method(probe, *arguments(wide, case))
        near = probe.kinks + (probe.gradients if signs else [])
        return min(near) >= MARGIN

    return clear


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------


def network_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The network's weights: ``W1 (6, 3, 3, 3)``, ``b1 (6,)``, ``W2 (96, 16)``, ``b2 (16,)``,
    ``W3 (16, 5)``, ``b3 (5,)``."""
    filters, hidden = ARCHITECTURE["num_filters"], ARCHITECTURE["hidden_dim"]
    k = ARCHITECTURE["filter_size"]
    pooled = filters * (SIZE // 2) ** 2
    return {
        "W1": 0.3 * rng.standard_normal((filters, CHANNELS, k, k)),
        "b1": 0.1 * rng.standard_normal(filters),
        "W2": 0.3 * rng.standard_normal((pooled, hidden)),
        "b2": 0.1 * rng.standard_normal(hidden),
        "W3": 0.3 * rng.standard_normal((hidden, CLASSES)),
        "b3": 0.1 * rng.standard_normal(CLASSES),
    }


def draw_case(rng: np.random.Generator, dtype, extra: dict[str, Callable], config: tuple) -> Case:
    """Images ``X (N, 3, 8, 8)`` with pixels in [0, 1] (some near 0 and 1, where the attacks
    clip), labels ``y (N,)``, the method's further arrays (``extra`` maps each name to its
    ``draw(rng)``), the network's weights and ``config``."""
    X = rng.uniform(0.0, 1.0, (N, CHANNELS, SIZE, SIZE))
    y = rng.integers(0, CLASSES, N)
    arrays = {"X": X, **{name: draw(rng) for name, draw in extra.items()}, **network_weights(rng)}
    inputs = {name: a.astype(dtype) for name, a in arrays.items()}
    return Case({"X": inputs.pop("X"), "y": y, **inputs}, wrt=(), config=config)


# --------------------------------------------------------------------------------------------
# One entry per method
# --------------------------------------------------------------------------------------------


def method_entry(
    name: str,
    summary: str,
    arguments: Callable[[dict, Case], tuple],
    output: str,
    extra: dict[str, Callable[[np.random.Generator], np.ndarray]] | None = None,
    config: tuple = (),
    signs: bool = False,
) -> Component:
    """An entry running ``reference_numpy.visualization.<name>`` and
    ``torch_impl.visualization.<name>`` on the case's network, each called as
    ``method(network, *arguments(values, case))`` with ``values`` the case's arrays (NumPy)
    or tensors (PyTorch). ``extra`` names the method's further arrays, each batch axis first,
    with their ``draw(rng)``; ``config`` holds its scalars; ``signs`` says that it takes the
    sign of the gradient."""
    extra = extra or {}
    clear = clear_of_kinks(getattr(R, name), arguments, signs)

    def make_case(rng: np.random.Generator, dtype) -> Case:
        while True:
            case = draw_case(rng, dtype, extra, config)
            if clear(case):
                return case

    def build(**functions: Callable) -> Component:
        method = functions[name]

        def forward_numpy(case: Case):
            network = numpy_network(case.inputs)
            return (method(network, *arguments(case.inputs, case)),), None

        return Component(
            name=name,
            topic=TOPIC,
            summary=summary,
            page=PAGE,
            make_case=make_case,
            forward_numpy=forward_numpy,
            backward_numpy=lambda douts, cache, case: {},
            forward_torch=forward_torch,
            implementations=(dotted_name(method), dotted_name(getattr(T, name))),
            batch_inputs=(*IMAGES, *extra),
            outputs=(output,),
        )

    def forward_torch(tensors, case: Case):
        with torch.enable_grad():  # the method differentiates, even when called under no_grad
            network = torch_network(tensors)
            return (getattr(T, name)(network, *arguments(tensors, case)),)

    return substitutable(build, **{name: getattr(R, name)})


# --------------------------------------------------------------------------------------------
# The entries
# --------------------------------------------------------------------------------------------

SMOOTHGRAD_SAMPLES, SMOOTHGRAD_NOISE = 3, 0.1
INTEGRATION_STEPS = 8
FGSM_EPS = 0.03
PGD_EPS, PGD_STEP_SIZE, PGD_STEPS = 0.05, 0.02, 3
L2_REG, LEARNING_RATE = 0.1, 0.5


def noise_draws(rng: np.random.Generator) -> np.ndarray:
    """SmoothGrad's standard normal draws, batch axis first, ``(N, S, 3, 8, 8)``; the method
    takes them as ``(S, N, 3, 8, 8)``."""
    return rng.standard_normal((N, SMOOTHGRAD_SAMPLES, CHANNELS, SIZE, SIZE))


def dark_baseline(rng: np.random.Generator) -> np.ndarray:
    """The integration baseline ``(N, 3, 8, 8)``: dark pixels in [0, 0.2]."""
    return rng.uniform(0.0, 0.2, (N, CHANNELS, SIZE, SIZE))


def random_start(rng: np.random.Generator) -> np.ndarray:
    """PGD's random start ``(N, 3, 8, 8)``, uniform in [-1, 1]."""
    return rng.uniform(-1.0, 1.0, (N, CHANNELS, SIZE, SIZE))


ENTRIES = [
    method_entry(
        "saliency_map",
        "M = max_c |d s_y / d x_c|, (N, C, H, W) -> (N, H, W)",
        lambda v, case: (v["X"], v["y"]),
        "saliency",
    ),
    method_entry(
        "smoothgrad",
        f"the mean saliency map of {SMOOTHGRAD_SAMPLES} noisy copies x + sigma z",
        lambda v, case: (v["X"], v["y"], v["draws"].swapaxes(0, 1), *case.config),
        "saliency",
        extra={"draws": noise_draws},
        config=(SMOOTHGRAD_NOISE,),
    ),
    method_entry(
        "integrated_gradients",
        f"(x - x') times the mean gradient at {INTEGRATION_STEPS} midpoints from x' to x",
        lambda v, case: (v["X"], v["y"], v["baseline"], *case.config),
        "attributions",
        extra={"baseline": dark_baseline},
        config=(INTEGRATION_STEPS,),
    ),
    method_entry(
        "fgsm",
        "clip(x + eps sign(dL/dx), 0, 1): one signed step up the loss",
        lambda v, case: (v["X"], v["y"], *case.config),
        "X_adv",
        config=(FGSM_EPS,),
        signs=True,
    ),
    method_entry(
        "pgd",
        f"{PGD_STEPS} signed steps from a random start, each projected onto the eps-ball",
        lambda v, case: (v["X"], v["y"], *case.config, False, v["start"]),
        "X_adv",
        extra={"start": random_start},
        config=(PGD_EPS, PGD_STEP_SIZE, PGD_STEPS),
        signs=True,
    ),
    method_entry(
        "class_visualization_step",
        "x + eta g / |g|, g the gradient of s_t(x) - lambda |x - 1/2|^2",
        lambda v, case: (v["X"], v["y"], *case.config),
        "image",
        config=(L2_REG, LEARNING_RATE),
    ),
]
