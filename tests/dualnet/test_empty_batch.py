"""One rule for an empty batch, held across the whole registry: every component with a batch
axis refuses ``N = 0`` with a ``ValueError`` that names the function and the argument, in both
backends (docs/notation.md, "Empty batches")."""

import copy

import numpy as np
import pytest
import torch

from dualnet import registry
from dualnet.registry.component import batched_inputs, empty_batch

WITH_A_BATCH = [
    c
    for c in registry.COMPONENTS.values()
    if batched_inputs(c, c.make_case(np.random.default_rng(0), np.dtype("float64")))
]


def empty_case(component):
    case = component.make_case(np.random.default_rng(0), np.dtype("float64"))
    return empty_batch(component, case)


def function_name(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


# The input-gradient methods hand the images to their network first thing; the network's
# first layer, the convolution, is what refuses them (NumPy, PyTorch).
REFUSED_BY_THE_NETWORK = {"visualization": ("conv_forward_fast", "conv")}


def refusing_functions(component) -> tuple[str, str]:
    """The NumPy and the PyTorch function whose name the refusal starts with."""
    if component.topic in REFUSED_BY_THE_NETWORK:
        return REFUSED_BY_THE_NETWORK[component.topic]
    return (
        function_name(component.implementations[0]),
        function_name(component.implementations[-1]),
    )


def test_only_the_update_rules_have_no_batch():
    without = {c.name for c in registry.COMPONENTS.values()} - {c.name for c in WITH_A_BATCH}
    assert without == {"sgd", "sgd_momentum", "rmsprop", "adam"}


@pytest.mark.parametrize("component", WITH_A_BATCH, ids=lambda c: c.key)
def test_numpy_refuses_an_empty_batch(component):
    case = empty_case(component)
    config_before = copy.deepcopy(case.config)
    func = refusing_functions(component)[0]
    with pytest.raises(ValueError, match=rf"^{func}: \w+(\[\d+\])? has shape \(0[,)].*N >= 1"):
        component.forward_numpy(case)
    # nothing was updated on the way (batch norm's running statistics stay as they were)
    for before, after in zip(config_before, case.config, strict=True):
        if isinstance(before, dict):
            assert before.keys() == after.keys()
            for key in before:
                np.testing.assert_array_equal(after[key], before[key])


@pytest.mark.parametrize("component", WITH_A_BATCH, ids=lambda c: c.key)
def test_torch_refuses_an_empty_batch(component):
    case = empty_case(component)
    tensors = {name: torch.from_numpy(np.array(a)) for name, a in case.inputs.items()}
    func = refusing_functions(component)[1]
    with pytest.raises(ValueError, match=rf"^{func}: \w+(\[\d+\])? has shape \(0[,)].*N >= 1"):
        component.forward_torch(tensors, case)
