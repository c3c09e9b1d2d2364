"""``dualnet classify``: the README's commands, shortened, on the embedded data."""

import json

import pytest

from dualnet import cli

pytestmark = pytest.mark.classify

QUICK = ["--train-subset", "256", "--batch-size", "64", "--epochs", "1", "--device", "cpu"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One embedded dataset for the whole module, generated on first use in a temporary folder."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(autouse=True)
def isolated(cache, monkeypatch, tmp_path):
    monkeypatch.setenv("DUALNET_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)


def test_train_a_resnet_then_evaluate_it(capsys, tmp_path):
    assert (
        cli.main(["classify", "train", "--model", "resnet-preact32", "--data", "embedded", *QUICK])
        == 0
    )
    out = capsys.readouterr().out
    run = tmp_path / "runs/classify/resnet-preact32-embedded-torch-seed0"
    assert "run directory: runs/classify/resnet-preact32-embedded-torch-seed0" in out
    assert "test accuracy:" in out
    assert (run / "last.pt").exists() and (run / "curves.png").exists()

    assert cli.main(["classify", "eval", str(run / "last.pt"), "--json", "--figures", "figs"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "resnet-preact32" and summary["images"] == 2000
    assert 0.0 <= summary["acc"] <= 1.0
    assert (tmp_path / "figs" / "misclassified.png").exists()


@pytest.mark.parametrize("level", ["barebones", "module", "sequential"])
def test_each_level_of_the_small_nets(capsys, level):
    assert cli.main(["classify", "train", "--model", "convnet3", "--level", level, *QUICK]) == 0
    assert "test accuracy:" in capsys.readouterr().out


def test_the_numpy_backend(capsys, tmp_path):
    args = ["classify", "train", "--backend", "numpy", "--model", "convnet3", "--out", "np", *QUICK]
    assert cli.main(args) == 0
    assert "test accuracy:" in capsys.readouterr().out
    assert (tmp_path / "np" / "params.npz").exists()


def test_stop_and_resume_from_the_command_line(capsys, tmp_path):
    args = ["classify", "train", "--model", "fc2", "--out", "run", *QUICK]
    assert cli.main([*args, "--stop-after-steps", "2"]) == 0
    assert "stopped early; continue with --resume run/last.pt" in capsys.readouterr().out
    assert cli.main([*args, "--resume", "run"]) == 0
    assert "steps: 4" in capsys.readouterr().out


def test_errors_are_reported_as_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["classify", "train", "--model", "resnet20", "--level", "barebones", *QUICK])
    assert exit_info.value.code == 2
    assert "level 'barebones' exists for fc2 and convnet3 only" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        cli.main(["classify", "train", "--data", "cifar10", "--data-root", "nowhere", *QUICK])
    err = capsys.readouterr().err
    assert "cifar-10-python.tar.gz" in err and "--data-root" in err

    with pytest.raises(SystemExit):
        cli.main(["classify", "eval", "missing.pt"])
    assert "no checkpoint at missing.pt" in capsys.readouterr().err


def test_models_lists_every_model(capsys):
    assert cli.main(["classify", "models"]) == 0
    out = capsys.readouterr().out
    assert "resnet-preact32" in out and "convnet3" in out and "NumPy backend" in out
