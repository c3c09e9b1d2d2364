"""The networks of the applications: EfficientNet-Lite0 with the shipped ImageNet weights on
the shipped photographs, the photographs' boxes, and the rule that builds a helper network
once."""

import dataclasses
import json

import pytest
import torch

from dualnet.apps import networks
from dualnet.data import photos
from torch_impl.models import efficientnet

pytestmark = pytest.mark.visualization


@pytest.fixture(scope="module")
def lite0():
    return networks.load_network("efficientnet-lite0", device="cpu")


@pytest.fixture(scope="module")
def photo_set():
    return photos.photo_set(224)


def test_lite0_names_what_every_photograph_shows_in_its_top_5(lite0, photo_set):
    with torch.no_grad():
        scores = lite0.model(photo_set.images)
    top5 = scores.topk(5, dim=1).indices.tolist()
    for name, best, accepted in zip(photo_set.names, top5, photo_set.accepted, strict=True):
        assert set(best) & set(accepted), (name, [lite0.classes[k] for k in best])
    cat, coffee, moped = (photo_set.names.index(n) for n in ("chelsea", "coffee", "motorcycle"))
    assert set(top5[cat]) & {281, 282, 283, 284, 285}
    assert set(top5[coffee]) & {967, 968}
    assert set(top5[moped]) & {665, 670}
    assert lite0.classes[281] == "tabby" and len(lite0.classes) == 1000


def test_lite0_is_frozen_and_stays_in_evaluation_mode(lite0):
    assert not any(p.requires_grad for p in lite0.model.parameters())
    lite0.model.train()
    assert not lite0.model.model.training


def test_the_weights_expect_pixels_mapped_to_minus_one_one(photo_set):
    """The stem's batch norm stored the mean and variance of what it saw in training; the
    input normalisation whose stem outputs match them is the one the weights expect."""
    model = networks.efficientnet_lite0()
    conv, norm = model.features[0][0], model.features[0][1]
    live = norm.running_var > 1e-4  # a few channels are dead

    def mismatch(mean, std) -> float:
        mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (mean, std))
        with torch.no_grad():
            out = conv((photo_set.images - mean) / std)
        variance = out.var(dim=(0, 2, 3))[live]
        return float((variance / norm.running_var[live]).log().abs().mean())

    half = mismatch(efficientnet.INPUT_MEAN, efficientnet.INPUT_STD)
    imagenet = mismatch(networks.IMAGENET_MEAN, networks.IMAGENET_STD)
    assert half < 0.5 < 1.0 < imagenet  # measured: 0.31 and 1.39 on 126 views


