"""NumPy reference vs PyTorch on the CPU: forward + backward of the fully connected components.

Same shapes, same dtype, in one run. The ratio is NumPy's throughput divided by PyTorch's:
1.0 means as fast, 0.5 means half as fast.

    python benchmarks/layers.py [--settle 0.3]

Each timed call follows ``--settle`` seconds of untimed calls of the same function, so that
each library is timed alone (see ``common.best_times_interleaved``): OpenBLAS's threads keep
spinning for a while after each NumPy call and slow down a PyTorch call timed right after it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_times_interleaved, print_table  # noqa: E402

import reference_numpy.layers as R  # noqa: E402
import reference_numpy.losses as RL  # noqa: E402
import torch_impl.layers as T  # noqa: E402
import torch_impl.losses as TL  # noqa: E402

N, D, M, C = 256, 3072, 512, 10


def numpy_affine_relu(x, w, b, dout):
    def run():
        h, affine_cache = R.affine_forward(x, w, b)
        out, relu_cache = R.relu_forward(h)
        dh = R.relu_backward(dout, relu_cache)
        return R.affine_backward(dh, affine_cache)

    return run


def torch_affine_relu(x, w, b, dout):
    def run():
        out = T.relu(T.affine(x, w, b))
        return torch.autograd.grad(out, (x, w, b), dout)

    return run


def numpy_softmax(scores, y):
    return lambda: RL.softmax_loss(scores, y)


def torch_softmax(scores, y):
    def run():
        return torch.autograd.grad(TL.softmax_loss(scores, y), scores)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--settle", type=float, default=0.3,
        help="seconds of untimed calls before each timed call (default 0.3; 0: back to back)",
    )  # fmt: skip
    settle = parser.parse_args().settle
    rng = np.random.default_rng(0)
    rows = []
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((N, D)).astype(dtype)
        w = (rng.standard_normal((D, M)) * 0.01).astype(dtype)
        b = rng.standard_normal(M).astype(dtype)
        dout = rng.standard_normal((N, M)).astype(dtype)
        scores = rng.standard_normal((N, C)).astype(dtype)
        y = rng.integers(0, C, size=N)

        tensors = [torch.from_numpy(a).requires_grad_() for a in (x, w, b)]
        cases = [
            (
                f"affine+relu {N}x{D} -> {M}",
                numpy_affine_relu(x, w, b, dout),
                torch_affine_relu(*tensors, torch.from_numpy(dout)),
            ),
            (
                f"softmax_loss {N}x{C}",
                numpy_softmax(scores, y),
                torch_softmax(torch.from_numpy(scores).requires_grad_(), torch.from_numpy(y)),
            ),
        ]
        for name, numpy_run, torch_run in cases:
            t_numpy, t_torch = best_times_interleaved([numpy_run, torch_run], settle=settle)
            rows.append(
                [
                    name,
                    np.dtype(dtype).name,
                    f"{t_numpy * 1e3:.2f}",
                    f"{t_torch * 1e3:.2f}",
                    f"{t_torch / t_numpy:.2f}",
                ]
            )
    print(f"forward + backward, CPU, torch threads: {torch.get_num_threads()}, settle {settle:g} s")
    print_table(["component", "dtype", "numpy ms", "torch ms", "numpy/torch throughput"], rows)


if __name__ == "__main__":
    main()
