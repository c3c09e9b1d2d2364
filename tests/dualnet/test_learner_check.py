"""``dualnet.check_implementation``: hand-ins with one classic mistake each are flagged,
blaming the right output or gradient, with the right diagnosis; a correct hand-in agrees in
both dtypes; the learner's module and inputs are left alone.

The hand-ins are in ``learner_handins/``; each file's docstring says its mistake.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

import dualnet
from dualnet import crosscheck, registry
from dualnet.learner import HandinError, check_implementation

HANDINS = Path(__file__).resolve().parent / "learner_handins"

# hand-in: (component, status, outputs and gradients blamed, words the diagnosis must hold)
MISTAKES = {
    "bias_averaged": ("affine", "disagrees", {"db"}, {"db": "N = 3 times too small"}),
    "relu_mask_dropped": ("relu", "disagrees", {"dx"}, {"dx": "exactly where x < 0"}),
    "softmax_unnormalised": (
        "softmax_loss",
        "disagrees",
        {"dx"},
        {"dx": "N = 5 times too large"},
    ),
    "conv_weights_overwritten": (
        "conv[naive]",
        "disagrees",
        {"dw"},
        {"dw": "only example 1's share of the N = 2 examples"},
    ),
    "max_pool_spread": ("max_pool[naive]", "disagrees", {"dx"}, {"dx": "should be 0"}),
    "rnn_tanh_derivative": (
        "rnn_step",
        "disagrees",
        {"dx", "dprev_h", "dWx", "dWh", "db"},
        {},
    ),
    "lstm_gate_order": (
        "lstm_step",
        "disagrees",
        {"next_h", "next_c", "dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"},
        {},
    ),
    "embedding_overwrite": (
        "word_embedding",
        "disagrees",
        {"dW"},
        {"dW": "occur more than once in x"},
    ),
    "temporal_mask_ignored": (
        "temporal_softmax_loss",
        "disagrees",
        {"loss", "dx"},
        {"dx": "where mask is False"},
    ),
    "gram_unnormalised": (
        "gram_matrix[normalized]",
        "disagrees",
        {"gram", "dfeatures"},
        {"gram": "C·H·W = 36 times too large", "dfeatures": "C·H·W = 36 times too large"},
    ),
    "tv_absolute": ("tv_loss", "disagrees", {"loss", "dimg"}, {}),
    "svm_sign_flipped": ("svm_loss", "disagrees", {"dx"}, {"dx": "the opposite sign"}),
    "affine_weights_transposed": (
        "affine",
        "disagrees",
        {"dw"},
        {"dw": "expected (6, 4), got (4, 6); transposed"},
    ),
    "softmax_overflow": ("softmax_loss", "disagrees", {"loss", "dx"}, {"dx": "NaN in"}),
    "dout_changed_in_place": ("relu", "changed_input", set(), {}),
    "stub": ("affine", "not_implemented", set(), {}),
    "forward_only": ("relu", "not_implemented", set(), {}),
    "typo": ("relu", "error", set(), {}),
}


def check(name: str, **options):
    return check_implementation(str(HANDINS / f"{name}.py"), **options)


@pytest.fixture(scope="module")
def mistaken():
    return {name: check(name) for name in MISTAKES}


@pytest.mark.parametrize("name", MISTAKES)
def test_each_mistake_is_flagged_blaming_the_right_output_or_gradient(mistaken, name):
    key, status, blamed, diagnoses = MISTAKES[name]
    results = [r for r in mistaken[name] if r.key == key]
    assert [r.dtype for r in results] == ["float64", "float32"]
    # the gram matrix's other variant does not divide: there the mistake makes no difference
    assert all(r.agrees for r in mistaken[name] if r.key != key)
    for result in results:
        assert result.status == status, result.message
        assert not result.agrees
        assert {f.name for f in result.findings if f.check != "finite differences"} == blamed
        for finding in result.findings:
            if finding.name in diagnoses:
                assert diagnoses[finding.name] in finding.diagnosis
            assert finding.see.startswith(f"docs/{registry.COMPONENTS[key].page}.md#")


def test_messages_of_problems_that_are_not_values(mistaken):
    assert "relu_backward changed dout in place" in mistaken["dout_changed_in_place"][0].message
    assert mistaken["stub"][0].message == "forward: not written yet (affine_forward)"
    forward_only = mistaken["forward_only"][0]
    assert forward_only.message == "forward agrees; backward: not written yet"
    assert forward_only.forward <= crosscheck.BOUNDS["float64"].forward
    assert mistaken["typo"][0].message == (
        "backward: relu_backward raised NameError: name 'chache' is not defined (typo.py, line 11)"
    )


def test_a_gradient_blamed_links_to_the_backward_section_and_an_output_to_the_forward(mistaken):
    findings = {f.name: f.see for f in mistaken["temporal_mask_ignored"][0].findings}
    assert findings["loss"] == "docs/derivations/temporal_softmax_loss.md#forward"
    assert findings["dx"] == "docs/derivations/temporal_softmax_loss.md#backward"
    gram = {f.name: f.see for f in mistaken["gram_unnormalised"][0].findings}
    assert gram["dfeatures"] == "docs/derivations/style_losses.md#backward"
    assert gram["gram"] == "docs/derivations/style_losses.md#forward"
    rnn = mistaken["rnn_tanh_derivative"][0].findings[0].see
    assert rnn == "docs/derivations/rnn.md#backward-of-one-step"


def test_the_correct_handin_agrees_everywhere_in_both_dtypes():
    results = check("correct")
    keys = ["affine", "relu", "softmax_loss", "conv[naive]", "sgd_momentum"]
    keys += ["word_embedding", "tv_loss"]
    assert [(r.key, r.dtype) for r in results] == [(k, d) for k in keys for d in crosscheck.DTYPES]
    assert [r.message for r in results if not r.agrees] == []


def test_functions_imported_from_the_reference_measure_as_dualnet_check_does():
    mine = {(r.key, r.dtype): r for r in check("correct", names=["conv[naive]", "tv_loss"])}
    for key in ("conv[naive]", "tv_loss"):
        for dtype in crosscheck.DTYPES:
            reference = crosscheck.check_component(registry.COMPONENTS[key], dtype)
            assert mine[key, dtype].forward == reference.forward
            assert mine[key, dtype].autograd == reference.autograd
            assert mine[key, dtype].finite_differences == reference.finite_differences


def test_only_the_components_named_are_checked_and_the_dtype_can_be_chosen():
    results = check("correct", names=["relu"], dtypes="float32")
    assert [(r.key, r.dtype) for r in results] == [("relu", "float32")]


def test_an_endless_loop_stops_at_the_time_limit():
    (result,) = check("endless_loop", dtypes="float64", timeout=0.3)
    assert result.status == "timeout"
    assert "still running after 0.3 s" in result.message


def test_an_input_changed_by_the_forward_is_named(tmp_path):
    handin = tmp_path / "relu_in_place.py"
    handin.write_text(
        "import numpy as np\n\n"
        "def relu_forward(x):\n"
        "    x[x < 0] = 0\n"
        "    return x.copy(), x\n\n"
        "def relu_backward(dout, cache):\n"
        "    return dout * (cache > 0)\n"
    )
    (result,) = check_implementation(str(handin), dtypes="float64")
    assert result.status == "changed_input"
    assert result.message.startswith("relu_forward changed x in place")


def test_the_learners_module_is_neither_changed_nor_cached(tmp_path):
    folder = tmp_path / "homework"
    folder.mkdir()
    shutil.copy(HANDINS / "bias_averaged.py", folder / "my_layers.py")
    before = set(sys.modules)
    check_implementation(str(folder / "my_layers.py"), dtypes="float64")
    assert set(sys.modules) - before <= {m for m in sys.modules if not m.startswith("dualnet_")}
    assert not any(m.startswith("dualnet_handin") for m in sys.modules)
    assert not (folder / "__pycache__").exists()

    spec = importlib.util.spec_from_file_location("my_layers", folder / "my_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = dict(vars(module))
    results = check_implementation(module, dtypes="float64")
    assert dict(vars(module)) == names
    assert results[0].functions == ("affine_forward", "affine_backward")


def test_a_module_name_is_checked_like_a_file(tmp_path, monkeypatch):
    shutil.copy(HANDINS / "svm_sign_flipped.py", tmp_path / "my_losses.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    (result,) = check_implementation("my_losses", dtypes="float64")
    assert result.key == "svm_loss" and result.diagnosis == "dx: the opposite sign"
    assert "my_losses" not in sys.modules


def test_the_package_exports_check_implementation():
    assert dualnet.check_implementation is check_implementation


def test_bad_handins_are_refused_with_one_line_naming_them(tmp_path):
    with pytest.raises(HandinError, match=r"^missing\.py: no such file$"):
        check_implementation("missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("def affine_forward(x, w, b)\n    return x\n")
    with pytest.raises(HandinError, match=r"broken\.py: importing it raised SyntaxError"):
        check_implementation(str(broken))
    empty = tmp_path / "empty.py"
    empty.write_text("def my_layer(x):\n    return x\n")
    with pytest.raises(HandinError, match=r"empty\.py: defines none of the registered"):
        check_implementation(str(empty))
    with pytest.raises(ValueError, match="unknown component.*: relux"):
        check(name="correct", names=["relux"])
    with pytest.raises(HandinError, match=r"defines none of the functions asked for"):
        check(name="correct", names=["lstm"])
