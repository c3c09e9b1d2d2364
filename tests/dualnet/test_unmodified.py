"""No component changes its inputs, its configuration or the upstream gradient, in any backend."""

import copy

import numpy as np
import pytest
import torch

from dualnet import crosscheck, registry


def components():
    return [
        pytest.param(c, id=c.key, marks=getattr(pytest.mark, c.topic))
        for c in registry.COMPONENTS.values()
    ]


def assert_same(before, after):
    if isinstance(before, np.ndarray):
        assert after.dtype == before.dtype
        np.testing.assert_array_equal(after, before)
    elif isinstance(before, dict):
        assert before.keys() == after.keys()
        for key in before:
            assert_same(before[key], after[key])
    elif isinstance(before, (tuple, list)):
        assert len(before) == len(after)
        for a, b in zip(before, after, strict=True):
            assert_same(a, b)
    else:
        assert before == after


@pytest.mark.parametrize("component", components())
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_leaves_inputs_and_upstream_gradient_alone(component, dtype):
    rng = np.random.default_rng(0)
    case = component.make_case(rng, np.dtype(dtype))
    snapshot = copy.deepcopy(case)
    outputs, cache = component.forward_numpy(case)
    douts = crosscheck.upstream_gradients(rng, outputs, dtype)
    douts_snapshot = copy.deepcopy(douts)
    component.backward_numpy(douts, cache, case)
    assert_same(snapshot.inputs, case.inputs)
    if not component.updates_config:
        assert_same(snapshot.config, case.config)
    assert_same(douts_snapshot, douts)


@pytest.mark.parametrize("component", components())
def test_torch_leaves_inputs_and_upstream_gradient_alone(component):
    rng = np.random.default_rng(0)
    case = component.make_case(rng, np.dtype("float64"))
    snapshot = copy.deepcopy(case)
    tensors = {
        name: torch.from_numpy(array.copy()).requires_grad_(name in case.wrt)
        for name, array in case.inputs.items()
    }
    tensors_before = {name: t.detach().clone() for name, t in tensors.items()}
    outputs = component.forward_torch(tensors, case)
    douts = [torch.randn_like(o) for o in outputs]
    douts_before = [d.clone() for d in douts]
    if case.wrt:
        torch.autograd.backward(outputs, douts)
    for name, tensor in tensors.items():
        torch.testing.assert_close(tensor.detach(), tensors_before[name], rtol=0, atol=0)
    for d, d_before in zip(douts, douts_before, strict=True):
        torch.testing.assert_close(d, d_before, rtol=0, atol=0)
    if not component.updates_config:
        assert_same(snapshot.config, case.config)
