"""The run machinery: atomic writes, the run-directory guard, checkpoints that are data only,
the metrics log and figures that leave matplotlib's global state alone."""

import errno
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dualnet import files
from dualnet.apps import runs
from dualnet.apps.settings import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_helpers import another_writer  # noqa: E402


class WritesAFile:
    """Unpickling this runs ``Path(target).touch()``: what a crafted checkpoint could do."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    runs.save_checkpoint({"format": "f", "step": 1}, path)

    def broken_save(payload, file):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(files.WriteError, match=r"last.pt \(disk full\); the previous one is"):
        runs.save_checkpoint({"format": "f", "step": 2}, path)
    assert runs.load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_every_kind_of_file_is_written_through_the_same_atomic_write(tmp_path, monkeypatch):
    written = []
    real = runs.atomic_write

    def spy(path, write):
        written.append(Path(path).name)
        return real(path, write)

    monkeypatch.setattr(runs, "atomic_write", spy)
    runs.save_checkpoint({"format": "f"}, tmp_path / "a.pt")
    runs.save_npz(tmp_path / "p.npz", {"w": np.ones(2)})
    runs.write_json(tmp_path / "s.json", {"x": 1})
    runs.MetricsLog(tmp_path / "m.jsonl").rewrite([{"epoch": 1}])
    assert written == ["a.pt", "p.npz", "s.json", "m.jsonl"]
    assert np.load(tmp_path / "p.npz")["w"].tolist() == [1.0, 1.0]


def test_a_killed_write_leaves_one_temporary_that_the_next_open_removes(tmp_path):
    run = runs.open_run_dir(tmp_path / "run")
    runs.save_checkpoint({"format": "f"}, run / "last.pt")
    # what kill -9 in the middle of two writes of last.pt would leave behind
    stale = files.temporary_path(run / "last.pt")
    assert stale.name == f".last.pt.{os.getpid()}.tmp"
    stale.write_bytes(b"partial")
    runs.open_run_dir(run, resuming=True)
    assert sorted(p.name for p in run.iterdir()) == [runs.LOCK_FILE, "last.pt"]


def test_a_new_run_is_not_started_over_another_one(tmp_path):
    run = runs.open_run_dir(tmp_path / "run")
    runs.save_checkpoint({"format": "f"}, run / "last.pt")
    with pytest.raises(ConfigError, match=r"already holds a run \(last.pt\); use --resume"):
        runs.open_run_dir(run, hint="use --resume")
    assert runs.open_run_dir(run, resuming=True) == run


def test_a_run_stopped_before_its_first_checkpoint_leaves_a_reusable_folder(tmp_path):
    run = runs.open_run_dir(tmp_path / "run")
    runs.write_json(run / "config.json", {"lr": 1e308})
    runs.MetricsLog(run / "metrics.jsonl").append({"step": 1})
    with pytest.raises(runs.CheckpointError) as error:  # --resume has nothing to continue
        runs.load_checkpoint(run / "last.pt")
    assert "stopped before its first checkpoint" in str(error.value)
    assert "without --resume (the folder is reused)" in str(error.value)
    assert runs.open_run_dir(run) == run  # ... and the same command without it starts again
    assert not (run / "config.json").exists() and not (run / "metrics.jsonl").exists()


def test_out_at_a_file_or_inside_one_is_one_line(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(ConfigError, match=r"^--out .*notes.txt: a file is there, not a folder"):
        runs.open_run_dir(a_file)
    with pytest.raises(ConfigError, match=r"^--out .*sub: cannot create the folder \(Not a dir"):
        runs.open_run_dir(a_file / "sub")
    assert a_file.read_text() == "mine"


def test_out_on_a_read_only_file_system_is_one_line(tmp_path, monkeypatch):
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(ConfigError, match=r"^--out .*run: cannot create the folder \(Read-only"):
        runs.open_run_dir(tmp_path / "run")


def test_a_second_writer_is_refused_in_one_line_naming_the_first(tmp_path):
    run = tmp_path / "run"
    child = another_writer(run)
    try:
        with pytest.raises(ConfigError) as error:
            runs.open_run_dir(run, resuming=True)
        message = str(error.value)
        assert f"is being written by process {child.pid} on " in message
        assert "\n" not in message
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    assert runs.open_run_dir(run, resuming=True) == run  # the first writer ended
    assert (run / runs.LOCK_FILE).read_text().startswith(f"process {os.getpid()} on ")
    runs.release_run(run)


def test_the_lock_of_a_killed_writer_is_taken_over(tmp_path):
    run = tmp_path / "run"
    child = another_writer(run)
    child.kill()  # kill -9: the lock file stays, naming a process that no longer runs
    child.wait(timeout=60)
    assert str(child.pid) in (run / runs.LOCK_FILE).read_text()
    assert runs.open_run_dir(run, resuming=True) == run
    runs.release_run(run)
