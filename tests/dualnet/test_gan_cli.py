"""``dualnet gan train|sample|eval``: a short run end to end, resume, Ctrl-C, and refused
input as usage errors naming the flag or one-line errors naming the file."""

import importlib
import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from dualnet import cli
from dualnet.apps import runs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gan_helpers import shared_cache, write_mnist  # noqa: E402

pytestmark = [pytest.mark.gan, pytest.mark.cli]

# the module, not the function ``train`` that the package exports under the same name
train_module = importlib.import_module("dualnet.apps.gan.train")

QUICK = ["--model", "fc", "--steps", "4", "--batch-size", "16", "--log-every", "2",
         "--sample-every", "2", "--device", "cpu"]  # fmt: skip


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch, tmp_path):
    monkeypatch.setenv("DUALNET_CACHE", str(shared_cache(tmp_path_factory)))
    monkeypatch.chdir(tmp_path)


@pytest.mark.slow
def test_train_sample_and_evaluate_a_run(capsys, tmp_path):
    assert cli.main(["gan", "train", *QUICK, "--loss", "vanilla", "--out", "run"]) == 0
    out = capsys.readouterr().out
    assert "step 2/4: d_loss" in out and "step 4/4: d_loss" in out  # no terminal: lines
    assert "run directory: run" in out and "evaluate it with: dualnet gan eval run" in out
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert summary["steps"] == 4 and f"steps_per_second  {summary['steps_per_second']:.4g}" in out

    assert cli.main(["gan", "sample", "run", "--n-images", "10", "--seed", "3"]) == 0
    assert "wrote run/sample/summary.json" in capsys.readouterr().out
    sampled = json.loads((tmp_path / "run/sample/summary.json").read_text())
    assert sampled == {"n_images": 10, "seed": 3, "step": 4, "files": ["run/sample/samples.png"]}
    assert (tmp_path / "run/sample/samples.png").stat().st_size > 1000

    assert cli.main(["gan", "eval", "run", "--n-images", "200", "--out", "scores"]) == 0
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "scores/summary.json").read_text())
    keys = {"fcd", "fcd_real", "fcd_untrained", "mode_coverage", "confident_fraction",
            "class_histogram", "n_images"}  # fmt: skip
    assert keys <= set(result) and result["n_images"] == 200 and result["step"] == 4
    assert f"fcd_real            {result['fcd_real']:.4g}" in out
    assert " ".join(str(c) for c in result["class_histogram"]) in out
    assert (tmp_path / "scores/samples.png").is_file() and (
        tmp_path / "scores/classes.png"
    ).is_file()


def test_resume_with_the_run_directory_alone(capsys, tmp_path):
    assert cli.main(["gan", "train", *QUICK, "--out", "run", "--stop-after-steps", "2"]) == 0
    assert "stopped after step 2; continue it with: dualnet gan train --resume run" in (
        capsys.readouterr().out
    )
    resume = ["gan", "train", "--resume", "run", "--no-progress"]
    assert cli.main([*resume, "--stop-after-steps", "3"]) == 0  # one more piece
    assert "stopped after step 3; continue it with" in capsys.readouterr().out
    assert cli.main(resume) == 0
    assert json.loads((tmp_path / "run/summary.json").read_text())["steps"] == 4

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["gan", "train", "--resume", "run", "--lr", "0.5"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--lr 0.5 contradicts the run being resumed, which was made with --lr 0.001" in err


def test_ctrl_c_saves_the_run_and_prints_how_to_continue(capsys, monkeypatch):
    real_count = train_module.add_to_interval  # the end of every step

    def step_then_ctrl_c(state, records, g_loss):
        real_count(state, records, g_loss)
        if state.step == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(train_module, "add_to_interval", step_then_ctrl_c)
    assert cli.main(["gan", "train", *QUICK, "--out", "run"]) == 130
    err = capsys.readouterr().err
    assert "interrupted after step 1; the run is saved in run/last.pt" in err
    assert "continue it with: dualnet gan train --resume run" in err and "Traceback" not in err
    assert torch.load("run/last.pt", weights_only=True)["step"] == 1


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["train", "--steps", "0"], "argument --steps: must be at least 1, got 0"),
        (["train", "--lr", "0"], "argument --lr: must be greater than 0, got 0.0"),
        (["train", "--beta2", "1"], "argument --beta2: must be in [0, 1), got 1.0"),
        (["train", "--loss", "hinge"], "argument --loss: invalid choice: 'hinge'"),
        (["sample", "run", "--n-images", "0"], "argument --n-images: must be at least 1, got 0"),
        (["sample", "run", "--n-images", "-3"], "argument --n-images: must be at least 1, got -3"),
        (["eval", "run", "--n-images", "1"], "argument --n-images: must be at least 2, got 1"),
    ],
)
def test_bad_numbers_are_usage_errors_naming_the_flag(capsys, command, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["gan", *command])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and f"usage: dualnet gan {command[0]}" in err


def test_a_checkpoint_of_another_application_is_refused(capsys, tmp_path):
    runs.save_checkpoint({"format": "dualnet-classify-1", "model": {}}, tmp_path / "other.pt")
    for command in (
        ["eval", "other.pt"],
        ["sample", "other.pt"],
        ["train", "--resume", "other.pt"],
    ):
        assert cli.main(["gan", *command]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "other.pt is a 'dualnet-classify-1' checkpoint, expected 'dualnet-gan-1'" in err
    assert cli.main(["gan", "eval", "nowhere"]) == 1
    assert capsys.readouterr().err == "dualnet gan eval: error: no checkpoint at nowhere\n"


def test_mnist_missing_or_of_the_wrong_size_is_a_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    assert cli.main(["gan", "train", *QUICK, "--data", "mnist", "--data-root", "empty"]) == 1
    err = capsys.readouterr().err
    assert "MNIST is not in empty/MNIST/raw" in err and "train-images-idx3-ubyte" in err
    assert "--data-root DIR" in err and "Traceback" not in err

    write_mnist(tmp_path / "big", train=40, size=32)
    assert cli.main(["gan", "train", *QUICK, "--data", "mnist", "--data-root", "big"]) == 1
    err = capsys.readouterr().err
    assert "the mnist training split holds 32x32 images" in err and "28x28" in err


def test_mnist_in_the_idx_layout_trains(capsys, tmp_path):
    written = write_mnist(tmp_path / "mnist", train=40, test=10)
    args = ["gan", "train", *QUICK, "--data", "mnist", "--data-root", "mnist", "--out", "run"]
    assert cli.main(args) == 0
    assert json.loads((tmp_path / "run/config.json").read_text())["data"] == "mnist"
    assert np.asarray(written["train"][0]).shape == (40, 28, 28)
