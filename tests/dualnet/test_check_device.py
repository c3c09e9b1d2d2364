"""``dualnet check --device``: the PyTorch side on the device that trains, TF32 switched for a
check and restored after, the refusal of a GPU that is not there, and the GPU suite's order."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from dualnet import cli, crosscheck, registry

pytestmark = pytest.mark.cli


def test_the_cpu_device_is_todays_check(capsys):
    assert cli.main(["check", "relu", "affine", "--device", "cpu", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["device"] == "cpu" and payload["agrees"]
    assert {r["device"] for r in payload["results"]} == {"cpu"}
    assert {r["tf32"] for r in payload["results"]} == {None}
    component = registry.COMPONENTS["affine"]
    default = crosscheck.check_component(component, "float32")
    explicit = crosscheck.check_component(component, "float32", 0, "cpu", "off")
    assert default.forward == explicit.forward and default.autograd == explicit.autograd
    assert cli.main(["check", "relu", "--dtype", "float64"]) == 0
    assert "NumPy reference vs PyTorch on cpu" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="there is a GPU here")
def test_cuda_where_there_is_none_is_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["check", "relu", "--device", "cuda"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("--device cuda: no CUDA GPU here (torch.cuda.is_available() is "
                            "False); use --device cpu")  # fmt: skip


def test_float32_on_a_gpu_is_checked_with_tf32_and_without():
    assert crosscheck.settings_for("float32", "cuda") == ("default", "off")
    assert crosscheck.settings_for("float32", "cuda:1") == ("default", "off")
    assert crosscheck.settings_for("float64", "cuda") == (None,)
    assert crosscheck.settings_for("float32", "cpu") == (None,)


def test_tf32_is_forbidden_for_the_check_and_restored_after():
    switches = crosscheck.tf32_switches()
    before = [getattr(owner, name) for owner, name, _ in switches]
    with crosscheck.tf32("off"):
        assert [getattr(owner, name) for owner, name, _ in switches] == [
            off for _, _, off in switches
        ]
    assert [getattr(owner, name) for owner, name, _ in switches] == before
    with pytest.raises(RuntimeError), crosscheck.tf32("off"):
        raise RuntimeError("a failing check")
    assert [getattr(owner, name) for owner, name, _ in switches] == before  # restored anyway
    with pytest.raises(ValueError, match="tf32 must be None, 'default' or 'off'"):
        with crosscheck.tf32("on"):
            pass


def test_the_gpu_suite_checks_agreement_before_it_trains():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_suite.py"
    spec = importlib.util.spec_from_file_location("gpu_suite_order", path)
    suite = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = suite  # its dataclasses look their module up while it loads
    spec.loader.exec_module(suite)
    assert list(suite.ITEMS)[0] == "check"
    assert suite.TOTAL_BUDGET <= 8 * 60
