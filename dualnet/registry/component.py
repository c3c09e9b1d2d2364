"""What the registry knows about one component, and builders for the classic calling forms.

A :class:`Component` reduces every component to three uniform calls, which is all the
cross-check engine (``dualnet/crosscheck.py``) needs:

* ``forward_numpy(case) -> (outputs, cache)``, outputs a tuple of arrays;
* ``backward_numpy(douts, cache, case) -> {input name: gradient}`` for every name in
  ``case.wrt``;
* ``forward_torch(tensors, case) -> outputs``, a tuple of tensors.

Most components follow one of the classic forms, and :func:`layer` and :func:`combined_loss`
build the three calls from the public functions. A component with an unusual form writes its
three calls by hand, in a function that takes the NumPy functions it calls by their public
names, and registers it with :func:`substitutable`.

Every entry remembers its NumPy functions under their public names
(``Component.numpy_functions``), so that the same entry can be built again around other
functions of those names (:meth:`Component.with_numpy_functions`): that is how a learner's own
``affine_forward`` is checked by the very machinery that checks the reference's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Case:
    """One concrete set of inputs for a component.

    Attributes:
        inputs: The array arguments, in the order the functions take them.
        wrt: Names of the differentiable inputs, in the order the backward pass returns
            their gradients.
        config: Further positional arguments (a parameter dict, a slope), passed unchanged
            after the arrays to both backends.
    """

    inputs: dict[str, np.ndarray]
    wrt: tuple[str, ...]
    config: tuple = ()


@dataclass(frozen=True)
class Component:
    """A component as the registry sees it: how to make inputs and how each backend runs it.

    Attributes:
        name: The component's name, which is also the torch function's name (``"affine"``).
        topic: Group used for test markers and the docs (``"layers"``).
        summary: One line saying what it computes.
        page: The docs derivation page, relative to ``docs/`` and without suffix.
        make_case: ``make_case(rng, dtype) -> Case``: random inputs, away from kinks.
        forward_numpy: ``(case) -> (outputs, cache)``.
        backward_numpy: ``(douts, cache, case) -> {name: gradient}``.
        forward_torch: ``(tensors, case) -> outputs``.
        implementations: Dotted names of the public functions, NumPy first.
        variant: Distinguishes entries of one component run in different settings (dropout
            in ``"train"`` and ``"test"`` mode); empty when there is one entry.
        updates_config: ``True`` when the forward pass updates its configuration on purpose
            (batch normalization's running statistics, an update rule's state); every other
            component must leave it alone.
        batch_inputs: Names of the inputs whose leading axis is the batch axis ``N``; ``None``
            (the default) means every input whose leading axis has the length of the first
            input's (see :func:`batched_inputs`). ``()`` for a component without a batch (an
            update rule).
        outputs: Names of the forward outputs, in order (``("next_h", "next_c")``); empty
            means ``"out"`` for a single output.
        numpy_functions: The public NumPy functions the entry calls, by name
            (``{"affine_forward": ..., "affine_backward": ...}``).
        rebuild: ``rebuild(functions) -> Component``: the same entry around other functions
            of the names in ``numpy_functions``; see :meth:`with_numpy_functions`.
    """

    name: str
    topic: str
    summary: str
    page: str
    make_case: Callable[[np.random.Generator, np.dtype], Case]
    forward_numpy: Callable[[Case], tuple[tuple[np.ndarray, ...], Any]]
    backward_numpy: Callable[[tuple[np.ndarray, ...], Any, Case], dict[str, np.ndarray]]
    forward_torch: Callable[[dict[str, torch.Tensor], Case], tuple[torch.Tensor, ...]]
    implementations: tuple[str, ...] = ()
    variant: str = ""
    updates_config: bool = False
    batch_inputs: tuple[str, ...] | None = None
    outputs: tuple[str, ...] = ()
    numpy_functions: dict[str, Callable] = field(default_factory=dict, compare=False)
    rebuild: Callable[[dict[str, Callable]], Component] | None = field(
        default=None, compare=False, repr=False
    )

    @property
    def key(self) -> str:
        """The registry key: ``name``, or ``name[variant]`` for a variant."""
        return f"{self.name}[{self.variant}]" if self.variant else self.name

    def output_names(self, count: int) -> tuple[str, ...]:
        """Names for ``count`` forward outputs: :attr:`outputs` when it names that many,
        else ``("out",)`` or ``("out0", "out1", ...)``."""
        if len(self.outputs) == count:
            return self.outputs
        return ("out",) if count == 1 else tuple(f"out{k}" for k in range(count))

    def with_numpy_functions(self, replacements: dict[str, Callable]) -> Component:
        """This entry with some of its NumPy functions replaced, named as in
        :attr:`numpy_functions`; its cases, its PyTorch side and its key stay the same.

        Raises:
            ValueError: for a name the entry does not call, or an entry that cannot be rebuilt.
        """
        unknown = sorted(set(replacements) - set(self.numpy_functions))
        if unknown or self.rebuild is None:
            raise ValueError(
                f"{self.key} cannot take {', '.join(unknown) or 'other functions'}: it calls "
                f"{', '.join(self.numpy_functions) or 'no replaceable function'}"
            )
        functions = {**self.numpy_functions, **replacements}
        rebuilt = self.rebuild(functions)
        return dataclasses.replace(rebuilt, numpy_functions=functions, rebuild=self.rebuild)


def substitutable(build: Callable[..., Component], **functions: Callable) -> Component:
    """``build(**functions)``, remembering ``functions`` under their keyword names, which are
    the functions' public names (``content_loss_forward=R.content_loss_forward``), so that
    :meth:`Component.with_numpy_functions` can build the entry again around other functions."""
    return dataclasses.replace(
        build(**functions), numpy_functions=dict(functions), rebuild=lambda fns: build(**fns)
    )


def batched_inputs(component: Component, case: Case) -> tuple[str, ...]:
    """The inputs of ``case`` that carry the batch axis ``N`` first.

    ``component.batch_inputs`` when given; otherwise every input whose leading axis has the
    length of the first input's leading axis.
    """
    if component.batch_inputs is not None:
        return component.batch_inputs
    first = next(iter(case.inputs.values()))
    n = first.shape[0]
    return tuple(name for name, a in case.inputs.items() if a.ndim >= 1 and a.shape[0] == n)


def empty_batch(component: Component, case: Case) -> Case:
    """``case`` with every batched input cut to ``N = 0`` examples (``a[:0]``); every other
    input and the configuration are kept."""
    batched = batched_inputs(component, case)
    inputs = {name: (a[:0] if name in batched else a) for name, a in case.inputs.items()}
    return Case(inputs, wrt=case.wrt, config=case.config)


def dotted_name(function: Callable) -> str:
    """``module.qualname`` of a function, e.g. ``reference_numpy.layers.affine_forward``."""
    return f"{function.__module__}.{function.__qualname__}"


def as_tuple(value) -> tuple:
    """``value`` itself if it is a tuple, else a one-element tuple holding it."""
    return value if isinstance(value, tuple) else (value,)


def layer(
    *,
    name: str,
    topic: str,
    summary: str,
    page: str,
    make_case: Callable[[np.random.Generator, np.dtype], Case],
    forward: Callable,
    backward: Callable,
    torch_function: Callable,
    torch_kwargs: Callable[[Case], dict] | None = None,
    variant: str = "",
    updates_config: bool = False,
    outputs: tuple[str, ...] = (),
) -> Component:
    """A component in the classic layer form.

    ``forward(*inputs, *config) -> (*outputs, cache)``; ``backward(*douts, cache)`` returns
    one gradient or a tuple of them in ``case.wrt`` order; ``torch_function(*tensors, *config,
    **torch_kwargs(case))`` returns an output or a tuple of outputs.
    """
    forward_name, backward_name = forward.__name__, backward.__name__

    def build(**functions: Callable) -> Component:
        forward, backward = functions[forward_name], functions[backward_name]

        def forward_numpy(case: Case):
            *outputs, cache = forward(*case.inputs.values(), *case.config)
            return tuple(outputs), cache

        def backward_numpy(douts, cache, case: Case):
            return dict(zip(case.wrt, as_tuple(backward(*douts, cache)), strict=True))

        return Component(
            name=name,
            topic=topic,
            summary=summary,
            page=page,
            make_case=make_case,
            forward_numpy=forward_numpy,
            backward_numpy=backward_numpy,
            forward_torch=forward_torch,
            implementations=tuple(dotted_name(f) for f in (forward, backward, torch_function)),
            variant=variant,
            updates_config=updates_config,
            outputs=outputs,
        )

    def forward_torch(tensors, case: Case):
        extra = torch_kwargs(case) if torch_kwargs else {}
        return as_tuple(torch_function(*tensors.values(), *case.config, **extra))

    return substitutable(build, **{forward_name: forward, backward_name: backward})


def combined_loss(
    *,
    name: str,
    topic: str,
    summary: str,
    page: str,
    make_case: Callable[[np.random.Generator, np.dtype], Case],
    loss: Callable,
    torch_function: Callable,
) -> Component:
    """A loss in the classic combined form ``loss(x, y) -> (loss, dx)``.

    Its one output is the scalar loss; the gradient for an upstream gradient ``dloss`` is
    ``dloss * dx``. ``case.wrt`` names the single differentiable input.
    """
    loss_name = loss.__name__

    def build(**functions: Callable) -> Component:
        loss = functions[loss_name]

        def forward_numpy(case: Case):
            value, dx = loss(*case.inputs.values(), *case.config)
            return (np.asarray(value),), dx

        return Component(
            name=name,
            topic=topic,
            summary=summary,
            page=page,
            make_case=make_case,
            forward_numpy=forward_numpy,
            backward_numpy=backward_numpy,
            forward_torch=forward_torch,
            implementations=(dotted_name(loss), dotted_name(torch_function)),
            outputs=("loss",),
        )

    def backward_numpy(douts, cache, case: Case):
        (dloss,) = douts
        (wrt,) = case.wrt
        return {wrt: dloss * cache}

    def forward_torch(tensors, case: Case):
        return (torch_function(*tensors.values(), *case.config),)

    return substitutable(build, **{loss_name: loss})
