"""Scores of shape ``(N,)`` and ``(N, 1)`` both work in both backends, and no GAN loss ever
broadcasts them into ``(N, N)``: every array or tensor computed on the way, forward and
backward, is recorded and none is larger than the batch.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import reference_numpy.gan as R
import torch_impl.gan as T
from reference_numpy.gradcheck import rel_error

pytestmark = pytest.mark.gan

# (name, number of score arguments)
LOSSES = [
    ("discriminator_loss", 2),
    ("generator_loss", 1),
    ("ls_discriminator_loss", 2),
    ("ls_generator_loss", 1),
    ("wgan_critic_loss", 2),
    ("wgan_generator_loss", 1),
]
N_REAL, N_FAKE = 7, 5


def scores(rng, arity: int, column: bool, sizes=(N_REAL, N_FAKE)) -> list[np.ndarray]:
    shapes = [(n, 1) if column else (n,) for n in sizes[:arity]]
    return [rng.standard_normal(shape) for shape in shapes]


# --------------------------------------------------------------------------------------------
# NumPy: an array type that records the shape of everything computed from it
# --------------------------------------------------------------------------------------------


class Traced(np.ndarray):
    """Every ufunc and NumPy function applied to a ``Traced`` array records the shapes of its
    results in ``Traced.shapes`` and hands back ``Traced`` arrays, so the recording follows
    the computation through the forward pass, the cache and the backward pass."""

    shapes: list[tuple] = []

    @staticmethod
    def plain(value):
        if isinstance(value, Traced):
            return value.view(np.ndarray)
        if isinstance(value, (list, tuple)):
            return type(value)(Traced.plain(v) for v in value)
        if isinstance(value, dict):
            return {k: Traced.plain(v) for k, v in value.items()}
        return value

    @staticmethod
    def traced(value):
        if isinstance(value, np.ndarray):
            Traced.shapes.append(value.shape)
            return value.view(Traced)
        if isinstance(value, tuple):
            return tuple(Traced.traced(v) for v in value)
        if isinstance(value, np.generic):
            Traced.shapes.append(())
        return value

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return Traced.traced(getattr(ufunc, method)(*Traced.plain(inputs), **Traced.plain(kwargs)))

    def __array_function__(self, func, types, args, kwargs):
        return Traced.traced(func(*Traced.plain(args), **Traced.plain(kwargs)))


@pytest.fixture
def traced_shapes():
    Traced.shapes = []
    yield Traced.shapes
    Traced.shapes = []


def test_the_numpy_tracer_sees_a_broadcast(traced_shapes):
    logits = np.zeros((N_REAL, 1)).view(Traced)
    np.mean(logits - np.ones(N_REAL))  # the classic mistake: (N, 1) - (N,) is (N, N)
    assert (N_REAL, N_REAL) in traced_shapes


@pytest.mark.parametrize("column", [False, True], ids=["flat", "column"])
@pytest.mark.parametrize(("name", "arity"), LOSSES)
def test_numpy_losses_never_broadcast_scores(traced_shapes, rng, name, arity, column):
    inputs = [s.view(Traced) for s in scores(rng, arity, column)]
    loss, cache = getattr(R, f"{name}_forward")(*inputs)
    gradients = getattr(R, f"{name}_backward")(np.array(1.0).view(Traced), cache)
    gradients = gradients if arity == 2 else (gradients,)
    assert [g.shape for g in gradients] == [s.shape for s in inputs]
    assert traced_shapes  # the tracer did see the computation
    assert max(int(np.prod(shape)) for shape in traced_shapes) <= N_REAL, traced_shapes


# --------------------------------------------------------------------------------------------
# PyTorch: a dispatch mode records every operation, autograd's backward included
# --------------------------------------------------------------------------------------------


class ShapeRecorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        leaves, _ = tree_flatten(out)
        self.shapes += [tuple(t.shape) for t in leaves if isinstance(t, torch.Tensor)]
        return out


def test_the_torch_recorder_sees_a_broadcast():
    with ShapeRecorder() as recorder:
        torch.mean(torch.zeros(N_REAL, 1) - torch.ones(N_REAL))
    assert (N_REAL, N_REAL) in recorder.shapes


@pytest.mark.parametrize("column", [False, True], ids=["flat", "column"])
@pytest.mark.parametrize(("name", "arity"), LOSSES)
def test_torch_losses_never_broadcast_scores(rng, name, arity, column):
    inputs = [torch.from_numpy(s).requires_grad_() for s in scores(rng, arity, column)]
    with ShapeRecorder() as recorder:
        loss = getattr(T, name)(*inputs)
        gradients = torch.autograd.grad(loss, inputs)
    assert [g.shape for g in gradients] == [s.shape for s in inputs]
    assert any(len(shape) > 0 for shape in recorder.shapes)  # the recorder did see it
    assert max(int(np.prod(shape)) for shape in recorder.shapes) <= N_REAL, recorder.shapes


# --------------------------------------------------------------------------------------------
# Any batch sizes, either shape: the two backends agree
# --------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    loss=st.sampled_from(LOSSES),
    n_real=st.integers(1, 6),
    n_fake=st.integers(1, 6),
    column=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_losses_agree_for_any_batch_sizes_and_shapes(loss, n_real, n_fake, column, seed):
    name, arity = loss
    rng = np.random.default_rng(seed)
    arrays = scores(rng, arity, column, sizes=(n_real, n_fake))
    value, cache = getattr(R, f"{name}_forward")(*arrays)
    gradients = getattr(R, f"{name}_backward")(1.0, cache)
    gradients = gradients if arity == 2 else (gradients,)

    tensors = [torch.from_numpy(a).requires_grad_() for a in arrays]
    value_t = getattr(T, name)(*tensors)
    gradients_t = torch.autograd.grad(value_t, tensors)
    assert rel_error(value, value_t.item()) < 1e-12
    for g, g_t in zip(gradients, gradients_t, strict=True):
        assert g.shape == g_t.shape
        assert rel_error(g, g_t.numpy()) < 1e-12