def test_a_missing_weights_file_is_one_line(capsys, tmp_path):
    from dualnet import cli

    code = cli.main(["visualize", "saliency", "--weights", str(tmp_path / "no.pth"),
                     "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 1
    assert "no weights file at" in capsys.readouterr().err


def test_the_boxes_land_where_the_crop_puts_them():
    # a 200 x 100 image seen at 50 pixels: resized by 1/2 to 100 x 50, columns 25-75 kept
    mask = photos.box_mask([50, 0, 100, 50], (100, 200), 50)
    assert mask.shape == (50, 50)
    assert mask[:25, :25].all() and not mask[25:].any() and not mask[:, 25:].any()
    assert photos.box_mask([0, 0, 200, 100], (100, 200), 50).all()


def test_every_photograph_is_read_with_its_box_inside_it(photo_set):
    assert photo_set.images.shape == (len(photos.PHOTOS), 3, 224, 224)
    assert 0 <= float(photo_set.images.min()) and float(photo_set.images.max()) <= 1
    for name, mask in zip(photo_set.names, photo_set.masks, strict=True):
        entry = photos.PHOTOS[name]
        height, width = photos.read_photo(name).shape[:2]
        left, top, right, bottom = entry["box"]
        assert 0 <= left < right <= width and 0 <= top < bottom <= height, name
        assert mask.any(), name
        assert entry["label"] in entry["accepted"] and entry["licence"]
    for name in photos.TEXTURES:
        assert photos.read_photo(name).ndim == 3
    with pytest.raises(ValueError, match="no bundled photograph or texture named 'dog'"):
        photos.read_photo("dog")


def test_a_helper_network_is_cached_only_once_its_build_finished(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DUALNET_CACHE", str(tmp_path))
    calls = []

    def stopped(folder):
        folder.mkdir(parents=True)
        (folder / "last.pt").write_text("step 3")
        calls.append("stopped")
        return False

    with pytest.raises(networks.BuildStopped, match="Run the command again to continue"):
        networks.build_once("toy", {"steps": 10}, stopped, "a toy network")
    assert not networks.build_path("toy", {"steps": 10}).exists()  # never used half built

    def continued(folder):
        assert (folder / "last.pt").read_text() == "step 3"  # what the stopped build left
        calls.append("continued")
        return True

    built = networks.build_once("toy", {"steps": 10}, continued, "a toy network")
    assert built.path == networks.build_path("toy", {"steps": 10}) and built.seconds > 0
    assert json.loads((built.path / "recipe.json").read_text()) == {"steps": 10}
    again = networks.build_once("toy", {"steps": 10}, stopped, "a toy network")
    assert again.seconds == 0 and calls == ["stopped", "continued"]
    other = networks.build_path("toy", {"steps": 11})
    assert other != built.path  # another recipe, another network
    out = capsys.readouterr().out
    assert "building a toy network, once" in out and "continuing a toy network" in out


def test_a_build_stopped_before_its_first_checkpoint_starts_again(monkeypatch, tmp_path):
    monkeypatch.setenv("DUALNET_CACHE", str(tmp_path))
    partial = networks.networks_dir() / (networks.build_path("toy", {}).name + ".partial")
    partial.mkdir(parents=True)
    (partial / "config.json").write_text("{}")

    def build(folder):
        assert not folder.exists()
        folder.mkdir()
        return True

    assert networks.build_once("toy", {}, build, "a toy network").path.is_dir()


@pytest.mark.slow
def test_visualize_fools_lite0_on_the_photographs_by_a_grey_level(tmp_path):
    from dualnet import cli

    out = tmp_path / "fool"
    assert cli.main(["visualize", "fool", "--device", "cpu", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "efficientnet-lite0" and summary["n_images"] == len(photos.PHOTOS)
    assert summary["success_rate"] == 1.0 and summary["mean_abs_change"] <= 2 / 255
    assert summary["build_seconds"] == 0 and summary["seconds"] > 0  # nothing to build


def test_attacks_on_lite0_count_every_accepted_class_as_right(tmp_path):
    from dualnet.apps.visualize import attacks
    from dualnet.apps.visualize.data import load_inputs

    network = networks.load_network("efficientnet-lite0", device="cpu")
    inputs = load_inputs(None, network, 2)  # chelsea and coffee
    assert inputs.names == ["chelsea", "coffee"] and inputs.accepted[0] == [281, 282, 285]
    right = inputs.right_classes(1000)
    assert right.shape == (2, 1000) and right[0].sum() == 3 and right[1, 967]
    clean = attacks.accuracy(network, inputs.images, inputs)
    assert clean == 1.0  # Lite0 says 'Egyptian cat': a right class
    generator = torch.Generator().manual_seed(0)
    targets = attacks.random_wrong_targets(inputs.labels, 1000, generator)
    # one budget of the curve `dualnet visualize attack` draws (the command is tested on the
    # small networks in test_visualize_cli.py)
    summary = attacks.attack_accuracies(network, inputs, right, targets, 2 / 255, clean, generator)
    assert summary["pgd_accuracy"] <= summary["fgsm_accuracy"] and summary["pgd_accuracy"] == 0


def test_style_texture_on_lite0_draws_the_stripes_at_their_angle(tmp_path):
    from dualnet import cli

    out = tmp_path / "texture"
    args = ["style", "texture", "--style", "stripes", "--image-size", "96", "--style-size", "96"]
    assert cli.main([*args, "--steps", "60", "--no-progress", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "efficientnet-lite0" and summary["style_loss_reduction"] > 0.9
    assert summary["orientation_difference"] < 10
    assert summary["spectrum_correlation"] > summary["spectrum_correlation_start"] + 0.2


def test_the_stand_in_is_built_once_by_the_classification_loop(monkeypatch, tmp_path):
    from dualnet.data import embedded

    monkeypatch.setenv("DUALNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(embedded, "SIZES", (40, 10, 10))
    real = networks.stand_in_config

    def tiny(out_dir, progress=True):
        config = real(out_dir, progress=False)
        return dataclasses.replace(config, epochs=1, batch_size=20, image_size=32)

    monkeypatch.setattr(networks, "stand_in_config", tiny)
    first = networks.load_network("embedded", device="cpu")
    assert first.build_seconds > 0 and networks.stand_in_path().is_dir()
    stamp = (networks.stand_in_path() / "last.pt").stat().st_mtime_ns
    second = networks.load_network("embedded", device="cpu")
    assert second.build_seconds == 0  # cached, not retrained
    assert (networks.stand_in_path() / "last.pt").stat().st_mtime_ns == stamp
    assert first.classes == list(embedded.CLASSES) and second.image_size == 32
    X = torch.rand(2, 3, 32, 32)
    assert torch.equal(first.model(X), second.model(X))


def test_a_stopped_build_is_one_line_and_status_130(monkeypatch, tmp_path, capsys):
    from dualnet import cli

    def stopped(*args, **kwargs):
        raise networks.BuildStopped("the build of the stand-in stopped before it finished")

    monkeypatch.setattr(networks, "stand_in", stopped)
    for command in (["visualize", "fool"], ["style", "texture", "--steps", "2"]):
        out = str(tmp_path / command[1])
        assert cli.main([*command, "--model", "embedded", "--out", out]) == 130
        assert "stopped before it finished" in capsys.readouterr().err


HOLD_THE_BUILD = """
import fcntl, os, sys, time
descriptor = os.open(sys.argv[1] + ".lock", os.O_RDWR | os.O_CREAT)
fcntl.flock(descriptor, fcntl.LOCK_EX)
os.write(descriptor, b"process %d on here" % os.getpid())
print("building", flush=True)
time.sleep(1.0)
os.makedirs(sys.argv[1])
"""


def test_a_second_command_waits_for_the_build_of_the_first(monkeypatch, tmp_path, capsys):
    import subprocess
    import sys

    monkeypatch.setenv("DUALNET_CACHE", str(tmp_path))
    final = networks.build_path("toy", {})
    final.parent.mkdir(parents=True)
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_BUILD, str(final)], stdout=subprocess.PIPE, text=True
    )
    assert first.stdout.readline() == "building\n"

    def build_again(folder):
        raise AssertionError("built a second time beside the first build")

    assert networks.build_once("toy", {}, build_again, "a toy network").path == final
    assert first.wait(timeout=60) == 0
    out = capsys.readouterr().out
    assert f"waiting for process {first.pid} on here, which is building a toy network" in out
