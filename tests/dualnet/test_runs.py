"""The run machinery: atomic writes, the run-directory guard, checkpoints that are data only,
the metrics log and figures that leave matplotlib's global state alone."""

import errno
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dualnet import files
from dualnet.apps import runs
from dualnet.apps.settings import ConfigError, Range


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
    with pytest.raises(OSError, match="disk full"):
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


HOLD_THE_RUN = """
import sys
from dualnet.apps import runs
runs.lock_run(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
"""


def another_writer(folder: Path) -> subprocess.Popen:
    """A process that holds the lock of the run ``folder`` until its stdin is closed."""
    folder.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_RUN, str(folder)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout.readline() == "holding\n"
    return child


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


def test_gan_train_resume_twice_at_once_is_refused_in_one_line(tmp_path, capsys):
    from dualnet import cli

    run = tmp_path / "run"
    tiny = ["--model", "fc", "--steps", "4", "--batch-size", "8", "--no-figures"]
    started = ["--stop-after-steps", "2", "--out", str(run), "--device", "cpu"]
    assert cli.main(["gan", "train", *tiny, *started]) == 0
    capsys.readouterr()
    child = another_writer(run)  # the same "continue it with" line pasted twice
    try:
        with pytest.raises(SystemExit) as stopped:
            cli.main(["gan", "train", "--resume", str(run), "--device", "cpu"])
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    assert stopped.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("dualnet gan train: error: ")
    assert f"being written by process {child.pid}" in last_line


def bad_files(folder: Path) -> dict[str, Path]:
    good = folder / "good.pt"
    torch.save({"format": "dualnet-classify-1", "w": torch.ones(1000)}, good)
    files = {
        "empty": b"",
        "truncated": good.read_bytes()[:3000],
        "random": np.random.default_rng(0).bytes(4096),
        "text": b"this is a text file\n",
    }
    paths = {}
    for name, content in files.items():
        paths[name] = folder / f"{name}.pt"
        paths[name].write_bytes(content)
    paths["npz"] = folder / "params.npz"
    np.savez(paths["npz"], w=np.ones(3))
    paths["other application"] = folder / "other.pt"
    torch.save({"format": "dualnet-gan-1"}, paths["other application"])
    paths["not dualnet"] = folder / "plain.pt"
    torch.save({"weight": torch.ones(2)}, paths["not dualnet"])
    return paths


def test_damaged_and_foreign_files_are_refused_with_one_line(tmp_path):
    expected = {
        "empty": "is empty",
        "truncated": "not a readable PyTorch checkpoint",
        "random": "not a readable PyTorch checkpoint",
        "text": "not a readable PyTorch checkpoint",
        "npz": "not a readable PyTorch checkpoint (an .npz archive)",
        "other application": "is a 'dualnet-gan-1' checkpoint, expected 'dualnet-classify-1'",
        "not dualnet": "not a dualnet checkpoint",
    }
    for name, path in bad_files(tmp_path).items():
        with pytest.raises(runs.CheckpointError) as error:
            runs.load_checkpoint(path, "dualnet-classify-1")
        message = str(error.value)
        assert expected[name] in message and str(path) in message, name
        assert "\n" not in message, name


@pytest.mark.parametrize("container", ["torch.save", "legacy torch.save", "plain pickle"])
def test_a_checkpoint_carrying_code_is_refused_and_the_code_never_runs(tmp_path, container):
    target = tmp_path / "created-by-the-payload"
    path = tmp_path / "evil.pt"
    payload = {"format": "dualnet-classify-1", "model": WritesAFile(target)}
    if container == "torch.save":
        torch.save(payload, path)
    elif container == "legacy torch.save":  # not a zip archive: pickles one after another
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(runs.CheckpointError) as error:
        runs.load_checkpoint(path, "dualnet-classify-1")
    message = str(error.value)
    assert "asks to run code" in message and "refusing to load it" in message
    assert "pathlib.Path" in message  # what the payload asked for, named
    assert "weights_only" not in message
    assert not target.exists()


def test_metrics_log_appends_and_rewrites(tmp_path):
    log = runs.MetricsLog(tmp_path / "metrics.jsonl")
    log.append({"epoch": 1})
    log.append({"epoch": 2})
    assert log.read() == [{"epoch": 1}, {"epoch": 2}]
    log.rewrite([{"epoch": 1}])
    assert log.read() == [{"epoch": 1}]


def test_ranges_describe_and_refuse():
    fraction = Range(float, 0, 1, high_open=True)
    assert fraction.problem(0.0) is None and fraction.problem(0.5) is None
    assert fraction.problem(1.0) == "must be in [0, 1), got 1.0"
    assert Range(int, 1).problem(0) == "must be at least 1, got 0"
    assert "finite" in Range(float, 0).problem(float("nan"))
    assert "finite int" in Range(int, 0).problem(2.5)


def test_importing_and_drawing_never_touches_the_global_backend(tmp_path):
    script = (
        "import matplotlib; matplotlib.use('svg'); "
        "from dualnet.apps import figures; import dualnet.cli; "
        "figures.save(figures.learning_curves([{'epoch': 1, 'train_loss': 1.0}]), "
        f"{str(tmp_path / 'c.png')!r}); "
        "import matplotlib.pyplot as plt; "
        "print(matplotlib.get_backend(), len(plt.get_fignums()))"
    )
    env = {**os.environ, "MPLBACKEND": ""}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert out == ["svg", "0"]
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
