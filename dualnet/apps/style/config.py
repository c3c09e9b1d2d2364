"""The settings of a style-transfer run, and the one place their defaults come from.

:func:`make_config` is how the command line, the tutorial and the tests get a configuration:
the weights of a **preset** (the course notebook's three settings), then what the **mode**
fixes (feature inversion has no style, texture synthesis no content; both start from noise),
then the settings given. The result is checked, and every message names the command-line
flag of the setting it is about.

The layers, weights and learning rates depend on the network (:data:`NETWORK_LAYERS`): on
SqueezeNet they are the course's (Adam at a learning rate of 3.0, the image living in
normalised units, see :mod:`~dualnet.apps.style.network`; decayed to 0.1 for the last
tenth of the steps), and EfficientNet-Lite0, the default network, has its own, chosen by
receptive field and measured (see the style-transfer page of the docs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dualnet.apps import runtime
from dualnet.apps.options import ConfigError, Range

MODES = ("transfer", "invert", "texture")
OPTIMIZERS = ("adam", "lbfgs")
LOSS_BACKENDS = ("torch", "numpy")
INITS = ("content", "random")
DEFAULT_MODEL = "efficientnet-lite0"


@dataclass(frozen=True)
class Preset:
    """The weights and sizes of one of the course notebook's style-transfer settings."""

    image_size: int
    style_size: int
    content_weight: float
    style_weights: tuple[float, ...]
    tv_weight: float
    painting: str


PRESETS = {
    "composition-vii": Preset(
        192, 512, 5e-2, (20000, 500, 12, 1), 5e-2, "Wassily Kandinsky, Composition VII"
    ),
    "the-scream": Preset(192, 224, 3e-2, (200000, 800, 12, 1), 2e-2, "Edvard Munch, The Scream"),
    "starry-night": Preset(
        192, 192, 6e-2, (300000, 1000, 15, 3), 2e-2, "Vincent van Gogh, The Starry Night"
    ),
}
"""The course's three settings for SqueezeNet (content layer 3, style layers 1, 4, 6, 7 in
all three). The notebook's feature inversion and texture synthesis use the Starry Night
weights, and so do the defaults here."""
DEFAULT_PRESET = "starry-night"


@dataclass(frozen=True)
class NetworkLayers:
    """The layers a network's style transfer reads, with their weights in the default preset
    (Starry Night) and Adam's learning rates. Another preset scales each weight by its ratio
    to Starry Night's, so the course's three settings keep their differences on any network."""

    content_layer: int
    style_layers: tuple[int, ...]
    style_weights: tuple[float, ...]
    content_weight: float
    tv_weight: float
    lr: float
    decayed_lr: float


NETWORK_LAYERS = {
    "squeezenet": NetworkLayers(3, (1, 4, 6, 7), (300000, 1000, 15, 3), 6e-2, 2e-2, 3.0, 0.1),
    "efficientnet-lite0": NetworkLayers(
        2, (0, 3, 4, 5), (570000, 52, 360, 280), 1e-2, 0.1, 0.3, 0.1
    ),
}
"""SqueezeNet 1.1's are the course's: the content layer is the second Fire module (128
channels at a quarter of the image size, receptive field 15 pixels); the style layers are the
first ReLU and the Fire modules at receptive fields 23, 47 and 63 pixels. EfficientNet-Lite0's
are chosen by the same receptive fields: content, layer 2 (24 channels at a quarter of the
size, 11 pixels; layer 3, at 19 pixels, inverts to 16.6 dB against 20.0); style, the stem (3
pixels) and blocks 3, 4 and 5 (19, 35 and 67 pixels). Lite0's weights make each style layer's
loss about equal at the start, with the stem's a hundred times more (it carries the colours),
and its learning rate is in its own normalised units (one unit is half the pixel range, where
SqueezeNet's is 0.23 of it)."""


