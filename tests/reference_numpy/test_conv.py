"""Convolution and max pooling in NumPy: hand calculations, naive vs fast, and bad configurations.

Agreement with ``F.conv2d``/``F.max_pool2d`` over random shapes is in
``tests/dualnet/test_conv_properties.py``; finite differences in the registry-driven tests.
"""

import numpy as np
import pytest

import reference_numpy.conv as C

pytestmark = pytest.mark.conv

CONV_PAIRS = [
    (C.conv_forward_naive, C.conv_backward_naive),
    (C.conv_forward_fast, C.conv_backward_fast),
]
POOL_PAIRS = [
    (C.max_pool_forward_naive, C.max_pool_backward_naive),
    (C.max_pool_forward_fast, C.max_pool_backward_fast),
]


@pytest.mark.parametrize(("forward", "backward"), CONV_PAIRS)
def test_conv_by_hand(forward, backward):
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1 2 3] [4 5 6] [7 8 9]]
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])  # top-left minus bottom-right
    b = np.array([0.5])
    out, cache = forward(x, w, b, {"stride": 1, "pad": 0})
    np.testing.assert_allclose(out, [[[[1 - 5 + 0.5, 2 - 6 + 0.5], [4 - 8 + 0.5, 5 - 9 + 0.5]]]])

    dx, dw, db = backward(np.ones((1, 1, 2, 2)), cache)
    # every output adds w to its 2x2 field: the corners get +1 / -1, the middle cancels
    np.testing.assert_allclose(dx[0, 0], [[1, 1, 0], [1, 0, -1], [0, -1, -1]])
    # dw[k, l] sums the inputs that met tap (k, l): the four 2x2 corner blocks of x
    np.testing.assert_allclose(
        dw[0, 0], [[1 + 2 + 4 + 5, 2 + 3 + 5 + 6], [4 + 5 + 7 + 8, 5 + 6 + 8 + 9]]
    )
    np.testing.assert_allclose(db, [4.0])


@pytest.mark.parametrize(("forward", "backward"), CONV_PAIRS)
def test_conv_padding_and_stride_by_hand(forward, backward):
    x = np.ones((1, 1, 2, 2))
    w = np.ones((1, 1, 3, 3))
    out, _ = forward(x, w, np.zeros(1), {"stride": 1, "pad": 1})
    np.testing.assert_allclose(out[0, 0], np.full((2, 2), 4.0))  # every 3x3 field covers all 4 ones
    out, _ = forward(np.ones((1, 1, 5, 5)), w, np.zeros(1), {"stride": 2, "pad": 0})
    assert out.shape == (1, 1, 2, 2)


@pytest.mark.parametrize(("forward", "backward"), CONV_PAIRS)
def test_conv_output_size_floors_and_unused_pixels_get_no_gradient(forward, backward):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 6, 7))
    w = rng.standard_normal((3, 2, 3, 3))
    out, cache = forward(x, w, np.zeros(3), {"stride": 2, "pad": 0})
    assert out.shape == (1, 3, 2, 3)  # 1 + (6 - 3) // 2 = 2 rows, 1 + (7 - 3) // 2 = 3 columns
    dx, _, _ = backward(np.ones_like(out), cache)
    assert np.all(dx[:, :, 5, :] == 0)  # the last row is never inside a window
    assert np.any(dx[:, :, :, 6] != 0)  # the last column is


def test_naive_and_fast_agree_on_rectangular_everything():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 9, 7))
    w = rng.standard_normal((4, 2, 4, 2))
    b = rng.standard_normal(4)
    param = {"stride": 3, "pad": 2}
    out_naive, cache_naive = C.conv_forward_naive(x, w, b, param)
    out_fast, cache_fast = C.conv_forward_fast(x, w, b, param)
    np.testing.assert_allclose(out_fast, out_naive, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out_naive.shape)
    naive_grads = C.conv_backward_naive(dout, cache_naive)
    for g_naive, g_fast in zip(naive_grads, C.conv_backward_fast(dout, cache_fast), strict=True):
        np.testing.assert_allclose(g_fast, g_naive, rtol=1e-12, atol=1e-12)


