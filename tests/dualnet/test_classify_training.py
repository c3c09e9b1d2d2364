"""The shared training loop: exact resume, atomic checkpoints, logs and figures, the three
levels, and data-parallel training with two gloo processes."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from dualnet.apps import classify, runs
from dualnet.apps.classify.train import TIMINGS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classify_helpers import synthetic_splits  # noqa: E402

pytestmark = pytest.mark.classify


def config_for(tmp_path, name="run", **changes) -> classify.ClassifyConfig:
    base = classify.ClassifyConfig(
        model="convnet3",
        level="module",
        data="synthetic",
        epochs=2,
        batch_size=16,
        optimizer="sgd",
        lr=0.05,
        momentum=0.9,
        weight_decay=1e-4,
        schedule="cosine",
        warmup_epochs=0.5,
        augment=True,
        device="cpu",
        seed=3,
        out_dir=str(tmp_path / name),
        progress=False,
        figures=False,
    )
    return replace(base, **changes)


def final_weights(out_dir) -> dict:
    return runs.load_checkpoint(Path(out_dir) / "last.pt")["model"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize(
    "changes",
    [
        {},  # convnet3, momentum, augmentation, warm-up and cosine schedule
        {"model": "resnet-preact20", "optimizer": "adam", "lr": 1e-3},  # batch-norm buffers, Adam
        {
            "model": "fc2",
            "level": "barebones",
            "momentum": 0.0,
            "weight_decay": 0.0,
            "schedule": "constant",
            "warmup_epochs": 0.0,
        },
    ],
    ids=["convnet3", "resnet-preact20", "barebones"],
)
def test_a_stopped_and_resumed_run_ends_with_the_same_weights(tmp_path, changes):
    splits = synthetic_splits()
    whole = classify.train(config_for(tmp_path, "whole", **changes), splits=splits)
    assert whole.finished and whole.steps == 8

    # stop in the middle of the first epoch, then resume from the checkpoint written there
    first = classify.train(
        config_for(tmp_path, "split", stop_after_steps=3, **changes), splits=splits
    )
    assert not first.finished and first.steps == 3
    resumed = classify.train(
        config_for(tmp_path, "split", resume=str(tmp_path / "split" / "last.pt"), **changes),
        splits=splits,
    )
    assert resumed.finished and resumed.steps == 8
    assert_same_weights(final_weights(tmp_path / "whole"), final_weights(tmp_path / "split"))
    assert [r["epoch"] for r in resumed.history] == [1, 2]
    assert resumed.history[-1]["train_loss"] == pytest.approx(whole.history[-1]["train_loss"])


def test_checkpoint_every_n_steps_also_resumes_exactly(tmp_path):
    splits = synthetic_splits()
    classify.train(config_for(tmp_path, "whole"), splits=splits)
    classify.train(
        config_for(tmp_path, "split", checkpoint_every=2, stop_after_steps=5), splits=splits
    )
    assert runs.load_checkpoint(tmp_path / "split" / "last.pt")["step"] == 5
    classify.train(
        config_for(tmp_path, "split", resume=str(tmp_path / "split" / "last.pt")), splits=splits
    )
    assert_same_weights(final_weights(tmp_path / "whole"), final_weights(tmp_path / "split"))


def test_a_run_writes_its_log_figures_and_checkpoints(tmp_path):
    result = classify.train(config_for(tmp_path, "run", figures=True), splits=synthetic_splits())
    out = tmp_path / "run"
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("epoch") for r in records[:-1]] == [1, 2]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_second"} <= set(
        records[0]
    )
    assert records[-1]["event"] == "finished" and records[-1]["test_acc"] == result.accuracy
    for name in ("curves.png", "confusion.png", "last.pt", "best.pt"):
        assert (out / name).stat().st_size > 0
    checkpoint = torch.load(out / "last.pt", weights_only=True)  # plain data only
    assert checkpoint["config"]["model"] == "convnet3" and checkpoint["step"] == 8


def test_learning_happens_at_every_level(tmp_path):
    splits = synthetic_splits(train=128)
    for level in classify.LEVELS:
        changes = {
            "model": "fc2",
            "level": level,
            "epochs": 4,
            "augment": False,
            "schedule": "constant",
            "warmup_epochs": 0.0,
            "lr": 0.02,
        }
        if level == "barebones":
            changes.update(momentum=0.0, weight_decay=0.0)
        result = classify.train(config_for(tmp_path, level, **changes), splits=splits)
        assert result.history[-1]["train_loss"] < result.history[0]["train_loss"], level
        assert result.accuracy > 0.5, level


def test_bad_configurations_are_refused(tmp_path):
    splits = synthetic_splits()
    with pytest.raises(ValueError, match="model must be one of fc2, convnet3"):
        classify.train(config_for(tmp_path, model="vgg16"), splits=splits)
    with pytest.raises(ValueError, match="level 'barebones' exists for fc2 and convnet3 only"):
        classify.train(config_for(tmp_path, model="resnet20", level="barebones"), splits=splits)
    with pytest.raises(ValueError, match="hand-written SGD step"):
        classify.train(config_for(tmp_path, model="fc2", level="barebones"), splits=splits)
    with pytest.raises(ValueError, match="batch_size 128 is larger than the 64 training images"):
        classify.train(config_for(tmp_path, batch_size=128), splits=splits)

    classify.train(config_for(tmp_path, "done", stop_after_steps=2), splits=splits)
    with pytest.raises(ValueError, match=r"already holds a run \(.*last.pt.*\); continue it"):
        classify.train(config_for(tmp_path, "done"), splits=splits)
    with pytest.raises(
        ValueError, match="cannot resume with batch_size=8: the checkpoint was made with batch_"
    ):
        classify.train(
            config_for(tmp_path, "done", batch_size=8, resume=str(tmp_path / "done" / "last.pt")),
            splits=splits,
        )


def test_evaluating_a_checkpoint(tmp_path):
    splits = synthetic_splits()
    result = classify.train(config_for(tmp_path, "run"), splits=splits)
    summary = classify.evaluate_run(
        tmp_path / "run" / "last.pt",
        split="test",
        device="cpu",
        out_dir=tmp_path / "figures",
        splits=splits,
    )
    assert summary["accuracy"] == pytest.approx(result.accuracy)
    assert set(summary["per_class_accuracy"]) == set(splits.classes)
    assert (tmp_path / "figures" / "misclassified.png").exists()


@pytest.mark.slow
def test_two_gloo_processes_compute_the_same_run_as_one(tmp_path, free_port):
    # no batch norm (its statistics are per process) and no randomness in the model: then the
    # averaged gradients of two half batches equal the gradient of the whole batch
    changes = {"model": "fc2", "epochs": 2, "augment": True}
    single = config_for(tmp_path, "single", **changes)
    classify.train(single, splits=synthetic_splits())

    double = config_for(tmp_path, "double", **changes)
    fields = {k: v for k, v in double.__dict__.items()}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={free_port}",
        "--master_addr=127.0.0.1",
        str(Path(__file__).resolve().parent / "ddp_worker.py"),
        json.dumps(fields),
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=environment
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    a, b = final_weights(tmp_path / "single"), final_weights(tmp_path / "double")
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-6)
    records = [
        json.loads(line)
        for line in (tmp_path / "double" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r.get("epoch") for r in records[:-1]] == [1, 2]  # rank 0 alone writes the log


def test_the_first_non_finite_loss_stops_the_run_naming_the_step(tmp_path, monkeypatch):
    real = torch.nn.functional.cross_entropy
    calls = []

    def poisoned(*args, **kwargs):
        calls.append(1)
        loss = real(*args, **kwargs)
        return loss * float("nan") if len(calls) == 3 else loss

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", poisoned)
    with pytest.raises(FloatingPointError, match="non-finite at step 3 \\(epoch 1\\)"):
        classify.train(config_for(tmp_path, "run"), splits=synthetic_splits())
    assert not (tmp_path / "run" / "last.pt").exists()  # nothing saved after the bad step


def test_resumed_metrics_equal_the_uninterrupted_ones_apart_from_timings(tmp_path):
    splits = synthetic_splits()
    classify.train(config_for(tmp_path, "whole", figures=True), splits=splits)
    classify.train(config_for(tmp_path, "split", stop_after_steps=6), splits=splits)
    resume = str(tmp_path / "split" / "last.pt")
    classify.train(config_for(tmp_path, "split", resume=resume, figures=True), splits=splits)

    def records(name):
        log = runs.MetricsLog(tmp_path / name / "metrics.jsonl").read()
        return [{k: v for k, v in r.items() if k not in TIMINGS} for r in log]

    assert len(records("whole")) == 3 and records("split") == records("whole")