def network_layers(model: str) -> NetworkLayers:
    """The layers of ``--model``: Lite0's for ``efficientnet-lite0``, SqueezeNet's for every
    other network (the stand-in, ``squeezenet``, ``random``, a SqueezeNet run)."""
    return NETWORK_LAYERS.get(model, NETWORK_LAYERS["squeezenet"])


FLAGS = {
    "mode": "ACTION",
    "content": "--content",
    "style": "--style",
    "preset": "--preset",
    "image_size": "--image-size",
    "style_size": "--style-size",
    "content_layer": "--content-layer",
    "content_weight": "--content-weight",
    "style_layers": "--style-layers",
    "style_weights": "--style-weights",
    "tv_weight": "--tv-weight",
    "steps": "--steps",
    "optimizer": "--optimizer",
    "lr": "--lr",
    "decayed_lr": "--decayed-lr",
    "decay_at": "--decay-at",
    "init": "--init",
    "loss_backend": "--loss-backend",
    "model": "--model",
    "weights": "--weights",
    "device": "--device",
    "seed": "--seed",
    "snapshots": "--snapshots",
    "progress": "--progress",
}
"""The command-line flag of every setting, used in every message."""

RANGES = {
    "image_size": Range(int, 1),
    "style_size": Range(int, 1),
    "content_layer": Range(int, 0),
    "content_weight": Range(float, 0),
    "tv_weight": Range(float, 0),
    "steps": Range(int, 1),
    "lr": Range(float, 0, low_open=True),
    "decayed_lr": Range(float, 0, low_open=True),
    "decay_at": Range(int, 0),
    "seed": Range(int, 0),
    "snapshots": Range(int, 2),
}
"""The allowed values of every numeric setting (also checked while the command line is
parsed); the layers and the style weights are lists, checked by :meth:`StyleConfig.check`."""