# 3 images of 2 x 3 x 3 fields at 6 x 6 positions: 648 unfolded entries each
@pytest.mark.parametrize("entries", [1, 2 * 648], ids=["one image a block", "2 + 1 images"])
def test_fast_conv_is_independent_of_the_block_size(monkeypatch, entries):
    rng = np.random.default_rng(2)
    x, w, b = (
        rng.standard_normal((3, 2, 6, 6)),
        rng.standard_normal((2, 2, 3, 3)),
        rng.standard_normal(2),
    )
    param = {"stride": 1, "pad": 1}
    out, cache = C.conv_forward_fast(x, w, b, param)  # one block
    dout = rng.standard_normal(out.shape)
    grads = C.conv_backward_fast(dout, cache)
    monkeypatch.setattr(C, "BLOCK_ENTRIES", entries)
    out_small, cache_small = C.conv_forward_fast(x, w, b, param)
    np.testing.assert_allclose(out_small, out, rtol=1e-13, atol=1e-13)
    for g_small, g in zip(C.conv_backward_fast(dout, cache_small), grads, strict=True):
        np.testing.assert_allclose(g_small, g, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("forward", [C.conv_forward_naive, C.conv_forward_fast])
class TestConvErrors:
    def setup_method(self):
        self.x = np.zeros((2, 3, 5, 5))
        self.w = np.zeros((4, 3, 3, 3))
        self.b = np.zeros(4)

    def test_stride_zero(self, forward):
        with pytest.raises(ValueError, match=r"conv_param\['stride'\] must be at least 1, got 0"):
            forward(self.x, self.w, self.b, {"stride": 0, "pad": 1})

    def test_negative_padding(self, forward):
        with pytest.raises(ValueError, match=r"conv_param\['pad'\] must be at least 0, got -1"):
            forward(self.x, self.w, self.b, {"stride": 1, "pad": -1})

    def test_non_integer_stride(self, forward):
        with pytest.raises(ValueError, match=r"conv_param\['stride'\] must be an integer, got 1.5"):
            forward(self.x, self.w, self.b, {"stride": 1.5, "pad": 1})

    def test_missing_key(self, forward):
        with pytest.raises(ValueError, match=r"conv_param needs 'pad'"):
            forward(self.x, self.w, self.b, {"stride": 1})

    def test_window_larger_than_padded_input(self, forward):
        with pytest.raises(
            ValueError, match=r"the window is 7 rows but the padded input is only 5 rows"
        ):
            forward(self.x, np.zeros((4, 3, 7, 3)), self.b, {"stride": 1, "pad": 0})

    def test_channel_mismatch(self, forward):
        with pytest.raises(
            ValueError,
            match=r"w has shape \(4, 2, 3, 3\), whose 2 input channels do not match the 3 "
            r"channels of x",
        ):
            forward(self.x, np.zeros((4, 2, 3, 3)), self.b, {"stride": 1, "pad": 1})

    def test_bias_of_the_wrong_length(self, forward):
        with pytest.raises(
            ValueError, match=r"b has shape \(3,\), expected \(4,\) \(one bias per filter"
        ):
            forward(self.x, self.w, np.zeros(3), {"stride": 1, "pad": 1})

    def test_images_of_the_wrong_rank(self, forward):
        with pytest.raises(
            ValueError, match=r"x has shape \(3, 5, 5\), expected 4 dimensions \(N, C, H, W\)"
        ):
            forward(np.zeros((3, 5, 5)), self.w, self.b, {"stride": 1, "pad": 1})


@pytest.mark.parametrize("backward_pair", CONV_PAIRS)
def test_conv_backward_rejects_a_mismatched_upstream_gradient(backward_pair):
    forward, backward = backward_pair
    _, cache = forward(
        np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(4), {"stride": 1, "pad": 1}
    )
    with pytest.raises(ValueError, match=r"dout has shape \(2, 4, 3, 3\), expected \(2, 4, 5, 5\)"):
        backward(np.zeros((2, 4, 3, 3)), cache)


@pytest.mark.parametrize(("forward", "backward"), POOL_PAIRS)
def test_max_pool_by_hand(forward, backward):
    x = np.array(
        [[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 1.0], [0.0, 2.0, 1.0, 1.0], [9.0, 1.0, 3.0, 2.0]]]]
    )
    out, cache = forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    np.testing.assert_array_equal(out, [[[[5.0, 8.0], [9.0, 3.0]]]])
    dx = backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, 0, 1], expected[0, 0, 1, 2], expected[0, 0, 3, 0], expected[0, 0, 3, 2] = (
        1,
        2,
        3,
        4,
    )
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize(("forward", "backward"), POOL_PAIRS)
def test_max_pool_ties_go_to_the_first_maximum_and_overlaps_add(forward, backward):
    x = np.ones((1, 1, 2, 3))  # every entry ties
    out, cache = forward(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    np.testing.assert_array_equal(out, [[[[1.0, 1.0]]]])
    dx = backward(np.array([[[[10.0, 20.0]]]]), cache)
    # window 0 covers columns 0-1, window 1 columns 1-2: each routes to its top-left entry
    np.testing.assert_array_equal(dx, [[[[10.0, 20.0, 0.0], [0.0, 0.0, 0.0]]]])

    x = np.array([[[[0.0, 3.0, 0.0]]]])  # overlapping windows share their maximum
    out, cache = forward(x, {"pool_height": 1, "pool_width": 2, "stride": 1})
    np.testing.assert_array_equal(
        backward(np.array([[[[1.0, 2.0]]]]), cache), [[[[0.0, 3.0, 0.0]]]]
    )


@pytest.mark.parametrize(("forward", "backward"), POOL_PAIRS)
def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order(forward, backward):
    # the maxima at (0, 1) and (1, 0) tie: row-major order picks (0, 1), the first of row 0;
    # column-major order would pick (1, 0), the first of column 0. A 3x3 window whose maxima
    # lie at (1, 2) and (2, 0) picks (1, 2), though column 0 comes before column 2
    x = np.array([[[[0.0, 5.0], [5.0, 0.0]]]])
    _, cache = forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    np.testing.assert_array_equal(backward(np.array([[[[7.0]]]]), cache), [[[[0, 7], [0, 0]]]])
    x = np.array([[[[1.0, 0.0, 2.0], [0.0, 1.0, 9.0], [9.0, 3.0, 0.0]]]])
    _, cache = forward(x, {"pool_height": 3, "pool_width": 3, "stride": 1})
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 2] = 4.0
    np.testing.assert_array_equal(backward(np.array([[[[4.0]]]]), cache), expected)


