"""The GAN training loop: every architecture with every loss, exact resume, what a run
writes, refused input, and a short run that already beats the untrained generator."""

import importlib
import json
import os
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from dualnet.apps import runs
from dualnet.apps.gan import data, evaluate, make_config
from dualnet.apps.gan.train import TIMINGS
from dualnet.apps.settings import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gan_helpers import shared_cache  # noqa: E402

pytestmark = pytest.mark.gan

# the module, not the function ``train`` that the package exports under the same name
train_module = importlib.import_module("dualnet.apps.gan.train")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return shared_cache(tmp_path_factory)


@pytest.fixture(scope="module")
def digits(cache) -> data.Digits:
    return data.load_digits("embedded", cache)


@pytest.fixture(scope="module")
def few_digits(digits) -> data.Digits:
    """256 training digits: enough for runs of a few steps."""
    images, labels = digits.train
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))[:256]
    return data.Digits("embedded", train=(images[order], labels[order]), test=digits.test)


def tiny(tmp_path, name="run", **changes):
    settings = {
        "model": "fc",
        "loss": "ls",
        "steps": 6,
        "batch_size": 16,
        "log_every": 2,
        "sample_every": 4,
        "device": "cpu",
        "seed": 5,
        "out_dir": str(tmp_path / name),
        "progress": False,
        **changes,
    }
    return make_config(**settings)


def records(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines]


@pytest.mark.parametrize("model", ["fc", "dc"])
@pytest.mark.parametrize("loss", ["vanilla", "ls", "wgan-gp"])
def test_every_architecture_trains_with_every_loss(tmp_path, few_digits, model, loss):
    config = tiny(tmp_path, model=model, loss=loss, steps=2, log_every=1, sample_every=2)
    result = train_module.train(config, digits=few_digits)
    assert result.finished and result.steps == 2
    logged = records(tmp_path / "run")
    assert [r["step"] for r in logged] == [1, 2]
    expected = {"step", "d_loss", "g_loss"}
    if loss == "wgan-gp":
        expected |= {"wasserstein", "gradient_penalty", "grad_norm"}
        assert config.critic_steps == 5 and config.lambda_gp == 10
        assert (config.lr, config.beta1, config.beta2) == (1e-3, 0.5, 0.9)
    assert set(logged[0]) == expected
    assert all(torch.isfinite(torch.tensor(list(r.values()))).all() for r in logged)


def test_a_run_writes_its_files_and_its_fixed_noise_grids(tmp_path, few_digits):
    config = tiny(tmp_path, loss="wgan-gp", critic_steps=2)
    result = train_module.train(config, digits=few_digits)
    run = tmp_path / "run"
    for name in ("config.json", "metrics.jsonl", "summary.json", "last.pt", "snapshots.npz",
                 "samples.png", "progress.png", "losses.png"):  # fmt: skip
        assert (run / name).is_file(), name
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step-000000.npz", "step-000000.png", "step-000004.npz", "step-000004.png",
        "step-000006.npz", "step-000006.png",
    ]  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    assert summary == result.summary and summary["steps"] == 6 and summary["finished"]
    assert {"grad_norm", "wasserstein", "gradient_penalty", "d_loss", "g_loss"} <= set(summary)
    with np.load(run / "snapshots.npz") as snapshots:
        assert snapshots["steps"].tolist() == [0, 4, 6]
        assert snapshots["images"].shape == (3, 64, 28, 28)
        with np.load(run / "samples" / "step-000004.npz") as kept:
            assert np.array_equal(kept["images"], snapshots["images"][1])
    checkpoint = runs.load_checkpoint(run / "last.pt", "dualnet-gan-1")
    assert checkpoint["config"]["loss"] == "wgan-gp" and checkpoint["step"] == 6
    assert "snapshots" not in checkpoint  # figures, not state: last.pt does not grow


@pytest.mark.parametrize("loss", ["vanilla", "wgan-gp"])
def test_a_stopped_and_resumed_run_ends_with_the_same_weights(tmp_path, few_digits, loss):
    whole = tiny(tmp_path, "whole", loss=loss, critic_steps=2)
    train_module.train(whole, digits=few_digits)
    first = replace(whole, out_dir=str(tmp_path / "pieces"), stop_after_steps=3)
    assert not train_module.train(first, digits=few_digits).finished
    second = replace(first, stop_after_steps=None, resume=str(tmp_path / "pieces" / "last.pt"))
    assert train_module.train(second, digits=few_digits).finished

    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "pieces" / "last.pt", weights_only=True)
    for part in ("generator", "critic"):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), (part, name)
    # step 3 ended in the middle of a log interval: its sums were stored and carried on
    assert records(tmp_path / "whole") == records(tmp_path / "pieces")
    grids = {}
    for run in ("whole", "pieces"):
        with np.load(tmp_path / run / "snapshots.npz") as snapshots:
            assert snapshots["steps"].tolist() == [0, 4, 6]
            grids[run] = snapshots["images"]
    assert np.array_equal(grids["whole"], grids["pieces"])


