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
from dualnet.apps.settings import ConfigError, Range, check_settings, flags, setting
from dualnet.apps.style.data import DEFAULT_CONTENT, STYLES, TEXTURES
from dualnet.data.photos import PHOTOS

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


@dataclass(kw_only=True)
class StyleConfig:
    """Everything that defines a style-transfer run; stored as ``config.json``.

    ``content`` is an image file, or ``None`` for the procedural scene; ``style`` an image file
    or the name of a procedural style (:data:`~dualnet.apps.style.data.STYLES`).
    Images are resized so that their shorter side is ``image_size`` (content and result) or
    ``style_size`` (style). ``steps`` counts optimiser steps; with Adam the learning rate is
    ``lr`` before step ``decay_at`` and ``decayed_lr`` from it on (``None``: 90% of the steps).
    ``snapshots`` images, evenly spaced from the start to the result, make the strip. The
    settings whose default says "see the defaults below" come from the preset and the network
    (:func:`defaults`).
    """

    mode: str = setting("transfer", help="the action", flag="", choices=MODES)
    content: str | None = setting(
        None,
        help=f"content image, a bundled photograph ({', '.join(PHOTOS)}), or scene (the "
        f"procedural scene) ({DEFAULT_CONTENT})",
    )
    style: str = setting(
        "strokes",
        help=f"style image, a procedural style ({', '.join(STYLES)}) or a real texture "
        f"({', '.join(TEXTURES)})",
    )
    preset: str | None = setting(
        None, help="sizes and weights (starry-night)", choices=(None, *PRESETS)
    )
    image_size: int = setting(
        help="shorter side of the content image and the result", range=Range(int, 1)
    )
    style_size: int = setting(help="shorter side of the style image", range=Range(int, 1))
    content_layer: int = setting(help="feature layer of the content loss", range=Range(int, 0))
    content_weight: float = setting(help="weight of the content loss", range=Range(float, 0))
    style_layers: tuple[int, ...] = setting(
        help="feature layers of the style loss", range=Range(int, 0), many=True
    )
    style_weights: tuple[float, ...] = setting(
        help="one weight per style layer (invert: 0, fixed)", range=Range(float, 0), many=True
    )
    tv_weight: float = setting(help="weight of the total-variation loss", range=Range(float, 0))
    steps: int = setting(200, help="optimiser steps", range=Range(int, 1))
    optimizer: str = setting("adam", help="adam (the course's recipe) or lbfgs", choices=OPTIMIZERS)
    lr: float = setting(
        help="Adam's learning rate, in normalised image units",
        range=Range(float, 0, low_open=True),
    )
    decayed_lr: float = setting(
        help="Adam's learning rate from --decay-at on", range=Range(float, 0, low_open=True)
    )
    decay_at: int | None = setting(
        None, help="first step at --decayed-lr (90% of the steps)", range=Range(int, 0)
    )
    init: str = setting(
        help="start image (transfer: content; invert, texture: random)", choices=INITS
    )
    loss_backend: str = setting(
        "torch",
        help="losses and their gradients from torch_impl (autograd) or reference_numpy "
        "(hand-derived)",
        choices=LOSS_BACKENDS,
    )
    model: str = setting(
        DEFAULT_MODEL,
        help="efficientnet-lite0 (ImageNet weights, installed with dualnet), squeezenet (the "
        "course's network: torch.hub's cache, a download or --weights), embedded (the "
        "SqueezeNet stand-in, built on first use), random (SqueezeNet with seeded random "
        "weights), or a SqueezeNet classification run",
    )
    weights: str | None = setting(
        None, help="with an ImageNet --model: a weights file to use instead of its own"
    )
    device: str = setting("auto", help="auto: CUDA when available", choices=runtime.DEVICES)
    seed: int = setting(0, help="seed of the random start", range=Range(int, 0))
    snapshots: int = setting(
        6, help="images in the strip of intermediate steps", range=Range(int, 2)
    )
    progress: bool = setting(
        True,
        help="progress bar with the losses, or a line every tenth of the run off a terminal",
    )

    @property
    def decay_step(self) -> int:
        """The first step at the decayed learning rate."""
        return round(0.9 * self.steps) if self.decay_at is None else self.decay_at

    def check(self) -> None:
        """Raise :class:`ConfigError` for an impossible configuration, naming the flag."""
        if self.mode not in MODES:
            raise ConfigError(f"ACTION must be one of {', '.join(MODES)}, got {self.mode!r}")
        self.check_layers()  # first: its messages say which layer or weight is wrong
        check_settings(self)

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
        flag = flags(StyleConfig)[fixed]
        raise ConfigError(
            f"{flag}: {mode} sets it to 0 ({flag} {chosen[fixed]!r} was given); use the "
            "transfer action to weigh both content and style"
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
