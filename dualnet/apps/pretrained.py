"""ImageNet weights from torchvision, found offline or refused with instructions.

torchvision's weight enums (``SqueezeNet1_1_Weights.IMAGENET1K_V1``, ...) name a file that
``torch.hub`` downloads into ``$TORCH_HOME/hub/checkpoints/`` the first time. This module looks
for that file (or a file given with ``--weights FILE``), downloads it only when asked and
able, and otherwise raises :class:`WeightsNotFoundError` whose message says which file to
download, from where, where to put it, and which flag takes it. The file is read with
``weights_only=True``: a state dict of tensors, never code.
"""

from __future__ import annotations

import socket
from pathlib import Path

import torch

from dualnet.apps import runs

DOWNLOAD_TIMEOUT = 15.0
"""Seconds any one network operation of a download may wait."""


class WeightsNotFoundError(FileNotFoundError):
    """Pretrained weights are neither on disk nor downloadable; the message says how to get
    them."""


def weights_enum(name: str):
    """The torchvision weights value ``name``, e.g. ``"SqueezeNet1_1_Weights.IMAGENET1K_V1"``."""
    import torchvision

    enum_name, _, member = name.partition(".")
    return getattr(torchvision.models, enum_name)[member]


def cached_path(weights) -> Path:
    """Where ``torch.hub`` keeps the file of ``weights``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def missing_message(weights, reason: str, flag: str = "--weights") -> str:
    path = cached_path(weights)
    return (
        f"the pretrained weights {weights} are not on this machine and {reason}.\n"
        f"Download {weights.url}\n"
        f"and put it at {path} (torch.hub's cache; TORCH_HOME moves it), "
        f"or pass the downloaded file with {flag} FILE."
    )


def load_state_dict(weights, file: str | Path | None = None, download: bool = True) -> dict:
    """The state dict of ``weights`` (a torchvision weights value).

    Args:
        weights: e.g. ``torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1``.
        file: A downloaded copy of the weights file; wins over the cache.
        download: Try to download into torch.hub's cache when the file is missing.

    Raises:
        WeightsNotFoundError: the file is missing and cannot be downloaded (the message says
            what to fetch and where to put it), or ``file`` does not exist.
        runs.CheckpointError: the file is not a state dict of tensors.
    """
    if file is not None:
        if not Path(file).is_file():
            raise WeightsNotFoundError(f"--weights: no weights file at {file}")
        return read_state_dict(Path(file), "--weights")
    path = cached_path(weights)
    if not path.is_file():
        if not download:
            raise WeightsNotFoundError(missing_message(weights, "downloading is switched off"))
        fetch(weights, path)
    return read_state_dict(path)


def fetch(weights, path: Path) -> None:
    """Download the file of ``weights`` to ``path``, or raise :class:`WeightsNotFoundError`."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(weights.url, str(path), progress=True)
    except (OSError, RuntimeError, ValueError) as error:
        reason = f"the download failed ({type(error).__name__}: {error})"
        raise WeightsNotFoundError(missing_message(weights, reason)) from error
    finally:
        socket.setdefaulttimeout(previous)


def read_state_dict(path: Path, flag: str = "") -> dict:
    """A state dict (name -> tensor) read as data only; ``flag`` is the flag that named
    ``path`` (``--weights``), for the messages.

    Raises:
        runs.CheckpointError: ``path`` is empty, not a PyTorch file, carries code, or holds
            something else than a state dict of tensors; one line naming it (and ``flag``).
    """
    said = f"{flag} " if flag else ""
    if path.stat().st_size == 0:
        raise runs.CheckpointError(f"{said}{path} is empty, not a weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        foreign = runs.foreign_globals(path)
        if foreign:
            raise runs.CheckpointError(said + runs.refusal(path, foreign)) from None
        raise runs.CheckpointError(said + runs.not_a_checkpoint(path)) from None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise runs.CheckpointError(f"{said}{path} does not hold a state dict of tensors")
    return state
