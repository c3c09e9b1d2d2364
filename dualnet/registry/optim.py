"""Registry entries for the update rules (``reference_numpy/optim.py``) against ``torch.optim``.

An update rule has no backward pass to check. Its entry's one output is the trajectory of the
parameters over 25 steps of a fixed gradient sequence, which both backends must reproduce.

``reference_numpy/solver.py`` and ``reference_numpy/captioning_solver.py`` have no entry and no
``torch_impl`` twin: they are training loops, not components (no forward or backward pass to
hold against another). Their PyTorch counterparts are ``torch.optim`` (checked here, rule by
rule) and the applications' training runs; ``tests/dualnet/test_caption_training.py`` holds the
``CaptioningSolver`` to torch's Adam, step for step.
"""

from __future__ import annotations

import numpy as np
import torch

import reference_numpy.optim as R
from dualnet.registry.component import Case, Component, dotted_name, substitutable

TOPIC = "optim"
STEPS = 25


def trajectory_case(hyperparameters: dict):
    def make(rng: np.random.Generator, dtype) -> Case:
        w0 = rng.standard_normal((4, 5)).astype(dtype)
        grads = rng.standard_normal((STEPS, 4, 5)).astype(dtype)
        return Case({"w0": w0, "grads": grads}, wrt=(), config=(dict(hyperparameters),))

    return make


def update_rule(name: str, torch_optimizer, to_torch_options, hyperparameters: dict) -> Component:
    """An entry running ``reference_numpy.optim.<name>`` and ``torch_optimizer`` side by side."""

    def build(**functions) -> Component:
        rule = functions[name]

        def forward_numpy(case: Case):
            w, grads = case.inputs["w0"], case.inputs["grads"]
            (config,) = case.config
            steps = []
            for dw in grads:
                w, config = rule(w, dw, config)
                steps.append(w)
            return (np.stack(steps),), None

        return Component(
            name=name,
            topic=TOPIC,
            summary=f"{STEPS} steps of {name} vs torch.optim.{torch_optimizer.__name__}",
            page="derivations/optim",
            make_case=trajectory_case(hyperparameters),
            forward_numpy=forward_numpy,
            backward_numpy=lambda douts, cache, case: {},
            forward_torch=forward_torch,
            implementations=(dotted_name(rule), f"torch.optim.{torch_optimizer.__name__}"),
            batch_inputs=(),  # a parameter array has no batch axis
            updates_config=True,  # the classic rules keep their state in the config they get
            outputs=("next_w",),
        )

    def forward_torch(tensors, case: Case):
        (config,) = case.config
        w = tensors["w0"].detach().clone().requires_grad_()
        optimizer = torch_optimizer([w], **to_torch_options(config))
        steps = []
        for dw in tensors["grads"]:
            w.grad = dw.clone()
            optimizer.step()
            steps.append(w.detach().clone())
        return (torch.stack(steps),)

    return substitutable(build, **{name: R.UPDATE_RULES[name]})


ENTRIES = [
    update_rule(
        "sgd",
        torch.optim.SGD,
        lambda c: {"lr": c["learning_rate"]},
        {"learning_rate": 0.1},
    ),
    update_rule(
        "sgd_momentum",
        torch.optim.SGD,
        lambda c: {"lr": c["learning_rate"], "momentum": c["momentum"]},
        {"learning_rate": 0.05, "momentum": 0.8},
    ),
    update_rule(
        "rmsprop",
        torch.optim.RMSprop,
        lambda c: {"lr": c["learning_rate"], "alpha": c["decay_rate"], "eps": c["epsilon"]},
        {"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 1e-8},
    ),
    update_rule(
        "adam",
        torch.optim.Adam,
        lambda c: {
            "lr": c["learning_rate"],
            "betas": (c["beta1"], c["beta2"]),
            "eps": c["epsilon"],
        },
        {"learning_rate": 0.01, "beta1": 0.85, "beta2": 0.99, "epsilon": 1e-8},
    ),
]
