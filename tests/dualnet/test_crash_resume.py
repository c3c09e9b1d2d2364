"""Kill -9 or Ctrl-C a real training process at a random step, then paste its "continue it
with" line twice at once: one resume continues the run, the other is refused in one line (or,
started after the first ended, finds the run finished), and the run ends bit for bit as one
that never stopped, for the three training applications."""

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dualnet import cli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caption_helpers import write_cs231n  # noqa: E402

TIMINGS = ("seconds", "images_per_second", "steps_per_second")
QUIET = ["--no-progress", "--no-figures", "--device", "cpu"]


@pytest.fixture(scope="module")
def commands(tmp_path_factory) -> dict[str, list[str]]:
    """A small run of each application: 30 steps of the GAN, 30 of the classifier in one
    epoch, 40 epochs of 5 steps of the captioner; each checkpointed often."""
    cs231n = write_cs231n(tmp_path_factory.mktemp("cs231n") / "coco_captioning")
    return {
        "gan": ["gan", "train", "--model", "fc", "--steps", "30", "--batch-size", "16",
                "--log-every", "1", "--sample-every", "10", "--checkpoint-every", "4"],
        "classify": ["classify", "train", "--model", "fc2", "--data", "embedded",
                     "--train-subset", "480", "--batch-size", "16", "--epochs", "1",
                     "--checkpoint-every", "1"],
        "caption": ["caption", "train", "--cell", "lstm", "--data", "cs231n", str(cs231n),
                    "--epochs", "40", "--batch-size", "6", "--hidden-dim", "16",
                    "--wordvec-dim", "8", "--checkpoint-every", "1"],
    }  # fmt: skip


@pytest.fixture(autouse=True)
def isolated(session_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("DUALNET_CACHE", str(session_cache))
    monkeypatch.chdir(tmp_path)


def dualnet(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dualnet", *argv],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def steps_logged(run: Path) -> int:
    try:
        return len((run / "metrics.jsonl").read_text().splitlines())
    except FileNotFoundError:
        return 0


def checkpoint_time(run: Path) -> int:
    path = run / "last.pt"
    return path.stat().st_mtime_ns if path.exists() else 0


def stop_at_a_random_step(process: subprocess.Popen, run: Path, how: signal.Signals, seed: int):
    """Send ``how`` once the run logged a random number of new records (steps of the GAN,
    epochs of the captioner), or, for the classifier's one epoch, once it wrote a new
    checkpoint; never before the process has begun to train."""
    before, checkpoint = steps_logged(run), checkpoint_time(run)
    wanted = before + random.Random(seed).randint(3, 12)
    if "classify" in str(run):
        ready = lambda: checkpoint_time(run) != checkpoint  # noqa: E731
    else:
        ready = lambda: steps_logged(run) >= wanted  # noqa: E731
    while not ready():
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.005)
    time.sleep(random.Random(seed).uniform(0, 0.05))
    process.send_signal(how)
    process.wait(timeout=120)


def records(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines]


def tensors(value, prefix="") -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint (weights, optimizer states, running sums), by its path."""
    if isinstance(value, torch.Tensor):
        return {prefix: value}
    if not isinstance(value, dict | list | tuple):
        return {}
    items = value.items() if isinstance(value, dict) else enumerate(value)
    found = {}
    for key, item in items:
        found.update(tensors(item, f"{prefix}/{key}"))
    return found


@pytest.mark.parametrize("app", ["gan", "classify", "caption"])
@pytest.mark.slow
def test_a_killed_then_interrupted_run_resumed_twice_at_once_ends_as_the_uninterrupted_one(
    commands, app
):
    argv = commands[app]
    assert cli.main([*argv, *QUIET, "--out", "whole"]) == 0
    run = Path(app)
    first = dualnet([*argv, *QUIET, "--out", str(run)])
    stop_at_a_random_step(first, run, signal.SIGKILL, seed=len(app))
    assert first.returncode == -signal.SIGKILL

    second = dualnet([app, "train", "--resume", str(run), "--no-progress"])
    stop_at_a_random_step(second, run, signal.SIGINT, seed=len(app) + 1)
    assert second.returncode in (0, 130)  # 0: it ended before the signal came
    assert "Traceback" not in second.stderr.read()

    resumes = [dualnet([app, "train", "--resume", str(run), "--no-progress"]) for _ in "ab"]
    outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in resumes]
    assert 0 in [status for status, _ in outcomes], outcomes
    for status, err in outcomes:
        assert "Traceback" not in err
        if status != 0:
            assert status == 2 and "one process writes a run at a time" in err, err

    assert records(run) == records(Path("whole"))  # each step logged once
    whole = tensors(torch.load("whole/last.pt", weights_only=True))
    resumed = tensors(torch.load(run / "last.pt", weights_only=True))
    assert whole.keys() == resumed.keys()
    for name, tensor in whole.items():
        assert torch.equal(tensor, resumed[name]), name
