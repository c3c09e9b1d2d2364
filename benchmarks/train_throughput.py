"""Training throughput (images per second) of our ResNets and of torchvision's ``resnet18``, on
the same CIFAR-shaped synthetic batches with the same settings, in one run.

    python benchmarks/train_throughput.py [--device cpu|cuda|all] [--batch-size 128] [--steps N]

A step is what ``dualnet classify train`` does: forward, cross-entropy, backward and an SGD
(momentum, weight decay) update; on CUDA under bf16 autocast with channels-last tensors, as the
trainer runs. The first steps (warm-up) are not timed. The last column is each model's
throughput relative to torchvision's ``resnet18`` on the same device.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table  # noqa: E402

from dualnet.apps.runtime import autocast  # noqa: E402
from torch_impl.models.resnet import resnet  # noqa: E402

OURS = ("resnet-preact20", "resnet-preact56", "resnet18")


def build(name: str) -> torch.nn.Module:
    if name == "torchvision resnet18":
        return torchvision.models.resnet18(num_classes=10)
    return resnet(name)


def images_per_second(
    name: str, device: torch.device, batch_size: int, steps: int, warmup: int
) -> float:
    return measure(name, device, batch_size, steps, warmup)["images_per_second"]


def measure(
    name: str,
    device: torch.device,
    batch_size: int,
    steps: int,
    warmup: int,
    compiled: bool = False,
    compile_backend: str = "inductor",
) -> dict:
    """Train ``name`` on one synthetic batch: ``images_per_second`` over ``steps`` timed steps
    after ``warmup`` untimed ones, and ``first_step_seconds`` (with ``compiled``, the step that
    compiles the model through ``torch.compile(backend=compile_backend)``)."""
    torch.manual_seed(0)
    model = build(name).to(device)
    x = torch.randn(batch_size, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch_size,), device=device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    forward = model
    if compiled:
        torch._dynamo.reset()  # each model compiles from scratch, as in its own run
        forward = torch.compile(model, backend=compile_backend)

    def step():
        with autocast(device):
            scores = forward(x)
        loss = F.cross_entropy(scores.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    start = time.perf_counter()
    step()
    synchronize()
    first_step = time.perf_counter() - start
    for _ in range(max(0, warmup - 1)):
        step()
    synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize()
    return {
        "images_per_second": steps * batch_size / (time.perf_counter() - start),
        "first_step_seconds": first_step,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="all", choices=("all", "cpu", "cuda"))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, help="timed steps (default: 10 on CPU, 50 on CUDA)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    devices = []
    if args.device in ("all", "cpu"):
        devices.append(torch.device("cpu"))
    if args.device in ("all", "cuda"):
        if torch.cuda.is_available():
            devices.append(torch.device("cuda"))
        elif args.device == "cuda":
            parser.error("--device cuda: no GPU is available")
    rows, results = [], []
    for device in devices:
        steps = args.steps or (10 if device.type == "cpu" else 50)
        warmup = 2 if device.type == "cpu" else 10
        reference = images_per_second(
            "torchvision resnet18", device, args.batch_size, steps, warmup
        )
        measured = [("torchvision resnet18", reference)]
        measured += [
            (name, images_per_second(name, device, args.batch_size, steps, warmup)) for name in OURS
        ]
        label = (
            torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else f"cpu, {torch.get_num_threads()} threads"
        )
        for name, rate in measured:
            rows.append([label, name, f"{rate:.0f}", f"{rate / reference:.2f}"])
            results.append(
                {
                    "device": label,
                    "model": name,
                    "images_per_second": rate,
                    "relative_to_torchvision_resnet18": rate / reference,
                    "batch_size": args.batch_size,
                    "steps": steps,
                }
            )
    print(f"training throughput, batch {args.batch_size}, 32x32 inputs, SGD with momentum")
    print_table(["device", "model", "images/s", "vs torchvision resnet18"], rows)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
