"""``dualnet style``: each action writes its results, images of any kind are read, a
classification run's SqueezeNet serves as the network, and bad input is refused with a
message that names the flag, overwriting nothing. Small images, few steps, seeded random
weights (``--model random``)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dualnet import cli

pytestmark = [pytest.mark.style, pytest.mark.cli]

QUIET = ["--model", "random", "--image-size", "40", "--style-size", "40", "--device", "cpu"]
SMALL = [*QUIET, "--steps", "6", "--no-progress"]


@pytest.fixture(autouse=True)
def isolated(session_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("DUALNET_CACHE", str(session_cache))
    monkeypatch.chdir(tmp_path)


def summary_of(out) -> dict:
    return json.loads((Path(out) / "summary.json").read_text())


COMMON_KEYS = {
    "content_loss", "style_loss_initial", "style_loss_final", "tv_loss", "steps", "seconds",
    "steps_per_second", "image_size", "loss_backend",
}  # fmt: skip
MODE_KEYS = {
    "transfer": {"gram_distance_result", "gram_distance_content", "style_loss_reduction"},
    "invert": {"psnr", "psnr_luma"},
    "texture": {"orientation_difference", "spectrum_correlation", "gram_distance_start",
                "style_loss_reduction"},
}  # fmt: skip


@pytest.mark.parametrize("action", ["transfer", "invert", "texture"])
def test_each_action_writes_its_results(action, capsys):
    # off a terminal (as under pytest) the progress is a printed line every tenth of the run
    assert cli.main(["style", action, *QUIET, "--steps", "20", "--out", "out"]) == 0
    summary = summary_of("out")
    assert COMMON_KEYS | MODE_KEYS[action] <= set(summary)
    assert summary["mode"] == action and summary["steps"] == 20 and summary["image_size"] == 40
    assert summary["loss_backend"] == "torch" and summary["model"] == "random"
    if action == "invert":
        assert "style_loss_reduction" not in summary and summary["style_loss_initial"] == 0
    else:
        assert summary["style_loss_reduction"] > 0
    for name in ("result.png", "content.png", "style.png", "steps.png", "losses.png"):
        assert Path("out", name).stat().st_size > 0
    assert Image.open("out/result.png").size == (60, 40)  # chelsea, 451 x 300, at 40 pixels
    with np.load("out/snapshots.npz") as snapshots:
        assert snapshots["steps"].tolist() == [0, 4, 8, 12, 16, 20]
        assert snapshots["images"].shape == (6, 3, 40, 60)
        result = np.asarray(Image.open("out/result.png")).transpose(2, 0, 1)
        np.testing.assert_array_equal(snapshots["images"][-1], result)
    records = [json.loads(line) for line in Path("out/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(20))
    config = json.loads(Path("out/config.json").read_text())
    assert config["mode"] == action and config["decay_at"] == 18
    printed = capsys.readouterr().out
    assert "style_loss_final" in printed and "step 2/20" in printed and "step 20/20" in printed


def test_numpy_losses_lbfgs_presets_and_files(tmp_path):
    content = tmp_path / "photo.png"
    Image.new("RGBA", (60, 45), (200, 40, 30, 255)).save(content)
    style = tmp_path / "painting.jpg"
    Image.effect_noise((50, 70), 60).save(style)  # grayscale ("L")
    args = ["style", "transfer", *SMALL, "--content", str(content), "--style", str(style)]
    args += ["--preset", "the-scream", "--loss-backend", "numpy", "--optimizer", "lbfgs"]
    assert cli.main([*args, "--out", "files"]) == 0
    summary = summary_of("files")
    assert summary["loss_backend"] == "numpy" and summary["optimizer"] == "lbfgs"
    assert summary["content"] == "photo.png" and summary["style"] == "painting.jpg"
    assert Image.open("files/result.png").size == (53, 40)  # the shorter side at 40
    config = json.loads(Path("files/config.json").read_text())
    assert config["style_weights"] == [200000, 800, 12, 1] and config["tv_weight"] == 0.02
    assert config["style_size"] == 40  # the flag overrides the preset


@pytest.mark.slow
def test_a_squeezenet_classification_run_is_a_network(session_cache, tmp_path):
    train = ["classify", "train", "--model", "squeezenet1_1", "--epochs", "1", "--image-size"]
    train += ["32", "--train-subset", "64", "--batch-size", "32", "--device", "cpu"]
    assert cli.main([*train, "--no-figures", "--no-progress", "--out", "sq"]) == 0
    assert cli.main(["style", "texture", *SMALL, "--model", "sq", "--out", "t"]) == 0
    assert summary_of("t")["model"] == "sq"


def refused(args, expected, capsys, status=2):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["style", *args])
    assert exit_info.value.code == status
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--content", "missing.png"], "--content missing.png: neither a built-in image"),
        (["--style", "nowhere.jpg"], "--style nowhere.jpg: neither a built-in image"),
        (["--style-layers", "1", "4", "6", "13"], "--style-layers: layer 13 is outside"),
        (["--content-layer", "30"], "--content-layer: layer 30 is outside the network"),
        (["--style-weights", "1", "2"], "--style-weights has 2 values but --style-layers has 4"),
        (["--style-weights", "1", "-2", "3", "4"], "argument --style-weights: must be at least 0"),
        (["--content-weight", "-1"], "argument --content-weight: must be at least 0"),
        (["--image-size", "8"], "--image-size 8: an image of 8x12 pixels is too small for layer 7"),
        (["--style-size", "6"], "its shorter side must be at least 9 pixels"),
        (["--preset", "mona-lisa"], "argument --preset: invalid choice"),
        (["--device", "tpu"], "argument --device: invalid choice"),
    ],
)
def test_bad_input_names_the_argument(args, expected, capsys):
    refused(["transfer", *SMALL, *args, "--out", "bad"], expected, capsys)
    assert not Path("bad").exists()  # a failed run leaves no empty folder


def test_unreadable_images_contradictions_and_existing_runs_are_refused(tmp_path, capsys):
    (tmp_path / "notes.png").write_text("not an image")
    refused(["transfer", *SMALL, "--content", "notes.png", "--out", "a"], "cannot read", capsys)
    refused(
        ["invert", *SMALL, "--style-weights", "1", "1", "1", "1", "--out", "b"],
        "--style-weights: invert sets it to 0",
        capsys,
    )
    refused(["texture", *SMALL, "--content-weight", "1", "--out", "c"], "texture sets it", capsys)
    assert cli.main(["style", "texture", *SMALL, "--out", "done"]) == 0
    before = Path("done/summary.json").read_text()
    refused(["transfer", *SMALL, "--out", "done"], "already holds a run", capsys)
    assert Path("done/summary.json").read_text() == before  # nothing overwritten
    assert cli.main(["style", "transfer", *SMALL, "--model", "nowhere.pt", "--out", "d"]) == 1
    assert (
        "not one of efficientnet-lite0, squeezenet, embedded, a run directory"
        in capsys.readouterr().err
    )
