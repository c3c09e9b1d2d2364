"""The registry: its keys, its selection by name, and its links into the docs."""

from pathlib import Path

import numpy as np
import pytest

from dualnet import registry

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_keys_are_unique_and_match_entries():
    for key, component in registry.COMPONENTS.items():
        assert key == component.key


def test_the_first_components_are_registered():
    names = {c.name for c in registry.COMPONENTS.values()}
    assert {"affine", "relu", "leaky_relu", "dropout", "softmax_loss", "svm_loss"} <= names


def test_select_by_name_includes_every_variant():
    assert [c.key for c in registry.select(["dropout"])] == ["dropout[train]", "dropout[test]"]
    assert [c.key for c in registry.select(["dropout[test]"])] == ["dropout[test]"]
    assert len(registry.select(None)) == len(registry.COMPONENTS)


def test_select_names_unknown_components():
    with pytest.raises(
        ValueError, match="unknown component.*: conv9, relux. Known components: .*affine"
    ):
        registry.select(["relu", "conv9", "relux"])


@pytest.mark.parametrize("component", registry.COMPONENTS.values(), ids=lambda c: c.key)
def test_every_component_has_a_derivation_page(component):
    assert (DOCS / f"{component.page}.md").is_file()


@pytest.mark.parametrize("component", registry.COMPONENTS.values(), ids=lambda c: c.key)
def test_cases_are_deterministic_and_of_the_requested_dtype(component):
    a = component.make_case(np.random.default_rng(5), np.dtype("float32"))
    b = component.make_case(np.random.default_rng(5), np.dtype("float32"))
    for name in a.inputs:
        np.testing.assert_array_equal(a.inputs[name], b.inputs[name])
    for name in a.wrt:
        assert a.inputs[name].dtype == np.float32