@dataclass(kw_only=True)
class StyleConfig:
    """Everything that defines a style-transfer run; stored as ``config.json``.

    ``content`` is an image file, or ``None`` for the procedural scene; ``style`` an image file
    or the name of a procedural style (:data:`~dualnet.apps.style.data.STYLES`).
    Images are resized so that their shorter side is ``image_size`` (content and result) or
    ``style_size`` (style). ``steps`` counts optimiser steps; with Adam the learning rate is
    ``lr`` before step ``decay_at`` and ``decayed_lr`` from it on (``None``: 90% of the steps).
    ``snapshots`` images, evenly spaced from the start to the result, make the strip.
    """

    mode: str = "transfer"
    content: str | None = None
    style: str = "strokes"
    preset: str | None = None
    image_size: int
    style_size: int
    content_layer: int
    content_weight: float
    style_layers: tuple[int, ...]
    style_weights: tuple[float, ...]
    tv_weight: float
    steps: int = 200
    optimizer: str = "adam"
    lr: float
    decayed_lr: float
    decay_at: int | None = None
    init: str
    loss_backend: str = "torch"
    model: str = DEFAULT_MODEL
    weights: str | None = None
    device: str = "auto"
    seed: int = 0
    snapshots: int = 6
    progress: bool = True

    @property
    def decay_step(self) -> int:
        """The first step at the decayed learning rate."""
        return round(0.9 * self.steps) if self.decay_at is None else self.decay_at

    def check(self) -> None:
        """Raise :class:`ConfigError` for an impossible configuration, naming the flag."""
        choices = {
            "mode": MODES,
            "optimizer": OPTIMIZERS,
            "loss_backend": LOSS_BACKENDS,
            "init": INITS,
            "device": runtime.DEVICES,
            "preset": (None, *PRESETS),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                listed = ", ".join(str(a) for a in allowed if a is not None)
                raise ConfigError(
                    f"{FLAGS[name]} must be one of {listed}, got {getattr(self, name)!r}"
                )
        for name, allowed in RANGES.items():
            problem = getattr(self, name) is not None and allowed.problem(getattr(self, name))
            if problem:
                raise ConfigError(f"{FLAGS[name]} {problem}")
        self.check_layers()

    def check_layers(self) -> None:
        """The style layers: distinct indices, one non-negative weight each."""
        layers, weights = list(self.style_layers), list(self.style_weights)
        if not layers:
            raise ConfigError("--style-layers must name at least one layer")
        for index in layers:
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise ConfigError(f"--style-layers must hold layer indices >= 0, got {index!r}")
        if len(set(layers)) != len(layers):
            raise ConfigError(f"--style-layers names a layer twice: {layers}")
        if len(weights) != len(layers):
            raise ConfigError(
                f"--style-weights has {len(weights)} values but --style-layers has "
                f"{len(layers)} ({' '.join(map(str, layers))}): give one weight per style layer"
            )
        for position, weight in enumerate(weights):
            problem = Range(float, 0).problem(weight)
            if problem:
                raise ConfigError(f"--style-weights: weight {position + 1} {problem}")


def defaults(mode: str = "transfer", preset: str | None = None, model: str = DEFAULT_MODEL) -> dict:
    """The settings ``mode`` starts from on ``model``: its layers and learning rates
    (:func:`network_layers`), the sizes of ``preset`` (Starry Night when ``None``) and its
    weights carried over to the network's layers, with the style weights set to 0 for
    ``invert`` and the content weight to 0 for ``texture``; both of those start from noise,
    ``transfer`` from the content image."""
    if mode not in MODES:
        raise ConfigError(f"ACTION must be one of {', '.join(MODES)}, got {mode!r}")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    chosen, base = PRESETS[preset or DEFAULT_PRESET], PRESETS[DEFAULT_PRESET]
    layers = network_layers(model)
    ratios = [c / b for c, b in zip(chosen.style_weights, base.style_weights, strict=True)]
    values = {
        "image_size": chosen.image_size,
        "style_size": chosen.style_size,
        "content_layer": layers.content_layer,
        "style_layers": layers.style_layers,
        "content_weight": layers.content_weight * chosen.content_weight / base.content_weight,
        "style_weights": tuple(w * r for w, r in zip(layers.style_weights, ratios, strict=True)),
        "tv_weight": layers.tv_weight * chosen.tv_weight / base.tv_weight,
        "lr": layers.lr,
        "decayed_lr": layers.decayed_lr,
        "init": "content" if mode == "transfer" else "random",
    }
    if mode == "invert":
        values["style_weights"] = (0.0,) * len(layers.style_layers)
    if mode == "texture":
        values["content_weight"] = 0.0
    return values


FIXED_BY_MODE = {"invert": "style_weights", "texture": "content_weight"}
"""The weight each mode sets to 0, which may not be given."""


def make_config(mode: str = "transfer", preset: str | None = None, **settings) -> StyleConfig:
    """A checked :class:`StyleConfig`: :func:`defaults` for ``mode`` and ``preset``, overridden
    by ``settings`` (``None`` means "not given").

    With ``style_layers`` but no ``style_weights`` given, the layers must be as many as the
    default weights; otherwise give both.

    Raises:
        ConfigError: naming the flag of the first setting that is wrong.
    """
    chosen = {k: v for k, v in settings.items() if v is not None}
    fixed = FIXED_BY_MODE.get(mode)
    if fixed in chosen:
        raise ConfigError(
            f"{FLAGS[fixed]}: {mode} sets it to 0 ({FLAGS[fixed]} {chosen[fixed]!r} was "
            "given); use the transfer action to weigh both content and style"
        )
    values = {**defaults(mode, preset, chosen.get("model", DEFAULT_MODEL)), **chosen}
    if mode == "invert" and "style_layers" in chosen:
        values["style_weights"] = (0.0,) * len(chosen["style_layers"])
    for name in ("style_layers", "style_weights"):
        if name in values:
            values[name] = tuple(values[name])
    config = StyleConfig(mode=mode, preset=preset, **values)
    config.check()
    return config


def to_json(config: StyleConfig) -> dict:
    """The configuration as plain JSON values, with the decay step resolved."""
    values = asdict(config)
    values.update(style_layers=list(config.style_layers), style_weights=list(config.style_weights))
    values["decay_at"] = config.decay_step
    return values
