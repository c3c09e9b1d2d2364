"""The run machinery under captioning: Ctrl-C stops at a step boundary with a checkpoint and
exit status 130, a stopped or interrupted run resumes bit for bit, and two gloo processes
train the same run as one."""

import importlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch

from dualnet import cli
from dualnet.apps.caption import make_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caption_helpers import tiny_prepared, write_cs231n  # noqa: E402

caption_train = importlib.import_module("dualnet.apps.caption.train")

pytestmark = [pytest.mark.captioning, pytest.mark.cli]
SMALL = ["--epochs", "2", "--batch-size", "6", "--hidden-dim", "16", "--wordvec-dim", "8"]
QUIET = ["--no-progress", "--no-figures", "--device", "cpu"]
TIMINGS = ("seconds",)


@pytest.fixture(scope="module")
def cs231n_dir(tmp_path_factory):
    return write_cs231n(tmp_path_factory.mktemp("cs231n") / "coco_captioning")


def weights(run) -> dict:
    return torch.load(Path(run) / "last.pt", weights_only=True)["model"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def records(run) -> list[dict]:
    lines = (Path(run) / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines]


def test_ctrl_c_saves_the_run_and_resuming_gives_the_uninterrupted_run(
    cs231n_dir, tmp_path, capsys, monkeypatch
):
    args = ["caption", "train", "--cell", "lstm", "--data", "cs231n", str(cs231n_dir)]
    assert cli.main([*args, *SMALL, *QUIET, "--out", str(tmp_path / "whole")]) == 0
    real_count = caption_train.add_to_epoch  # the end of every step
    calls = []

    def step_then_ctrl_c(*step_args):
        real_count(*step_args)
        calls.append(1)
        if len(calls) == 3:  # in the middle of the first of two 5-step epochs
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(caption_train, "add_to_epoch", step_then_ctrl_c)
    out = tmp_path / "split"
    capsys.readouterr()
    assert cli.main([*args, *SMALL, *QUIET, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"interrupted after step 3; the run is saved in {out / 'last.pt'}" in err
    assert f"continue it with: dualnet caption train --resume {out}" in err
    assert "Traceback" not in err
    checkpoint = torch.load(out / "last.pt", weights_only=True)
    assert checkpoint["step"] == 3 and checkpoint["epoch"]["steps"] == 3
    assert not json.loads((out / "summary.json").read_text())["finished"]

    monkeypatch.setattr(caption_train, "add_to_epoch", real_count)
    assert cli.main(["caption", "train", "--resume", str(out), "--no-progress"]) == 0
    assert_same_weights(weights(tmp_path / "whole"), weights(out))
    assert records(out) == records(tmp_path / "whole")  # the first epoch's mean loss included
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and summary["steps"] == 10


def test_a_second_ctrl_c_interrupts_at_once_with_status_130(cs231n_dir, tmp_path, monkeypatch):
    def two_ctrl_c(*step_args):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # the handler raises KeyboardInterrupt now

    monkeypatch.setattr(caption_train, "add_to_epoch", two_ctrl_c)
    args = ["caption", "train", "--cell", "rnn", "--data", "cs231n", str(cs231n_dir)]
    # Python's own handler, or "ignore" where pytest was started in the background by a shell
    before = signal.getsignal(signal.SIGINT)
    assert cli.main([*args, *SMALL, *QUIET, "--out", str(tmp_path / "run")]) == 130
    assert signal.getsignal(signal.SIGINT) == before  # handler restored


@pytest.mark.parametrize(
    ("cell", "changes"),
    [("attention", {"checkpoint_every": 4}), ("rnn", {"lr_decay": 0.5})],
    ids=["attention-checkpoint-every", "rnn-decay"],
)
def test_a_stopped_run_resumes_bit_for_bit(tmp_path, cell, changes):
    prepared = tiny_prepared(cell)
    base = make_config(
        cell, epochs=2, batch_size=30, hidden_dim=16, wordvec_dim=8, progress=False,
        figures=False, device="cpu", out_dir=str(tmp_path / "whole"), **changes,
    )  # fmt: skip
    whole = caption_train.train(base, prepared)
    assert whole.finished and whole.steps == 20
    piece = replace(base, out_dir=str(tmp_path / "piece"), stop_after_steps=7)
    first = caption_train.train(piece, prepared)
    assert not first.finished and first.steps == 7
    saved = torch.load(tmp_path / "piece" / "last.pt", weights_only=True)
    assert saved["step"] == 7 and saved["optimizer"]["state"]  # Adam's moments travel too
    resume = str(tmp_path / "piece" / "last.pt")
    second = caption_train.train(
        replace(base, out_dir=str(tmp_path / "piece"), resume=resume), prepared
    )
    assert second.finished and second.steps == 20
    assert_same_weights(weights(tmp_path / "whole"), weights(tmp_path / "piece"))
    assert records(tmp_path / "piece") == records(tmp_path / "whole")
    best_whole = torch.load(tmp_path / "whole" / "best.pt", weights_only=True)
    best_piece = torch.load(tmp_path / "piece" / "best.pt", weights_only=True)
    assert best_whole["step"] == best_piece["step"]
    assert_same_weights(best_whole["model"], best_piece["model"])


def test_resuming_with_a_setting_that_changes_the_run_is_refused(tmp_path):
    prepared = tiny_prepared("rnn")
    config = make_config(
        "rnn", epochs=1, batch_size=30, hidden_dim=8, wordvec_dim=4, progress=False,
        figures=False, device="cpu", out_dir=str(tmp_path / "run"), stop_after_steps=2,
    )  # fmt: skip
    caption_train.train(config, prepared)
    resume = str(tmp_path / "run" / "last.pt")
    with pytest.raises(caption_train.ConfigError, match="cannot resume with hidden_dim=12"):
        caption_train.train(replace(config, hidden_dim=12, resume=resume), prepared)


@pytest.mark.slow
def test_two_gloo_processes_train_the_same_run_as_one(tmp_path, free_port):
    # no batch norm and no randomness in the model: the averaged gradients of two half
    # batches are the gradient of the whole batch (the loss averages over the captions)
    config = make_config(
        "lstm", epochs=2, batch_size=30, hidden_dim=16, wordvec_dim=8, progress=False,
        figures=False, device="cpu", out_dir=str(tmp_path / "single"),
    )  # fmt: skip
    caption_train.train(config, tiny_prepared("lstm"))
    double = replace(config, out_dir=str(tmp_path / "double"))
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={free_port}",
        "--master_addr=127.0.0.1",
        str(Path(__file__).resolve().parent / "caption_ddp_worker.py"),
        json.dumps(asdict(double)),
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=environment
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    single, twice = weights(tmp_path / "single"), weights(tmp_path / "double")
    for name in single:
        torch.testing.assert_close(twice[name], single[name], rtol=1e-5, atol=1e-6)
    assert [r["epoch"] for r in records(tmp_path / "double")] == [1, 2]  # rank 0 writes
