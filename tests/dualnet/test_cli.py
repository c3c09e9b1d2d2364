"""``dualnet check`` and ``dualnet list``: output, JSON and exit codes."""

import dataclasses
import json
import subprocess
import sys

import pytest

import dualnet
from dualnet import cli, registry

pytestmark = pytest.mark.cli


def test_check_prints_a_row_per_component_and_dtype_and_exits_0(capsys):
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    for key in registry.COMPONENTS:
        for dtype in ("float64", "float32"):
            assert any(line.startswith(key + " ") and dtype in line for line in out.splitlines())
    assert f"all {2 * len(registry.COMPONENTS)} checks agree." in out


def test_check_selected_components_in_one_dtype(capsys):
    assert cli.main(["check", "relu", "affine", "--dtype", "float32"]) == 0
    rows = [
        line
        for line in capsys.readouterr().out.splitlines()
        if "float32" in line and "agrees" in line
    ]
    assert [row.split()[0] for row in rows] == ["affine", "relu"]


def test_check_json(capsys):
    assert cli.main(["check", "softmax_loss", "--json", "--seed", "3"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["seed"] == 3 and payload["agrees"] is True
    assert [(r["key"], r["dtype"]) for r in payload["results"]] == [
        ("softmax_loss", "float64"),
        ("softmax_loss", "float32"),
    ]
    first = payload["results"][0]
    assert set(first["autograd"]) == {"x"} and first["finite_differences"]["x"] < 1e-6
    assert payload["results"][1]["finite_differences"] is None
    assert payload["bounds"]["float64"]["autograd"] == 1e-9


def test_check_exits_1_and_names_what_disagrees(capsys, monkeypatch):
    relu = registry.COMPONENTS["relu"]

    def wrong_backward(douts, cache, case):
        return {"x": douts[0]}  # forgets the mask

    monkeypatch.setitem(
        registry.COMPONENTS, "relu", dataclasses.replace(relu, backward_numpy=wrong_backward)
    )
    assert cli.main(["check", "relu", "affine"]) == 1
    out = capsys.readouterr().out
    assert "2 of 4 checks disagree:" in out
    assert "relu float64: dx vs autograd" in out
    assert "DISAGREES" in out


def test_check_json_reports_disagreement(capsys, monkeypatch):
    relu = registry.COMPONENTS["relu"]
    monkeypatch.setitem(
        registry.COMPONENTS,
        "relu",
        dataclasses.replace(relu, backward_numpy=lambda d, c, case: {"x": 2 * d[0]}),
    )
    assert cli.main(["check", "relu", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["agrees"] is False
    assert all(r["agrees"] is False for r in payload["results"])


def test_unknown_component_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["check", "relu", "convolution"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown component(s): convolution. Known components: " in err
    assert "affine" in err.split("Known components: ")[1]


def test_list_names_every_component_and_its_functions(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "reference_numpy.layers.affine_forward" in out and "torch_impl.layers.affine" in out
    assert all(key in out for key in registry.COMPONENTS)


@pytest.mark.slow
def test_python_dash_m_and_the_console_script(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dualnet", "check", "relu", "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["agrees"] is True
    script = subprocess.run(
        [str(__import__("pathlib").Path(sys.executable).parent / "dualnet"), "check", "nothing"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert script.returncode == 2 and "unknown component(s): nothing" in script.stderr


def test_a_command_that_draws_nothing_never_imports_matplotlib():
    code = (
        "import sys; from dualnet import cli; status = cli.main(['check', 'relu']); "
        "print(status, sorted({'torchvision', 'matplotlib'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "0 []"


def test_training_on_the_cpu_is_deterministic_without_importing_inductor():
    # torch.use_deterministic_algorithms imports TorchInductor's configuration: a second at
    # the start of every training run
    code = (
        "import sys, torch; from dualnet.apps import runtime; "
        "device = runtime.training_device('cpu', runtime.DistributedContext()); "
        "print(device, torch.are_deterministic_algorithms_enabled(), "
        "torch.is_deterministic_algorithms_warn_only_enabled(), 'torch._inductor' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["cpu", "True", "True", "False"]


def test_version_and_a_negative_seed(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dualnet {dualnet.__version__}"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["check", "--seed", "-1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: dualnet check" in err and "argument --seed: must be at least 0, got -1" in err
