"""The fast NumPy convolution and max pooling against PyTorch on the CPU, and against the naive
loops. Every figure is a ratio of two timings taken in this one run.

    python benchmarks/conv.py [--repeats 7] [--threads N] [--settle 0.3] [--json results.json]

Rows:

* ``numpy/torch``: forward + backward of the fast NumPy version vs PyTorch (``F.conv2d`` /
  ``F.max_pool2d`` with autograd), same shapes, dtype and thread count. The ratio is NumPy's
  throughput over PyTorch's: 1.0 means as fast. Targets: convolution 1.2 in float64 and 0.8
  in float32, max pooling 1.0 in both. Before each timed call the function runs untimed
  for a moment (``--settle``): OpenBLAS's threads spin for a while after each NumPy call and
  would otherwise slow down the PyTorch call timed right after it.
* ``fast/naive``: forward + backward of the fast vs the naive NumPy version on a small shape.
  Target: 100.
* peak extra memory of the fast convolution's forward + backward (tracemalloc), beside the
  size of its input.

It also prints what ran: NumPy's BLAS, its kernel (``architecture``) and thread count as
threadpoolctl reports them, PyTorch's thread count, ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE`` (either can pin OpenBLAS to another kernel; the script leaves them as it
finds them), and the load average before and after: the machine is shared, so a ratio is only
as good as the quiet it was taken in.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tracemalloc
from pathlib import Path

# the thread count must be fixed before NumPy's BLAS starts
parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--repeats", type=int, default=7, help="timing rounds, best kept (default 7)")
parser.add_argument(
    "--threads", type=int, default=os.cpu_count(), help="threads for both (default: all)"
)
parser.add_argument(
    "--settle",
    type=float,
    default=0.3,
    help="seconds each function runs untimed before each timed call, so that each library "
    "is timed alone (default 0.3; 0 alternates back to back, as before)",
)
parser.add_argument("--json", type=Path, help="also write the results to this file")
ARGS = parser.parse_args()
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

# the benchmarks folder (for common.py) and, before any installed copy, the checkout around it
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from common import best_times_interleaved, print_table  # noqa: E402

import reference_numpy.conv as C  # noqa: E402

torch.set_num_threads(ARGS.threads)

CONV_SHAPE = {"x": (64, 64, 32, 32), "w": (64, 64, 3, 3), "conv_param": {"stride": 1, "pad": 1}}
POOL_SHAPE = {"x": (64, 64, 32, 32), "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}
SMALL_CONV = {"x": (4, 3, 16, 16), "w": (8, 3, 3, 3), "conv_param": {"stride": 1, "pad": 1}}
SMALL_POOL = {"x": (4, 8, 32, 32), "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}
TARGETS = {  # NumPy's throughput over PyTorch's, by layer and dtype
    ("conv", "float64"): 1.2,
    ("conv", "float32"): 0.8,
    ("max_pool", "float64"): 1.0,
    ("max_pool", "float32"): 1.0,
}
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def numpy_blas() -> dict:
    """NumPy's BLAS as threadpoolctl sees it: library, version, kernel, threads."""
    for pool in threadpool_info():
        if pool["user_api"] == "blas" and "numpy" in pool["filepath"]:
            return {
                key: pool.get(key)
                for key in ("internal_api", "version", "architecture", "num_threads", "filepath")
            }
    return {}


def describe_machine() -> dict:
    blas = numpy_blas()
    return {
        "numpy": np.__version__,
        "torch": torch.__version__,
        "numpy_blas": blas,
        "torch_threads": torch.get_num_threads(),
        "torch_blas": "MKL" if torch.backends.mkl.is_available() else "other",
        "torch_mkldnn": torch.backends.mkldnn.is_available(),
        "environment": {name: os.environ.get(name) for name in OPENBLAS_VARIABLES},
        "cpus": os.cpu_count(),
    }


def conv_runs(shape: dict, dtype, rng: np.random.Generator):
    x = rng.standard_normal(shape["x"]).astype(dtype)
    w = (rng.standard_normal(shape["w"]) * 0.1).astype(dtype)
    b = rng.standard_normal(shape["w"][0]).astype(dtype)
    param = shape["conv_param"]
    out, _ = C.conv_forward_fast(x, w, b, param)
    dout = rng.standard_normal(out.shape).astype(dtype)

    def numpy_pair(forward, backward):
        def run():
            _, cache = forward(x, w, b, param)
            return backward(dout, cache)

        return run

    tensors = [torch.from_numpy(a).requires_grad_() for a in (x, w, b)]
    dout_t = torch.from_numpy(dout)

    def torch_run():
        out_t = F.conv2d(*tensors, stride=param["stride"], padding=param["pad"])
        return torch.autograd.grad(out_t, tensors, dout_t)

    return {
        "fast": numpy_pair(C.conv_forward_fast, C.conv_backward_fast),
        "naive": numpy_pair(C.conv_forward_naive, C.conv_backward_naive),
        "torch": torch_run,
        "input_bytes": x.nbytes,
    }


