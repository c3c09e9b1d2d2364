"""``dualnet caption train|sample|eval`` on small cs231n and coco.pt files written in their
exact layouts: outputs, resume, and usage errors that name the flag or the file."""

import json
import sys
from pathlib import Path

import pytest

from dualnet import cli
from dualnet.apps.caption import data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caption_helpers import write_coco_pt, write_cs231n  # noqa: E402

pytestmark = [pytest.mark.captioning, pytest.mark.cli]
SMALL = ["--epochs", "2", "--batch-size", "6", "--hidden-dim", "16", "--wordvec-dim", "8"]
QUIET = ["--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def cs231n_dir(tmp_path_factory):
    return write_cs231n(tmp_path_factory.mktemp("cs231n") / "coco_captioning")


def test_train_eval_and_sample_an_lstm_on_the_cs231n_files(cs231n_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["caption", "train", "--cell", "lstm", "--data", "cs231n", str(cs231n_dir)]
    assert cli.main([*args, *SMALL, *QUIET, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and summary["steps"] == 10  # 30 captions / 6, two epochs
    assert {"last.pt", "best.pt", "metrics.jsonl", "config.json", "curves.png"} <= {
        p.name for p in out.iterdir()
    }
    capsys.readouterr()
    assert cli.main(["caption", "eval", str(out), "--beam", "2"]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "eval-beam2" / "summary.json").read_text())
    assert result["decoding"] == "beam 2" and result["n_images"] == 4 and result["split"] == "val"
    for key in ("bleu1", "bleu2", "bleu3", "bleu4", "cs231n_bleu1", "blind_bleu4"):
        assert 0 <= result[key] <= 1 and key in printed
    assert "attention_pointing" not in result
    assert cli.main(["caption", "sample", str(out), "--rows", "0", "3"]) == 0
    assert capsys.readouterr().out.count("(reference: ") == 2


def test_a_stopped_run_continues_from_its_directory_alone(cs231n_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["caption", "train", "--cell", "rnn", "--data", str(cs231n_dir), *SMALL, *QUIET]
    assert cli.main([*args, "--out", str(out), "--stop-after-steps", "3"]) == 0
    assert "stopped after step 3; continue it with: dualnet caption train --resume" in (
        capsys.readouterr().out
    )
    assert json.loads((out / "summary.json").read_text())["steps"] == 3
    assert cli.main(["caption", "train", "--resume", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and summary["steps"] == 10
    with pytest.raises(SystemExit):
        cli.main(["caption", "train", "--resume", str(out), "--lr", "0.5"])
    assert "--lr 0.5 contradicts the run being resumed" in capsys.readouterr().err


def test_the_numpy_backend_trains_with_the_captioning_solver(cs231n_dir, tmp_path):
    out = tmp_path / "numpy"
    args = ["caption", "train", "--cell", "rnn", "--backend", "numpy", "--data", "cs231n"]
    assert cli.main([*args, str(cs231n_dir), *SMALL, *QUIET, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "numpy" and summary["steps"] == 10
    assert (out / "params.npz").is_file()
    assert cli.main(["caption", "eval", str(out), "--n-images", "3"]) == 0


def test_attention_on_coco_pt_with_the_untrained_encoder(tmp_path, capsys):
    path = write_coco_pt(tmp_path / "coco.pt")
    out = tmp_path / "att"
    args = ["caption", "train", "--cell", "attention", "--data", "coco.pt", str(path)]
    extra = ["--encoder", "random", "--data-root", str(tmp_path / "cache")]
    assert cli.main([*args, *SMALL, *QUIET, *extra, "--out", str(out)]) == 0
    sample = ["caption", "sample", str(out), "--rows", "1", "--out", str(tmp_path / "s")]
    assert cli.main(sample) == 0
    assert (tmp_path / "s" / "attention-1.png").is_file()
    assert (tmp_path / "s" / "captions.png").is_file()


def test_usage_errors_name_the_flag(cs231n_dir, capsys):
    with pytest.raises(SystemExit):
        cli.main(["caption", "train", "--cell", "attention", "--data", "cs231n", str(cs231n_dir)])
    assert "--cell attention needs --data embedded or coco.pt FILE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["caption", "train", "--lr-decay", "1.5"])
    assert "--lr-decay: must be in (0, 1], got 1.5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["caption", "train", "--data", "coco.pt"])
    assert "--data coco.pt needs a path" in capsys.readouterr().err


def test_missing_files_say_what_to_download(tmp_path, capsys):
    status = cli.main(["caption", "train", "--data", "coco.pt", str(tmp_path / "coco.pt")])
    assert status == 1
    error = capsys.readouterr().err
    assert data.COCO_PT_URL in error and "--data coco.pt FILE" in error
    assert cli.main(["caption", "eval", str(tmp_path / "nothing")]) == 1
    assert "no checkpoint at" in capsys.readouterr().err