def test_a_resume_that_would_change_the_run_is_refused(tmp_path, few_digits):
    first = tiny(tmp_path, stop_after_steps=2)
    train_module.train(first, digits=few_digits)
    changed = replace(first, lr=0.5, stop_after_steps=None, resume=str(tmp_path / "run/last.pt"))
    with pytest.raises(ConfigError, match="cannot resume with lr=0.5: .* made with lr=0.001"):
        train_module.train(changed, digits=few_digits)


def test_a_non_finite_loss_stops_the_run_naming_the_step(tmp_path, few_digits, monkeypatch):
    def nan_loss(loss, scores_real, scores_fake):
        return scores_real.sum() * float("nan")

    monkeypatch.setattr(train_module, "critic_loss", nan_loss)
    with pytest.raises(FloatingPointError, match="non-finite at step 1; nothing was saved"):
        train_module.train(tiny(tmp_path), digits=few_digits)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_images_the_architectures_cannot_take_are_refused(tmp_path, few_digits):
    big = torch.zeros(64, 32, 32, dtype=torch.uint8)
    other = data.Digits(
        "mnist", train=(big, torch.zeros(64, dtype=torch.long)), test=few_digits.test
    )
    refusal = "the mnist training split holds 32x32 images; .* 28x28"
    with pytest.raises(data.DigitsError, match=refusal):
        train_module.train(tiny(tmp_path), digits=other)
    with pytest.raises(ConfigError, match="batch_size 512 is larger than the 256 training digits"):
        train_module.train(tiny(tmp_path, batch_size=512), digits=few_digits)


def test_bad_settings_are_refused_by_name():
    with pytest.raises(ConfigError, match="loss must be one of vanilla, ls, wgan-gp, got 'hinge'"):
        make_config(loss="hinge")
    with pytest.raises(ConfigError, match=r"beta1 must be in \[0, 1\), got 1.0"):
        make_config(beta1=1.0)
    with pytest.raises(ConfigError, match="steps must be at least 1, got 0"):
        make_config(steps=0)


@pytest.mark.slow
def test_a_short_run_already_beats_the_untrained_generator_clearly(tmp_path, digits, cache):
    # 40 steps of DCGAN with least squares on batches of 64 (measured: fcd 727 against 3561
    # for the untrained generator, fcd_real 32, 5 classes; with Adam's plain update instead of
    # the fused one, which rounds differently: fcd 629, 6 classes. This early the classes
    # covered swing with rounding, the distance does not)
    config = tiny(tmp_path, model="dc", steps=40, batch_size=64, log_every=20, sample_every=40,
                  figures=False)  # fmt: skip
    train_module.train(config, digits=digits)
    summary = evaluate.evaluate_run(tmp_path / "run", n_images=500, data_root_dir=str(cache))
    assert summary["fcd_real"] < 0.05 * summary["fcd_untrained"]
    assert summary["fcd"] < 0.5 * summary["fcd_untrained"]
    assert summary["mode_coverage"] >= 4 and summary["n_images"] == 500
    assert sum(summary["class_histogram"]) == round(500 * summary["confident_fraction"])


@pytest.mark.slow
def test_two_gloo_processes_compute_the_same_step_as_one(tmp_path, digits, cache, free_port):
    # The fully connected pair has no batch norm, and real digits, noise and the penalty's
    # interpolation weights are drawn for the global batch and split, so the averaged
    # gradients of two half batches are those of the whole batch, penalty included, up to
    # rounding. Adam divides each gradient by its own running size, so an element whose
    # gradient is ~1e-8 can move by a whole learning rate either way on rounding alone (and
    # GAN training carries such differences on): compare one step (two critic steps and one
    # generator step), where almost every weight must agree to 1e-6 and none can differ by more
    # than two learning rates. A wrong split of the batch moves most weights by ~lr. At the
    # paper's Adam (1e-4, betas (0, 0.9)): at the default 1e-3 the first critic step's rounding
    # moves the second one's gradients further, and 2 % of the weights differ by over 1e-6.
    images, labels = digits.train
    few = data.Digits("embedded", train=(images[:256], labels[:256]), test=digits.test)
    single = tiny(tmp_path, "single", loss="wgan-gp", critic_steps=2, steps=1, log_every=1,
                  lr=1e-4, beta1=0.0)  # fmt: skip
    train_module.train(single, digits=few)

    double = replace(single, out_dir=str(tmp_path / "double"))
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={free_port}", "--master_addr=127.0.0.1",
        str(Path(__file__).resolve().parent / "gan_ddp_worker.py"), json.dumps(asdict(double)),
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "DUALNET_CACHE": str(cache)}
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=environment
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    a = torch.load(tmp_path / "single" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "double" / "last.pt", weights_only=True)
    differences = torch.cat(
        [(a[part][name] - b[part][name]).abs().ravel() for part in ("generator", "critic")
         for name in a[part]]
    )  # fmt: skip
    assert float((differences > 1e-6).double().mean()) < 0.01
    assert float(differences.max()) <= 2 * single.lr + 1e-6
    assert [r["step"] for r in records(tmp_path / "double")] == [1]  # rank 0 alone writes
