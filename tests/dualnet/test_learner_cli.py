"""``dualnet check --impl``, ``dualnet exercise`` and ``dualnet grade``: output, JSON, CSV,
exit codes and one-line errors."""

from __future__ import annotations

import ast
import csv
import inspect
import json
import shutil
import textwrap
from pathlib import Path

import pytest

from dualnet import cli, registry
from dualnet.learner import check_implementation, grade

pytestmark = pytest.mark.cli

HANDINS = Path(__file__).resolve().parent / "learner_handins"


def handin(name: str) -> str:
    return str(HANDINS / f"{name}.py")


# --------------------------------------------------------------------------------------------
# dualnet check --impl
# --------------------------------------------------------------------------------------------


def test_a_mistake_is_printed_with_its_error_diagnosis_and_section(capsys):
    assert cli.main(["check", "--impl", handin("bias_averaged")]) == 1
    out = capsys.readouterr().out
    assert "affine     float64  0        dx" in out and "DISAGREES" in out
    assert "2 of 2 checks do not agree yet:" in out
    assert "  affine (float64, float32):" in out
    assert "    db vs autograd: error 5.0e-01 (bound 1e-9)" in out
    assert "diagnosis: N = 3 times too small: divided by the batch size" in out
    assert "read: docs/derivations/affine.md#backward" in out


def test_a_correct_handin_exits_0(capsys):
    assert cli.main(["check", "--impl", handin("correct"), "relu", "--dtype", "float32"]) == 0
    assert "all 1 checks agree." in capsys.readouterr().out