@pytest.mark.parametrize("entries", [1, 2 * 2 * 7 * 6], ids=["one image a block", "2 + 1 images"])
def test_fast_max_pool_is_independent_of_the_block_size(monkeypatch, entries):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, (3, 2, 7, 6)).astype(float)  # ties in most windows
    param = {"pool_height": 2, "pool_width": 3, "stride": 2}
    out, cache = C.max_pool_forward_fast(x, param)  # one block
    dout = rng.standard_normal(out.shape)
    dx = C.max_pool_backward_fast(dout, cache)
    monkeypatch.setattr(C, "POOL_BLOCK_ENTRIES", entries)
    out_small, cache_small = C.max_pool_forward_fast(x, param)
    np.testing.assert_array_equal(out_small, out)
    np.testing.assert_array_equal(C.max_pool_backward_fast(dout, cache_small), dx)


@pytest.mark.parametrize("forward", [C.max_pool_forward_naive, C.max_pool_forward_fast])
def test_max_pool_errors(forward):
    x = np.zeros((1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"pool_param\['stride'\] must be at least 1, got 0"):
        forward(x, {"pool_height": 2, "pool_width": 2, "stride": 0})
    with pytest.raises(
        ValueError, match=r"the window is 5 columns but the padded input is only 4 columns"
    ):
        forward(x, {"pool_height": 2, "pool_width": 5, "stride": 1})
    with pytest.raises(ValueError, match=r"pool_param needs 'pool_width'"):
        forward(x, {"pool_height": 2, "stride": 1})


@pytest.mark.parametrize(("channels", "filters", "route"), [(4, 3, "dout"), (3, 4, "x")])
def test_the_stride_1_backward_unfolds_the_smaller_of_dout_and_x(
    monkeypatch, channels, filters, route
):
    # dout unfolds into F HH WW rows per pixel, x into C HH WW: the backward takes the smaller
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, channels, 5, 6))
    w = rng.standard_normal((filters, channels, 3, 3))
    param = {"stride": 1, "pad": 1}
    out, cache = C.conv_forward_fast(x, w, np.zeros(filters), param)
    dout = rng.standard_normal(out.shape)
    expected = C.conv_backward_naive(dout, C.conv_forward_naive(x, w, np.zeros(filters), param)[1])
    taken = []

    def recording(name):
        original = getattr(C, f"_backward_unfolding_{name}")

        def route_taken(*args):
            taken.append(name)
            return original(*args)

        return route_taken

    for name in ("dout", "x"):
        monkeypatch.setattr(C, f"_backward_unfolding_{name}", recording(name))
    grads = C.conv_backward_fast(dout, cache)
    assert taken == [route]
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