def pool_runs(shape: dict, dtype, rng: np.random.Generator):
    x = rng.standard_normal(shape["x"]).astype(dtype)
    param = shape["pool_param"]
    out, _ = C.max_pool_forward_fast(x, param)
    dout = rng.standard_normal(out.shape).astype(dtype)

    def numpy_pair(forward, backward):
        def run():
            _, cache = forward(x, param)
            return backward(dout, cache)

        return run

    xt = torch.from_numpy(x).requires_grad_()
    dout_t = torch.from_numpy(dout)

    def torch_run():
        out_t = F.max_pool2d(
            xt, (param["pool_height"], param["pool_width"]), stride=param["stride"]
        )
        return torch.autograd.grad(out_t, xt, dout_t)

    return {
        "fast": numpy_pair(C.max_pool_forward_fast, C.max_pool_backward_fast),
        "naive": numpy_pair(C.max_pool_forward_naive, C.max_pool_backward_naive),
        "torch": torch_run,
        "input_bytes": x.nbytes,
    }


def peak_extra_bytes(run) -> int:
    """Peak memory NumPy allocates during ``run()`` beyond what was allocated before it."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def describe(shape: dict) -> str:
    x = "x".join(str(s) for s in shape["x"])
    if "w" in shape:
        f, _, kh, kw = shape["w"]
        param = shape["conv_param"]
        return f"{x}, {f} filters {kh}x{kw}, stride {param['stride']}, pad {param['pad']}"
    param = shape["pool_param"]
    return f"{x}, {param['pool_height']}x{param['pool_width']} stride {param['stride']}"


def main() -> None:
    rng = np.random.default_rng(0)
    rows, results = [], []

    def record(name, shape, dtype, reference, contender, target, what, repeats=ARGS.repeats):
        t_ref, t_new = best_times_interleaved(
            [reference, contender], repeats=repeats, settle=ARGS.settle
        )
        ratio = t_ref / t_new
        rows.append(
            [
                name,
                describe(shape),
                np.dtype(dtype).name,
                what,
                f"{t_new * 1e3:.1f}",
                f"{t_ref * 1e3:.1f}",
                f"{ratio:.2f}",
                f"{target:g}",
                "yes" if ratio >= target else "no",
            ]
        )
        results.append(
            {
                "benchmark": name,
                "shape": describe(shape),
                "dtype": np.dtype(dtype).name,
                "comparison": what,
                "seconds": t_new,
                "reference_seconds": t_ref,
                "ratio": ratio,
                "target": target,
            }
        )

    machine = describe_machine()
    load_before = os.getloadavg()
    memory = []
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        runs = conv_runs(CONV_SHAPE, dtype, rng)
        target = TARGETS["conv", name]
        record("conv", CONV_SHAPE, dtype, runs["torch"], runs["fast"], target, "numpy/torch")
        extra = peak_extra_bytes(runs["fast"])
        memory.append(
            [
                np.dtype(dtype).name,
                f"{runs['input_bytes'] / 2**20:.0f}",
                f"{extra / 2**20:.0f}",
                f"{extra / runs['input_bytes']:.1f}",
            ]
        )
        results.append(
            {
                "benchmark": "conv memory",
                "dtype": np.dtype(dtype).name,
                "input_bytes": runs["input_bytes"],
                "peak_extra_bytes": extra,
            }
        )
        pool = pool_runs(POOL_SHAPE, dtype, rng)
        record(
            "max_pool",
            POOL_SHAPE,
            dtype,
            pool["torch"],
            pool["fast"],
            TARGETS["max_pool", name],
            "numpy/torch",
            repeats=3 * ARGS.repeats,
        )

    small = conv_runs(SMALL_CONV, np.float64, rng)
    record("conv", SMALL_CONV, np.float64, small["naive"], small["fast"], 100, "fast/naive")
    small_pool = pool_runs(SMALL_POOL, np.float64, rng)
    record(
        "max_pool",
        SMALL_POOL,
        np.float64,
        small_pool["naive"],
        small_pool["fast"],
        100,
        "fast/naive",
    )

    load_after = os.getloadavg()
    blas = machine["numpy_blas"]
    print(
        f"forward + backward on the CPU, {ARGS.threads} threads for NumPy's BLAS and for torch, "
        f"best of {ARGS.repeats}, each timed call after {ARGS.settle:g} s of untimed calls; "
        "ratio = throughput of the first over the second"
    )
    print(
        f"NumPy {machine['numpy']}: {blas.get('internal_api')} {blas.get('version')}, "
        f"kernel {blas.get('architecture')}, {blas.get('num_threads')} threads; "
        f"torch {machine['torch']}: {machine['torch_threads']} threads, "
        f"{machine['torch_blas']}, oneDNN {'on' if machine['torch_mkldnn'] else 'off'}"
    )
    print(
        ", ".join(
            f"{k}={v if v is not None else '(unset)'}" for k, v in machine["environment"].items()
        )
        + "; load average (1, 5, 15 min) "
        + " -> ".join(" ".join(f"{x:.2f}" for x in load) for load in (load_before, load_after))
    )
    print_table(
        ["layer", "shape", "dtype", "comparison", "ms", "reference ms", "ratio", "target", "met"],
        rows,
    )
    print()
    print("peak extra memory of the fast convolution (forward + backward, tracemalloc)")
    print_table(["dtype", "input MiB", "peak extra MiB", "x input"], memory)
    if ARGS.json:
        machine["load_average"] = {"before": load_before, "after": load_after}
        machine["repeats"], machine["settle_seconds"] = ARGS.repeats, ARGS.settle
        ARGS.json.write_text(json.dumps({"machine": machine, "results": results}, indent=2))


if __name__ == "__main__":
    main()
