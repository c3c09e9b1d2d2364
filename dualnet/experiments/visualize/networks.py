"""The fixed networks that visualization (and style transfer) look into.

:func:`load_network` gives a :class:`Network` for ``--model``:

``squeezenet``
    torchvision's SqueezeNet 1.1 with its ImageNet weights (torch.hub's cache or ``--weights
    FILE``; offline, the error says what to download and where to put it). 224x224 images,
    1000 classes.
``embedded`` (the default)
    A stand-in of the same architecture trained by the classification application on the
    embedded shapes drawn at 64x64 (``dualnet classify train --model squeezenet1_1``), built on
    first use (about seven minutes on two cores; deterministic for a given thread count) and
    cached as a run directory in ``$DUALNET_CACHE/networks/``.
a run directory or checkpoint
    Any classification run, of either backend: a NumPy run gives a NumPy model whose input
    gradients come from the hand-derived backward passes.

Every network takes pixels in [0, 1] and normalises inside (``PixelModel``), so step sizes and
budgets are in pixel units.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from dualnet.experiments import pretrained, runs, runtime
from dualnet.experiments.classify import config as classify_config
from dualnet.experiments.classify.evaluate import load_model
from dualnet.experiments.classify.models import build_model
from reference_numpy import visualization as numpy_visualization
from torch_impl import visualization as torch_visualization

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STAND_IN_RUN = "networks/squeezenet1_1-embedded-64px-v2"
"""The stand-in's run directory under the data cache."""


@dataclass
class Network:
    """A fixed classifier on pixels in [0, 1].

    ``model`` is a ``torch_impl.visualization.PixelModel`` (backend ``torch``) or a
    ``reference_numpy.visualization.PixelModel`` (backend ``numpy``); ``data`` names the
    dataset whose classes it knows (``embedded`` or ``imagenet``).
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
    """The classification run's ``TrainConfig`` (``None`` for the ImageNet network)."""


def load_network(
    name: str = "embedded", weights: str | None = None, device: str = "auto", progress=True
) -> Network:
    """The network ``name`` (see the module docstring), on ``device``, in evaluation mode."""
    target = runtime.resolve_device(device)
    if name == "squeezenet":
        return imagenet_squeezenet(weights, target)
    if name == "embedded":
        run = build_stand_in(progress=progress)
        return network_from_run(run / "last.pt", target, name="embedded")
    path = Path(name)
    if path.is_dir():
        path = path / "best.pt" if (path / "best.pt").exists() else path / "last.pt"
    if not path.exists():
        raise runs.CheckpointError(
            f"--model {name}: not 'embedded', 'squeezenet', a run directory or a checkpoint"
        )
    return network_from_run(path, target, name=str(name))


def imagenet_squeezenet(weights: str | None, device: torch.device) -> Network:
    import torchvision

    enum = torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1
    model = torchvision.models.squeezenet1_1()
    model.load_state_dict(pretrained.load_state_dict(enum, file=weights))
    pixel_model = torch_visualization.PixelModel(model, IMAGENET_MEAN, IMAGENET_STD).to(device)
    classes = list(enum.meta["categories"])
    return Network("squeezenet", pixel_model, "torch", classes, 224, "imagenet", device)


def network_from_run(path: Path, device: torch.device, name: str) -> Network:
    """The model of a classification checkpoint (either backend), wrapped to take pixels."""
    checkpoint = runs.load_checkpoint(path, classify_config.CHECKPOINT_FORMAT)
    config = classify_config.config_from_checkpoint(checkpoint)
    size = config.image_size
    model, _ = load_model(checkpoint, (3, size, size), device)
    mean, std = tuple(checkpoint["mean"]), tuple(checkpoint["std"])
    if config.backend == "numpy":
        pixel_model = numpy_visualization.PixelModel(model, mean, std)
    else:
        pixel_model = torch_visualization.PixelModel(model, mean, std).to(device)
    classes = list(checkpoint["classes"])
    return Network(
        name, pixel_model, config.backend, classes, size, config.data, device, mean, std, config
    )


def stand_in_dir() -> Path:
    from dualnet.data import data_root

    return data_root() / STAND_IN_RUN


def build_stand_in(progress: bool = True) -> Path:
    """The stand-in's run directory, training it first if it is not finished (a stopped build
    continues where it stopped)."""
    from dualnet.experiments.classify.train import train

    run = stand_in_dir()
    summary = run / "summary.json"
    if summary.exists() and '"finished": true' in summary.read_text():
        return run
    print(
        "building the stand-in network (SqueezeNet 1.1 trained on the embedded shapes at "
        f"64x64, once; cached in {run})",
        flush=True,
    )
    resume = str(run / "last.pt") if (run / "last.pt").exists() else None
    config = classify_config.make_config(
        "squeezenet1_1", device="cpu", out_dir=str(run), resume=resume, progress=progress
    )
    train(config)
    return run


def random_copy(network: Network, seed: int = 1) -> Network:
    """The same architecture re-initialised, as its training would start it with another seed:
    the model-randomisation sanity check of Adebayo et al. (2018) compares explanations of the
    trained and the re-initialised network."""
    if network.backend == "numpy":
        model = network.model.model
        fresh = type(model)(**{**model.config(), "seed": seed}, dtype=model.dtype)
        pixel_model = numpy_visualization.PixelModel(fresh, network.mean, network.std)
        return replace(network, name=f"{network.name} (re-initialised)", model=pixel_model)
    if network.config is None:  # the ImageNet SqueezeNet
        import torchvision

        torch.manual_seed(seed)
        fresh = torchvision.models.squeezenet1_1()
    else:
        size = network.image_size
        config = replace(network.config, seed=seed)
        fresh = build_model(config, len(network.classes), (3, size, size))
    pixel_model = torch_visualization.PixelModel(fresh, network.mean, network.std)
    pixel_model = pixel_model.to(network.device)
    return replace(network, name=f"{network.name} (re-initialised)", model=pixel_model)
