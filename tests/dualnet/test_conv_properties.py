"""Hypothesis: the naive and fast NumPy convolution and max pooling agree with ``F.conv2d`` and
``F.max_pool2d`` (forward and gradients) for random valid shapes, strides and paddings."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import reference_numpy.conv as C
from reference_numpy.gradcheck import rel_error

pytestmark = pytest.mark.conv

CONV = {
    "naive": (C.conv_forward_naive, C.conv_backward_naive),
    "fast": (C.conv_forward_fast, C.conv_backward_fast),
}
POOL = {
    "naive": (C.max_pool_forward_naive, C.max_pool_backward_naive),
    "fast": (C.max_pool_forward_fast, C.max_pool_backward_fast),
}


@st.composite
def conv_problems(draw):
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    kh = draw(st.integers(1, h + 2 * pad))
    kw = draw(st.integers(1, w + 2 * pad))
    assume(kh <= 5 and kw <= 5)
    return (n, c, h, w), (f, c, kh, kw), stride, pad, draw(st.integers(0, 2**16))


@pytest.mark.parametrize("version", ["naive", "fast"])
@settings(max_examples=60, deadline=None)
@given(problem=conv_problems())
def test_conv_matches_torch(version, problem):
    x_shape, w_shape, stride, pad, seed = problem
    rng = np.random.default_rng(seed)
    x, w, b = (
        rng.standard_normal(x_shape),
        rng.standard_normal(w_shape),
        rng.standard_normal(w_shape[0]),
    )
    forward, backward = CONV[version]
    out, cache = forward(x, w, b, {"stride": stride, "pad": pad})

    tensors = [torch.from_numpy(a).requires_grad_() for a in (x, w, b)]
    expected = F.conv2d(*tensors, stride=stride, padding=pad)
    assert out.shape == tuple(expected.shape)
    assert rel_error(out, expected.detach().numpy()) < 1e-10
    dout = rng.standard_normal(out.shape)
    expected_grads = torch.autograd.grad(expected, tensors, torch.from_numpy(dout))
    for grad, expected_grad in zip(backward(dout, cache), expected_grads, strict=True):
        assert grad.shape == expected_grad.shape
        assert rel_error(grad, expected_grad.numpy()) < 1e-9


@st.composite
def pool_problems(draw):
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    ph, pw = draw(st.integers(1, h)), draw(st.integers(1, w))
    stride = draw(st.integers(1, 3))
    return (n, c, h, w), ph, pw, stride, draw(st.integers(0, 2**16))


@pytest.mark.parametrize("version", ["naive", "fast"])
@settings(max_examples=60, deadline=None)
@given(problem=pool_problems(), with_ties=st.booleans())
def test_max_pool_matches_torch(version, problem, with_ties):
    shape, ph, pw, stride, seed = problem
    rng = np.random.default_rng(seed)
    # with ties, both must send the gradient to the same (first) maximum
    x = rng.integers(0, 3, shape).astype(float) if with_ties else rng.standard_normal(shape)
    forward, backward = POOL[version]
    out, cache = forward(x, {"pool_height": ph, "pool_width": pw, "stride": stride})

    xt = torch.from_numpy(x).requires_grad_()
    expected = F.max_pool2d(xt, (ph, pw), stride=stride)
    assert out.shape == tuple(expected.shape)
    assert rel_error(out, expected.detach().numpy()) == 0
    dout = rng.standard_normal(out.shape)
    (expected_dx,) = torch.autograd.grad(expected, xt, torch.from_numpy(dout))
    assert rel_error(backward(dout, cache), expected_dx.numpy()) < 1e-12
