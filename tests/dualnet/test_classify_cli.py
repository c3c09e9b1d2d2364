"""``dualnet classify``: the README's commands, shortened, on the embedded data; resume from the
run directory alone, Ctrl-C, refused input."""

import importlib
import json
import os
import signal
from pathlib import Path

import pytest
import torch

from dualnet import cli
from dualnet.apps.classify.train import TIMINGS

pytestmark = [pytest.mark.classify, pytest.mark.cli]

# the module, not the function ``train`` that the package exports under the same name
train_module = importlib.import_module("dualnet.apps.classify.train")

QUICK = ["--train-subset", "256", "--batch-size", "64", "--epochs", "1", "--device", "cpu"]


@pytest.fixture(autouse=True)
def isolated(session_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("DUALNET_CACHE", str(session_cache))
    monkeypatch.chdir(tmp_path)


def records(run) -> list[dict]:
    lines = (Path(run) / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines]


def weights(run) -> dict:
    return torch.load(Path(run) / "last.pt", weights_only=True)["model"]


@pytest.mark.slow
def test_train_a_resnet_then_evaluate_it(capsys, tmp_path):
    args = ["classify", "train", "--model", "resnet-preact32", "--data", "embedded", *QUICK]
    assert cli.main([*args, "--image-size", "16"]) == 0  # a quarter of the pixels to evaluate
    out = capsys.readouterr().out
    run = tmp_path / "runs/classify/resnet-preact32-embedded-torch-seed0"
    assert "run directory: runs/classify/resnet-preact32-embedded-torch-seed0" in out
    assert "epoch 1/1: train loss" in out  # one line per epoch when stdout is not a terminal
    summary = json.loads((run / "summary.json").read_text())
    assert {"accuracy", "best_val_accuracy", "seconds", "images_per_second", "steps"} <= set(
        summary
    )
    assert summary["steps"] == 4 and f"accuracy           {summary['accuracy']:.4g}" in out
    for name in ("last.pt", "best.pt", "curves.png", "confusion.png", "config.json"):
        assert (run / name).exists(), name

    assert cli.main(["classify", "eval", str(run), "--json", "--out", "figs"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "resnet-preact32" and result["n_images"] == 2000
    assert result["accuracy"] == pytest.approx(summary["accuracy"])  # best.pt = the one epoch
    assert (tmp_path / "figs" / "misclassified.png").exists()
    assert (
        json.loads((tmp_path / "figs" / "summary.json").read_text())["accuracy"]
        == result["accuracy"]
    )


@pytest.mark.parametrize("level", ["barebones", "module", "sequential"])
@pytest.mark.slow
def test_each_level_of_the_small_nets(capsys, level):
    assert cli.main(["classify", "train", "--model", "convnet3", "--level", level, *QUICK]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_the_numpy_backend_writes_a_run_that_eval_reads(capsys, tmp_path):
    args = ["classify", "train", "--backend", "numpy", "--model", "convpool3", *QUICK]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs/classify/convpool3-embedded-numpy-seed0"
    assert "run directory: runs/classify/convpool3-embedded-numpy-seed0" in out
    assert (run / "params.npz").exists()
    test_acc = json.loads((run / "summary.json").read_text())["accuracy"]
    assert cli.main(["classify", "eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["backend"] == "numpy" and result["accuracy"] == pytest.approx(test_acc)


def test_a_name_means_one_network_in_both_backends(capsys):
    with pytest.raises(SystemExit):
        cli.main(["classify", "train", "--backend", "numpy", "--model", "convnet3", *QUICK])
    assert "the NumPy backend has no convnet3; it trains fc2, convpool3" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_with_the_run_directory_alone_gives_the_uninterrupted_run(capsys):
    flags = ["--model", "convnet3", "--lr", "0.0003", "--label-smoothing", "0.1", "--augment"]
    settings = [*flags, "--train-subset", "256", "--batch-size", "32", "--epochs", "2"]
    assert cli.main(["classify", "train", *settings, "--out", "whole", "--device", "cpu"]) == 0
    # stop in the middle of the second epoch (8 steps per epoch), then continue with RUN alone
    assert (
        cli.main(["classify", "train", *settings, "--out", "split", "--stop-after-steps", "11"])
        == 0
    )
    assert "stopped after step 11; continue it with: dualnet classify train --resume split" in (
        capsys.readouterr().out
    )
    first_piece = torch.load("split/last.pt", weights_only=True)["seconds"]
    assert cli.main(["classify", "train", "--resume", "split"]) == 0
    assert records("split") == records("whole")
    for key, value in weights("whole").items():
        assert torch.equal(value, weights("split")[key]), key
    # the training time adds up across the two pieces
    summary = json.loads(Path("split/summary.json").read_text())
    second_epoch = json.loads(Path("split/metrics.jsonl").read_text().splitlines()[1])
    assert summary["steps"] == 16 and summary["seconds"] > first_piece > 0
    assert summary["seconds"] == torch.load("split/last.pt", weights_only=True)["seconds"]
    assert second_epoch["seconds"] < summary["seconds"]


def test_a_flag_that_contradicts_the_run_is_refused_by_name(capsys):
    assert (
        cli.main(
            [
                "classify",
                "train",
                "--model",
                "fc2",
                "--out",
                "run",
                *QUICK,
                "--stop-after-steps",
                "1",
            ]
        )
        == 0
    )
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["classify", "train", "--resume", "run", "--lr", "0.5"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--lr 0.5 contradicts the run being resumed, which was made with --lr 0.001" in err
    assert "usage: dualnet classify train" in err
    # settings that do not change what is computed may be given
    assert (
        cli.main(["classify", "train", "--resume", "run", "--device", "cpu", "--no-figures"]) == 0
    )


def test_ctrl_c_saves_the_run_and_prints_how_to_continue(capsys, monkeypatch):
    real_count = train_module.add_to_epoch  # the end of every step

    def step_then_ctrl_c(state, loss, scores, labels):
        real_count(state, loss, scores, labels)
        if state.step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(train_module, "add_to_epoch", step_then_ctrl_c)
    args = ["classify", "train", "--model", "fc2", "--out", "run", *QUICK]
    assert cli.main(args) == 130
    err = capsys.readouterr().err
    assert "interrupted after step 3; the run is saved in run/last.pt" in err
    assert "continue it with: dualnet classify train --resume run" in err
    assert "Traceback" not in err
    assert torch.load("run/last.pt", weights_only=True)["step"] == 3
    monkeypatch.setattr(train_module, "add_to_epoch", real_count)
    assert cli.main(["classify", "train", "--resume", "run"]) == 0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--label-smoothing", "2"], "argument --label-smoothing: must be in [0, 1), got 2.0"),
        (["--train-subset", "-5"], "argument --train-subset: must be at least 1, got -5"),
        (["--checkpoint-every", "-5"], "argument --checkpoint-every: must be at least 0, got -5"),
        (["--warmup-epochs", "-1"], "argument --warmup-epochs: must be at least 0, got -1.0"),
        (["--stop-after-steps", "0"], "argument --stop-after-steps: must be at least 1, got 0"),
        (["--lr", "0"], "argument --lr: must be greater than 0, got 0.0"),
        (["--epochs", "two"], "argument --epochs: must be an integer from 1 to 10000, got 'two'"),
    ],
)
def test_numbers_out_of_range_are_usage_errors_naming_the_flag(capsys, tmp_path, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["classify", "train", "--out", "run", *QUICK, *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "usage: dualnet classify train" in err
    assert not (tmp_path / "run").exists()


def test_errors_are_one_line_without_traceback(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["classify", "train", "--model", "resnet20", "--level", "barebones", *QUICK])
    assert exit_info.value.code == 2
    assert "level 'barebones' exists for fc2 and convnet3 only" in capsys.readouterr().err

    assert (
        cli.main(["classify", "train", "--data", "cifar10", "--data-root", "nowhere", *QUICK]) == 1
    )
    err = capsys.readouterr().err
    assert "cifar-10-python.tar.gz" in err and "--data-root" in err

    assert cli.main(["classify", "eval", "missing.pt"]) == 1
    assert capsys.readouterr().err == "dualnet classify eval: error: no checkpoint at missing.pt\n"

    (tmp_path / "text.pt").write_text("not a checkpoint")
    assert cli.main(["classify", "train", "--resume", "text.pt"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "text.pt is not a readable PyTorch checkpoint" in err


def test_models_lists_every_model_with_its_backends(capsys):
    assert cli.main(["classify", "models"]) == 0
    out = capsys.readouterr().out
    assert "resnet-preact32" in out and "convpool3" in out and "torch, numpy" in out
    assert "--batch-size 64" in out  # the NumPy backend's real default
