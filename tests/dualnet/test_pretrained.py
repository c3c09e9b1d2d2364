"""ImageNet weights: found in torch.hub's cache or a given file, read as data, and an offline
miss that says what to download and where."""

import pytest
import torch
import torchvision

from dualnet.apps import pretrained, runs

WEIGHTS = torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_a_missing_file_offline_says_what_to_fetch_and_where(hub):
    with pytest.raises(pretrained.WeightsNotFoundError) as error:
        pretrained.load_state_dict(WEIGHTS, download=False)
    message = str(error.value)
    assert WEIGHTS.url in message and "--weights FILE" in message
    assert str(hub / "checkpoints" / "squeezenet1_1-b8a52dc0.pth") in message


def test_a_failed_download_gives_the_same_instructions(hub, monkeypatch):
    def offline(url, destination, progress=True):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(pretrained.WeightsNotFoundError, match="the download failed"):
        pretrained.load_state_dict(WEIGHTS)


def test_the_cache_and_a_given_file_are_read(hub, tmp_path):
    state = torchvision.models.squeezenet1_1().state_dict()
    path = pretrained.cached_path(WEIGHTS)
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    loaded = pretrained.load_state_dict(WEIGHTS, download=False)
    assert loaded.keys() == state.keys()
    assert torch.equal(loaded["classifier.1.weight"], state["classifier.1.weight"])
    assert pretrained.load_state_dict(WEIGHTS, file=path).keys() == state.keys()
    with pytest.raises(pretrained.WeightsNotFoundError, match="no weights file at"):
        pretrained.load_state_dict(WEIGHTS, file=tmp_path / "nope.pth")


def test_a_weights_file_that_is_not_a_state_dict_is_refused(hub, tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"epoch": 3}, path)
    with pytest.raises(runs.CheckpointError, match="does not hold a state dict of tensors"):
        pretrained.load_state_dict(WEIGHTS, file=path)
