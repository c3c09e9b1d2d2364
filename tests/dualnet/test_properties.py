"""Property tests: agreement with PyTorch over random shapes, not only the registry's cases."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import reference_numpy.layers as R
import torch_impl.layers as T
from reference_numpy.gradcheck import rel_error

pytestmark = pytest.mark.layers

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), feature_shape=shapes, m=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_affine_matches_torch_for_any_shape(n, feature_shape, m, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *feature_shape))
    w = rng.standard_normal((int(np.prod(feature_shape)), m))
    b = rng.standard_normal(m)
    dout = rng.standard_normal((n, m))
    out, cache = R.affine_forward(x, w, b)
    grads = R.affine_backward(dout, cache)

    tensors = [torch.from_numpy(a).requires_grad_() for a in (x, w, b)]
    out_t = T.affine(*tensors)
    grads_t = torch.autograd.grad(out_t, tensors, torch.from_numpy(dout))
    assert rel_error(out, out_t.detach().numpy()) < 1e-10
    for g, g_t in zip(grads, grads_t, strict=True):
        assert g.shape == g_t.shape
        assert rel_error(g, g_t.numpy()) < 1e-9


@settings(max_examples=40, deadline=None)
@given(
    shape=shapes,
    p=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
    alpha=st.floats(0.0, 0.5),
)
def test_elementwise_layers_match_torch_for_any_shape(shape, p, seed, alpha):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    dout = rng.standard_normal(shape)
    xt = torch.from_numpy(x).requires_grad_()

    out, cache = R.leaky_relu_forward(x, alpha)
    out_t = T.leaky_relu(xt, alpha)
    (dx_t,) = torch.autograd.grad(out_t, xt, torch.from_numpy(dout))
    assert rel_error(out, out_t.detach().numpy()) == 0
    assert rel_error(R.leaky_relu_backward(dout, cache), dx_t.numpy()) == 0

    param = {"p": p, "mode": "train", "seed": seed}
    out, cache = R.dropout_forward(x, param)
    mask = torch.from_numpy(R.dropout_mask(x.shape, p, seed))
    out_t = T.dropout(xt, param, mask=mask)
    (dx_t,) = torch.autograd.grad(out_t, xt, torch.from_numpy(dout))
    assert rel_error(out, out_t.detach().numpy()) < 1e-15
    assert rel_error(R.dropout_backward(dout, cache), dx_t.numpy()) < 1e-15
