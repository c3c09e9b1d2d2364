"""``benchmarks/gpu_suite.py`` (``make gpu``): the command lines of the full GPU run parse with
the real ``dualnet`` parser and fit the time budget, and the quick CPU run takes every item, so
that the suite does not rot between the runs on a GPU."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dualnet import cli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gan_helpers import shared_cache  # noqa: E402

pytestmark = [pytest.mark.cli]

SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_suite.py"


def load_suite():
    spec = importlib.util.spec_from_file_location("gpu_suite", SUITE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_the_full_run_fits_in_eight_minutes_and_its_commands_parse(tmp_path):
    suite = load_suite()
    assert suite.TOTAL_BUDGET <= 8 * 60
    ctx = suite.Context("cuda", False, tmp_path)
    parser = cli.build_parser()
    commands = []
    for item in suite.ITEMS.values():
        if item.commands is None or item.missing():
            continue
        for argv in item.commands(ctx):
            args = parser.parse_args(argv)  # a flag that does not exist exits here
            assert getattr(args, "device", "cuda") == "cuda", argv
            assert argv[argv.index("--out") + 1].startswith(str(tmp_path))
            commands.append(" ".join(argv))
    # what the issue asks for, with each application's defaults otherwise
    for expected in (
        "classify train --model resnet-preact20 --device cuda --epochs 8",
        "visualize fool --device cuda --out",
        "caption train --cell attention --device cuda --out",
        "gan train --model dc --loss ls --device cuda --out",
    ):
        assert any(command.startswith(expected) for command in commands), expected


def merged_cache(folder: Path, *caches: Path) -> Path:
    """A data cache that links to everything already in ``caches``."""
    folder.mkdir()
    for cache in caches:
        for entry in cache.iterdir():
            if not (folder / entry.name).exists():
                (folder / entry.name).symlink_to(entry)
    return folder


@pytest.mark.slow
def test_the_quick_cpu_run_takes_every_item(tmp_path, tmp_path_factory, session_cache):
    suite = load_suite()
    # the embedded images of the other tests, and the GAN tests' scorer: each made once
    cache = merged_cache(tmp_path / "cache", session_cache, shared_cache(tmp_path_factory))
    command = [sys.executable, str(SUITE), "--device", "cpu", "--quick", "--cache", str(cache)]
    command += ["--work", str(tmp_path / "work"), "--results", str(tmp_path / "results")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results" / "gpu-cpu-quick.json").read_text())
    assert results["mode"] == "quick" and results["device"] == "cpu"
    items = {item["item"]: item for item in results["items"]}
    assert list(items) == list(suite.ITEMS)
    for name, item in items.items():
        assert item["status"] == "ok", (name, item)
        assert item["seconds"] > 0 and item["peak_memory_mib"] is None  # no GPU in play
    tests = items["cuda-tests"]["headline"]
    assert tests["failed"] == tests["error"] == 0 and tests["passed"] + tests["skipped"] > 5
    rows = items["throughput"]["rows"]
    assert {row["mode"].split()[0] for row in rows} == {"eager", "compiled"}
    assert all(row["images_per_second"] > 0 for row in rows)
    assert items["classify-93"]["headline"]["reached_93"] is False  # two steps
    assert 0 <= items["visualize-fool"]["headline"]["success_rate"] <= 1
    assert 0 <= items["caption-attention"]["headline"]["bleu4"] <= 1
    assert items["gan-dc-ls"]["headline"]["fcd"] > 0
    assert "total (without prepare)" in done.stdout and "gpu-cpu-quick.json" in done.stdout


def test_an_item_over_its_time_limit_is_stopped_and_recorded(tmp_path, monkeypatch):
    suite = load_suite()
    monkeypatch.setattr(suite, "time_limit", lambda item, quick, device: 0.5)
    ctx = suite.Context("cpu", True, tmp_path)
    result = suite.run_item(suite.ITEMS["cuda-tests"], ctx, cache=None)
    assert result["status"] == "timed out" and result["seconds"] < 30
    assert result["note"] == "stopped after 0.5 s" and result["log_tail"] is not None


def test_style_transfer_runs_once_the_command_exists(tmp_path, monkeypatch):
    """The style application is being written: a stand-in of its command line shows what the
    suite will run and read once it lands."""
    import argparse

    suite = load_suite()
    transfer = argparse.ArgumentParser()
    for flag in ("--image-size", "--steps", "--device", "--out"):
        transfer.add_argument(flag)
    ran = []
    monkeypatch.setattr(suite, "style_transfer_parser", lambda: transfer)
    monkeypatch.setattr(suite, "dualnet", lambda argv: ran.append(argv) or {"seconds": 2.0,
                        "style_loss_reduction": 0.97})  # fmt: skip
    assert suite.ITEMS["style-transfer"].missing() is None
    result = suite.run_style(suite.Context("cpu", True, tmp_path))
    assert result["headline"] == {"style_loss_reduction": 0.97, "seconds": 2.0}
    assert ran[0][:2] == ["style", "transfer"] and ran[0][-2:] == [
        "--out",
        str(tmp_path / "style-transfer"),
    ]
    assert "--steps" in ran[0] and transfer.parse_args(ran[0][2:]).image_size == "64"
    full = suite.style_commands(suite.Context("cuda", False, tmp_path))[0]
    assert transfer.parse_args(full[2:]).image_size == "512" and "--steps" not in full