def test_json_keeps_the_fields_of_dualnet_check_and_adds_status_message_diagnosis(capsys):
    assert cli.main(["check", "--impl", handin("relu_mask_dropped"), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["agrees"] is False and payload["seed"] == 0
    first = payload["results"][0]
    today = {"key", "dtype", "forward", "autograd", "finite_differences", "bounds", "agrees"}
    assert today | {"status", "message", "diagnosis"} <= set(first)
    assert (first["key"], first["status"]) == ("relu", "disagrees")
    assert first["diagnosis"].startswith("dx: wrong in ")
    assert first["findings"][0]["see"] == "docs/derivations/relu.md#backward"


def test_json_statuses_of_problems(capsys):
    expected = {
        "stub": "not_implemented",
        "typo": "error",
        "dout_changed_in_place": "changed_input",
    }
    for name, status in expected.items():
        cli.main(["check", "--impl", handin(name), "--json", "--dtype", "float64"])
        (result,) = json.loads(capsys.readouterr().out)["results"]
        assert result["status"] == status
    cli.main(["check", "--impl", handin("endless_loop"), "--json", "--timeout", "0.2"])
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["status"] for r in results] == ["timeout", "timeout"]


def test_what_the_learners_code_prints_stays_out_of_the_json(tmp_path, capsys):
    chatty = tmp_path / "chatty.py"
    chatty.write_text(
        "import numpy as np\n\n"
        "def relu_forward(x):\n"
        "    print('debugging', x.shape)\n"
        "    return np.maximum(x, 0), x\n"
    )
    cli.main(["check", "--impl", str(chatty), "--json"])
    captured = capsys.readouterr()
    assert json.loads(captured.out)["results"][0]["message"].startswith("forward agrees")
    assert "debugging (3, 4, 5)" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--impl", "missing.py"], "dualnet check: error: --impl missing.py: no such file"),
        (["--impl", "no_such_module_x"], "--impl no_such_module_x: no such file and no module"),
        (["--impl", handin("correct"), "relux"], "dualnet check: error: NAME: unknown comp"),
        (["--impl", handin("stub"), "relu"], "defines none of the functions asked for"),
    ],
)
def test_bad_input_is_one_line_naming_the_argument(capsys, argv, message):
    assert cli.main(["check", *argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_timeout_without_impl_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["check", "relu", "--timeout", "2"])
    assert exit_info.value.code == 2
    assert "--timeout: applies to --impl only" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# dualnet exercise
# --------------------------------------------------------------------------------------------


def reference_code_lines(function) -> set[str]:
    """The lines of a reference function's body after its docstring, stripped."""
    source = textwrap.dedent(inspect.getsource(function))
    node = ast.parse(source).body[0]
    lines = source.splitlines()
    body = lines[node.body[1].lineno - 1 : node.end_lineno] if len(node.body) > 1 else []
    return {line.strip() for line in body if line.strip()}


def test_an_exercise_has_signatures_and_docstrings_and_no_line_of_the_reference(tmp_path, capsys):
    out = tmp_path / "convnet.py"
    assert cli.main(["exercise", "conv[naive]", "max_pool[naive]", "--out", str(out)]) == 0
    assert f"dualnet check --impl {out}" in capsys.readouterr().out
    text = out.read_text()
    assert f"    dualnet check --impl {out}" in text
    tree = ast.parse(text)
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    names = ["conv_forward_naive", "conv_backward_naive"]
    names += ["max_pool_forward_naive", "max_pool_backward_naive"]
    assert [f.name for f in functions] == names
    for node in functions:
        entry = registry.COMPONENTS[
            "conv[naive]" if node.name.startswith("conv") else "max_pool[naive]"
        ]
        reference = entry.numpy_functions[node.name]
        assert ast.get_docstring(node) == inspect.getdoc(reference)
        assert ast.unparse(node.args) == ast.unparse(
            ast.parse(inspect.getsource(reference)).body[0].args
        )
        assert ast.unparse(node.body[-1]).startswith("raise NotImplementedError")
        assert not reference_code_lines(reference) & {line.strip() for line in text.splitlines()}


def test_an_exercise_checks_as_not_written_and_then_as_agreeing_once_written(tmp_path):
    out = tmp_path / "relu.py"
    assert cli.main(["exercise", "relu", "--out", str(out)]) == 0
    results = check_implementation(str(out), dtypes="float64")
    assert [(r.key, r.status) for r in results] == [("relu", "not_implemented")]
    with out.open("a") as file:
        file.write("\nfrom reference_numpy.layers import relu_backward, relu_forward  # noqa\n")
    assert [r.status for r in check_implementation(str(out))] == ["agrees", "agrees"]


def test_an_exercise_for_a_topic(tmp_path):
    out = tmp_path / "losses.py"
    assert cli.main(["exercise", "--topic", "losses", "--out", str(out)]) == 0
    names = [n.name for n in ast.parse(out.read_text()).body if isinstance(n, ast.FunctionDef)]
    assert names == ["softmax_loss", "svm_loss"]


def test_an_exercise_never_overwrites_and_refuses_bad_input(tmp_path, capsys):
    out = tmp_path / "mine.py"
    out.write_text("my work\n")
    assert cli.main(["exercise", "relu", "--out", str(out)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert out.read_text() == "my work\n"
    assert cli.main(["exercise", "relux", "--out", str(tmp_path / "a.py")]) == 2
    assert "unknown component(s): relux" in capsys.readouterr().err
    assert cli.main(["exercise", "relu", "--out", str(tmp_path / "a.txt")]) == 2
    assert "must name a .py file" in capsys.readouterr().err
    assert cli.main(["exercise", "--out", str(tmp_path / "a.py")]) == 2
    assert "name the components" in capsys.readouterr().err
    assert not (tmp_path / "a.py").exists()


# --------------------------------------------------------------------------------------------
# dualnet grade
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_grade_prints_one_table_and_writes_csv(tmp_path, capsys):
    folder = tmp_path / "handins"
    folder.mkdir()
    for name in ("bias_averaged", "forward_only"):
        shutil.copy(handin(name), folder / f"{name}.py")
    (folder / "broken.py").write_text("import no_such_module_anywhere\n")
    table = tmp_path / "grades.csv"
    assert cli.main(["grade", str(folder), "--csv", str(table), "--timeout", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("hand-in"))
    assert header.split()[:3] == ["hand-in", "affine", "relu"]
    by_file = {line.split()[0]: line for line in lines[lines.index(header) + 2 :][:3]}
    assert "disagrees: db" in by_file["bias_averaged.py"]
    assert "not written" in by_file["forward_only.py"]
    assert "error: importing it raised ModuleNotFoundError" in by_file["broken.py"]
    written = list(csv.DictReader(table.open()))
    bias = [r for r in written if r["hand-in"] == "bias_averaged.py"]
    assert [(r["component"], r["dtype"], r["status"], r["blamed"]) for r in bias] == [
        ("affine", "float64", "disagrees", "db"),
        ("affine", "float32", "disagrees", "db"),
    ]
    assert any(r["hand-in"] == "broken.py" and r["status"] == "error" for r in written)


def test_grade_stops_a_handin_at_its_time_limit(tmp_path, monkeypatch):
    shutil.copy(handin("correct"), tmp_path / "slow.py")
    monkeypatch.setattr(grade, "STARTUP_SECONDS", 0.0)
    result = grade.run_handin(tmp_path / "slow.py", timeout=0.05)
    assert result.status == "timeout" and result.results == []
    assert result.message.startswith("no result after")


def test_grade_refuses_a_missing_or_empty_folder(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "none")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert cli.main(["grade", str(tmp_path)]) == 2
    assert "holds no .py file" in capsys.readouterr().err


def test_every_derivation_page_ends_with_the_commands_that_check_its_components():
    docs = Path(__file__).resolve().parents[2] / "docs"
    pages: dict[str, list[str]] = {}
    for entry in registry.COMPONENTS.values():
        pages.setdefault(entry.page, [])
        if entry.name not in pages[entry.page]:
            pages[entry.page].append(entry.name)
    for page, names in pages.items():
        last = (docs / f"{page}.md").read_text().rstrip().splitlines()[-1]
        stem = Path(page).name
        assert f"`dualnet exercise {' '.join(names)} --out {stem}.py`" in last, page
        assert f"`dualnet check --impl {stem}.py`" in last and "(../learn.md)" in last, page
