"""The GPU suite: one prepared run that proves the PyTorch backend on a GPU and records what it
measured, in under 8 minutes on one modern GPU.

    python benchmarks/gpu_suite.py                        # on CUDA (what `make gpu` runs)
    python benchmarks/gpu_suite.py --device cpu --quick   # every item for a few seconds (CI)
    python benchmarks/gpu_suite.py --prepare-only         # build the helper networks first
    python benchmarks/gpu_suite.py --only throughput      # one item again

It writes ``benchmarks/results/gpu-<device name>.json`` (``-quick`` added for a ``--quick``
run; ``--only`` replaces those items in it, ``--prepare-only`` writes none) and prints a table:
each item's status, time against its budget, peak GPU memory and headline figures. The
items, in order, with their budgets on an H200-class GPU:

=================  ======  ===================================================================
item               budget  what it runs
=================  ======  ===================================================================
check              15 s    ``dualnet check --device cuda``: every component's PyTorch side on
                           the GPU against NumPy, the float32 rows with PyTorch's TF32 defaults
                           and with TF32 off; a float64 disagreement fails the item
prepare            (once)  the embedded data and the helper networks that the applications
                           compute on the CPU on first use and cache (the caption scenes
                           and their EfficientNet-Lite0 features, the GAN scorer); seconds
                           when cached
cuda-tests         100 s   ``pytest -m cuda``: bf16 autocast, channels-last, torch.compile and
                           every application with ``--device cuda``, each against the CPU
throughput         150 s   training images/s of torchvision's ``resnet18`` and our ResNets,
                           same batches and settings, eager then compiled
classify-93        60 s    ``dualnet classify train --model resnet-preact20 --epochs 8``, the
                           recipe that reaches 93 % test accuracy on the embedded data
visualize-fool     20 s    ``dualnet visualize fool`` with its defaults (EfficientNet-Lite0)
style-transfer     35 s    ``dualnet style transfer --image-size 512`` (EfficientNet-Lite0)
caption-attention  50 s    ``dualnet caption train --cell attention``, then ``caption eval``
gan-dc-ls          40 s    ``dualnet gan train --model dc --loss ls``, then ``gan eval``
=================  ======  ===================================================================

Budgets add up to 7 min 50 s. ``prepare`` is not in them: it is CPU work the applications do
once per data cache (``DUALNET_CACHE``, or ``--cache DIR``), minutes on a fresh machine and
seconds afterwards; ``--prepare-only`` does it ahead of time on any machine. An item that
runs over twice its budget (plus a minute) is stopped and recorded as timed out.

**Why subprocesses.** Each item runs in a child process of this script (``--child ITEM``),
which calls the application through its public command line, ``dualnet.cli.main``, in that
process, measures ``torch.cuda.max_memory_allocated`` (reset at the start, and before each
throughput row) and writes its figures to a JSON file for the parent. A fresh process per item
isolates what one item leaves behind from the next: the CUDA caching allocator's pool (so the
peaks do not include an earlier item's tensors), ``torch.compile``'s caches and global flags
such as ``torch.set_deterministic_debug_mode``; and a crash, hang or out-of-memory error ends
one item, not the suite. The price, about two seconds per item for starting Python and CUDA,
is counted in each item's time. A dependency between items goes through files only: the
quick ``visualize-fool`` looks into the network the quick ``classify-93`` trained.

With ``--quick`` every item shrinks to a few steps on tiny subsets so that the test suite runs
it on the CPU; the figures then mean nothing, but every code path of the full run is taken
(``torch.compile`` with the ``aot_eager`` backend instead of inductor, the quick
``visualize-fool`` on the network the quick ``classify-93`` trained, the quick
``style-transfer`` at 64 pixels).
``style-transfer`` is recorded as *not available* in a checkout without ``dualnet style``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"
MIB = 2**20
sys.path.insert(0, str(BENCHMARKS))


@dataclass(frozen=True)
class Context:
    """How this run of the suite was asked for: ``device`` is ``cuda`` or ``cpu``; ``work``
    is this run's folder, which holds every run directory, log and item report."""

    device: str
    quick: bool
    work: Path

    def out(self, name: str) -> str:
        return str(self.work / name)


class ItemFailed(Exception):
    """An item could not do its work; the message says which command failed and how."""


# --------------------------------------------------------------------------------------------
# Running a dualnet command inside an item (in the child process)
# --------------------------------------------------------------------------------------------


def out_dir_of(argv: list[str]) -> Path:
    """The folder given with ``--out`` (every command of the suite names one)."""
    return Path(argv[argv.index("--out") + 1])


def dualnet(argv: list[str]) -> dict:
    """Run ``dualnet ARGV`` through the command line's entry point, in this process; return
    the ``summary.json`` it wrote to its ``--out`` folder."""
    from dualnet import cli

    print(f"$ dualnet {' '.join(argv)}", flush=True)
    try:
        status = cli.main(argv)
    except SystemExit as exit_:  # a usage error: argparse exits
        status = exit_.code
    if status != 0:
        raise ItemFailed(f"`dualnet {' '.join(argv)}` exited with status {status}")
    return json.loads((out_dir_of(argv) / "summary.json").read_text())


def subcommands(parser: argparse.ArgumentParser | None) -> dict:
    """The subcommands of ``parser`` by name (none for ``None``)."""
    for action in parser._actions if parser else []:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def style_transfer_parser() -> argparse.ArgumentParser | None:
    """The parser of ``dualnet style transfer``, or ``None`` in a checkout without it."""
    from dualnet import cli

    return subcommands(subcommands(cli.build_parser()).get("style")).get("transfer")


# --------------------------------------------------------------------------------------------
# The items. Each returns {"headline": {...}, "details": {...}} and may set "status" and "note"
# --------------------------------------------------------------------------------------------


def run_prepare(ctx: Context) -> dict:
    """Build (or find) what the applications build on the CPU on first use."""
    from dualnet.data import data_root, load_images

    built = {}

    def timed(name: str, cached: bool | None, build: Callable[[], object]) -> None:
        """Build ``name``; note whether it was cached (``None``: unknown) and the time."""
        start = time.perf_counter()
        build()
        seconds = f"{time.perf_counter() - start:.0f} s"
        built[name] = {True: "cached", False: f"built in {seconds}", None: seconds}[cached]

    timed("embedded images, 32 px", None, lambda: load_images("embedded", image_size=32))
    if ctx.quick:
        write_tiny_coco_pt(ctx.work / "coco.pt")
    else:
        from dualnet.apps.caption import config as caption_config
        from dualnet.apps.caption.train import prepare

        caption = caption_config.make_config(cell="attention", progress=False)
        timed("caption scenes and their Lite0 features", None, lambda: prepare(caption))
    from dualnet.apps.gan import load_digits, load_scorer
    from dualnet.apps.gan.scorer import scorer_path

    digits = load_digits("embedded")
    cached = scorer_path(data_root(), digits).is_file()
    timed("GAN scorer", cached, lambda: load_scorer(digits, data_root()))
    return {"headline": {"cache": str(data_root())}, "details": built}


def write_tiny_coco_pt(path: Path, n_train: int = 24, n_val: int = 6) -> None:
    """A ``coco.pt`` in EECS 498's layout with random images and captions: the quick
    ``caption-attention`` trains on it instead of the embedded scenes, whose features take
    minutes to extract on a CPU."""
    import torch

    generator = torch.Generator().manual_seed(0)
    words = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "red", "disk", "above", "blue", "star"]
    vocab = {"idx_to_token": words, "token_to_idx": {w: i for i, w in enumerate(words)}}
    payload: dict = {"vocab": vocab}
    for split, n in (("train", n_train), ("val", n_val)):
        images = torch.randint(0, 256, (n, 3, 112, 112), generator=generator, dtype=torch.uint8)
        captions = torch.zeros(n, 17, dtype=torch.long)
        captions[:, 0], captions[:, 6] = 1, 2  # <START> five words <END>, then <NULL>
        captions[:, 1:6] = torch.randint(4, len(words), (n, 5), generator=generator)
        payload[f"{split}_images"], payload[f"{split}_captions"] = images, captions
    torch.save(payload, path)


QUICK_CHECK = ("affine", "conv[fast]", "lstm_step")
"""The components the quick cross-check takes (all of them in a full run)."""


def run_check(ctx: Context) -> dict:
    """``dualnet check --device DEVICE``: every component's PyTorch side on the device that
    trains, against NumPy on the CPU; on a GPU the float32 rows with PyTorch's TF32 defaults
    and with TF32 off."""
    from dualnet import crosscheck, registry
    from dualnet.crosscheck_report import dtype_label, report

    components = registry.select(list(QUICK_CHECK) if ctx.quick else None)
    results = crosscheck.check_all(components, device=ctx.device)
    print(report(results, seed=0, device=ctx.device), flush=True)
    labels = sorted({dtype_label(r) for r in results})
    headline = {
        label: f"{sum(r.agrees for r in results if dtype_label(r) == label)}/"
        f"{sum(dtype_label(r) == label for r in results)} agree"
        for label in labels
    }
    details = {"results": [r.to_dict() for r in results]}
    if any(r.dtype == "float64" and not r.agrees for r in results):
        raise ItemFailed(f"float64 disagreements on {ctx.device}: {headline}")
    return {"headline": headline, "details": details}


def run_cuda_tests(ctx: Context) -> dict:
    """``pytest -m cuda`` over the whole test suite, in this process."""
    import pytest

    class Outcomes:
        """Counts the tests by outcome at the end of the session."""

        stats: dict[str, int] = {}

        def pytest_terminal_summary(self, terminalreporter):
            self.stats = {k: len(v) for k, v in terminalreporter.stats.items() if k}

    outcomes = Outcomes()
    tests = ROOT / "tests"
    if ctx.quick:  # collecting the whole tree takes longer than running what it skips
        tests = tests / "dualnet" / "test_cuda.py"
    args = ["-m", "cuda", "-q", "-rs", "-p", "no:cacheprovider", str(tests)]
    args += ["--basetemp", str(ctx.work / "pytest")]  # its files beside the suite's
    print(f"$ pytest {' '.join(args)}", flush=True)
    status = pytest.main(args, plugins=[outcomes])
    counts = {k: outcomes.stats.get(k, 0) for k in ("passed", "failed", "error", "skipped")}
    if status != 0:  # 5, nothing collected, is a failure too: the tests went missing
        raise ItemFailed(f"pytest -m cuda exited with status {int(status)}: {counts}")
    note = "" if ctx.device == "cuda" else "no CUDA here: every test skipped, as it should be"
    return {"headline": counts, "note": note}


THROUGHPUT_MODELS = ("torchvision resnet18", "resnet-preact20", "resnet-preact56", "resnet18")
"""The reference first: every row is also given relative to it."""
QUICK_THROUGHPUT_MODELS = {False: THROUGHPUT_MODELS[:2], True: THROUGHPUT_MODELS[:1]}
"""With --quick, eager (False) and compiled (True)."""
THROUGHPUT_BATCH = 128
"""The batch of ``dualnet classify train``'s ResNet defaults: the throughput a run gets."""


def run_throughput(ctx: Context) -> dict:
    """Images/s of training steps for each model, eager then compiled. Compiling takes tens
    of seconds per model on a GPU: a compiled row is skipped, and says so, when the longest
    compilation so far would take the item past its budget."""
    import torch
    from train_throughput import measure

    device = torch.device(ctx.device)
    batch, steps, warmup = (8, 2, 1) if ctx.quick else (THROUGHPUT_BATCH, 100, 10)
    backend = "aot_eager" if ctx.quick else "inductor"  # inductor on the CPU: minutes of C++
    budget = ITEMS["throughput"].budget
    start, rows, longest_compile = time.perf_counter(), [], 0.0
    for compiled in (False, True):
        reference = None
        for name in QUICK_THROUGHPUT_MODELS[compiled] if ctx.quick else THROUGHPUT_MODELS:
            row = {"model": name, "mode": f"compiled ({backend})" if compiled else "eager"}
            expected_end = time.perf_counter() - start + longest_compile
            if compiled and not ctx.quick and expected_end > budget:
                rows.append({**row, "skipped": "it would take the item past its time budget"})
                continue
            reset_peak_memory()
            figures = measure(name, device, batch, steps, warmup, compiled, backend)
            reference = reference or figures["images_per_second"]
            if compiled:
                longest_compile = max(longest_compile, figures["first_step_seconds"])
            rows.append(
                {
                    **row,
                    "images_per_second": figures["images_per_second"],
                    "relative_to_torchvision_resnet18": figures["images_per_second"] / reference,
                    "first_step_seconds": figures["first_step_seconds"],
                    "peak_memory_mib": peak_memory_mib(),
                }
            )
            print(f"{name}, {row['mode']}: {figures['images_per_second']:.0f} images/s", flush=True)
    headline = {  # the default model against the reference, each mode
        f"{row['model']} {row['mode'].split()[0]}": round(row["images_per_second"])
        for row in rows
        if "images_per_second" in row and row["model"] in THROUGHPUT_MODELS[:2]
    }
    settings = {"batch_size": batch, "timed_steps": steps, "warmup_steps": warmup}
    return {"headline": headline, "rows": rows, "details": settings}


def classify_commands(ctx: Context) -> list[list[str]]:
    command = ["classify", "train", "--model", "resnet-preact20", "--device", ctx.device]
    if ctx.quick:  # two steps and a checkpoint; no evaluation (seconds on the CPU)
        command += ["--train-subset", "256", "--batch-size", "64", "--stop-after-steps", "2"]
    else:
        command += ["--epochs", "8"]  # the recipe measured at 93.4 % on the CPU
    return [[*command, "--out", ctx.out("classify-93")]]


def run_classify(ctx: Context) -> dict:
    (command,) = classify_commands(ctx)
    start = time.perf_counter()
    summary = dualnet(command)
    wall = time.perf_counter() - start
    reached = summary.get("accuracy", 0.0) >= 0.93
    headline = {
        "accuracy": summary.get("accuracy"),
        "reached_93": reached,
        "wall_seconds": wall,
        "training_seconds": summary["seconds"],
    }
    if not ctx.quick:
        headline["time_to_93_seconds"] = wall if reached else None
    return {"headline": headline, "details": summary}


def fool_commands(ctx: Context) -> list[list[str]]:
    command = ["visualize", "fool", "--device", ctx.device]
    if ctx.quick:  # the network classify-93 trained, not the stand-in (minutes on a CPU)
        command += ["--model", ctx.out("classify-93"), "--n-images", "2", "--steps", "5"]
    return [[*command, "--out", ctx.out("visualize-fool")]]


def run_fool(ctx: Context) -> dict:
    (command,) = fool_commands(ctx)
    summary = dualnet(command)
    keys = ("success_rate", "mean_steps", "mean_linf")
    return {"headline": {k: summary.get(k) for k in keys}, "details": summary}


def style_commands(ctx: Context, parser=None) -> list[list[str]]:
    command = ["style", "transfer", "--device", ctx.device]
    if ctx.quick:
        command += ["--image-size", "64"]
        if parser is not None and "--steps" in parser._option_string_actions:
            command += ["--steps", "3"]
    else:
        command += ["--image-size", "512"]
    return [[*command, "--out", ctx.out("style-transfer")]]


def style_missing() -> str | None:
    if style_transfer_parser() is None:
        return "`dualnet style` is not in this checkout"
    return None


def run_style(ctx: Context) -> dict:
    (command,) = style_commands(ctx, style_transfer_parser())
    summary = dualnet(command)
    keys = ("style_loss_reduction", "seconds")
    return {"headline": {k: summary.get(k) for k in keys}, "details": summary}


def caption_commands(ctx: Context) -> list[list[str]]:
    run = ctx.out("caption-attention")
    train = ["caption", "train", "--cell", "attention", "--device", ctx.device]
    evaluate = ["caption", "eval", run, "--device", ctx.device]
    if ctx.quick:
        train += ["--data", "coco.pt", ctx.out("coco.pt"), "--encoder", "random"]
        train += ["--data-root", ctx.out("caption-cache"), "--epochs", "1", "--batch-size", "6"]
        train += ["--hidden-dim", "16", "--wordvec-dim", "8"]
        evaluate += ["--n-images", "3"]
    return [[*train, "--out", run], [*evaluate, "--out", ctx.out("caption-eval")]]


def run_caption(ctx: Context) -> dict:
    train_command, eval_command = caption_commands(ctx)
    trained = dualnet(train_command)
    start = time.perf_counter()
    scores = dualnet(eval_command)
    headline = {
        "val_loss": trained["val_loss"],
        "bleu4": scores["bleu4"],
        "training_seconds": trained["seconds"],
        "eval_seconds": time.perf_counter() - start,
    }
    return {"headline": headline, "details": {"train": trained, "eval": scores}}


def gan_commands(ctx: Context) -> list[list[str]]:
    run = ctx.out("gan-dc-ls")
    train = ["gan", "train", "--model", "dc", "--loss", "ls", "--device", ctx.device]
    evaluate = ["gan", "eval", run, "--device", ctx.device]
    if ctx.quick:
        train += ["--steps", "4", "--batch-size", "16", "--log-every", "2", "--sample-every", "2"]
        evaluate += ["--n-images", "100"]
    return [[*train, "--out", run], [*evaluate, "--out", ctx.out("gan-eval")]]


def run_gan(ctx: Context) -> dict:
    train_command, eval_command = gan_commands(ctx)
    trained = dualnet(train_command)
    scores = dualnet(eval_command)
    headline = {
        "fcd": scores["fcd"],
        "fcd_real": scores["fcd_real"],
        "mode_coverage": scores["mode_coverage"],
        "training_seconds": trained["seconds"],
    }
    return {"headline": headline, "details": {"train": trained, "eval": scores}}


@dataclass(frozen=True)
class Item:
    name: str
    budget: float
    """Seconds on one H200-class GPU, child start-up included; 0 for the one-off ``prepare``."""
    run: Callable[[Context], dict]
    commands: Callable[[Context], list[list[str]]] | None = None
    """The ``dualnet`` command lines the item runs (``None``: it runs Python)."""
    missing: Callable[[], str | None] = lambda: None  # noqa: E731
    """Why the item cannot run in this checkout, or ``None``: it is then recorded as *not
    available* without starting a process."""


ITEMS = {
    item.name: item
    for item in (
        Item("check", 15, run_check),
        Item("prepare", 0, run_prepare),
        Item("cuda-tests", 100, run_cuda_tests),
        Item("throughput", 150, run_throughput),
        Item("classify-93", 60, run_classify, classify_commands),
        Item("visualize-fool", 20, run_fool, fool_commands),
        Item("style-transfer", 35, run_style, style_commands, style_missing),
        Item("caption-attention", 50, run_caption, caption_commands),
        Item("gan-dc-ls", 40, run_gan, gan_commands),
    )
}
TOTAL_BUDGET = sum(item.budget for item in ITEMS.values())
assert TOTAL_BUDGET <= 8 * 60, "the whole GPU run must fit in 8 minutes"


# --------------------------------------------------------------------------------------------
# The child: one item, in its own process
# --------------------------------------------------------------------------------------------


def reset_peak_memory() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.reset_peak_memory_stats()


def peak_memory_mib() -> float | None:
    """The most memory PyTorch's tensors held on the GPU since the last reset, or ``None``
    when this process has not used the GPU."""
    import torch

    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
        return None
    return torch.cuda.max_memory_allocated() / MIB


def environment(device: str) -> dict:
    import torch

    import dualnet

    return {
        "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "processor": platform.processor() or platform.machine(),
        "dualnet": dualnet.__version__,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


def run_child(name: str, ctx: Context, report: Path) -> int:
    """Run item ``name`` and write its report: status, figures, seconds and peak memory."""
    import torch

    if ctx.device == "cuda":
        torch.cuda.init()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    try:
        result = {"status": "ok", **ITEMS[name].run(ctx)}
    except ItemFailed as error:
        result = {"status": "failed", "note": str(error)}
    result["work_seconds"] = time.perf_counter() - start
    result["peak_memory_mib"] = peak_memory_mib()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        result["peak_reserved_mib"] = torch.cuda.max_memory_reserved() / MIB
    result["environment"] = environment(ctx.device)
    report.write_text(json.dumps(result, indent=2, default=str))
    return 0 if result["status"] != "failed" else 1


# --------------------------------------------------------------------------------------------
# The parent: every item in turn, the table and the results file
# --------------------------------------------------------------------------------------------


def time_limit(item: Item, quick: bool, device: str = "cuda") -> float:
    """Seconds after which an item's process is stopped."""
    if item.budget == 0:  # prepare: the stand-ins train on the CPU, minutes to an hour
        return 3 * 3600
    if quick:
        return 600
    return 2 * item.budget + 60 if device == "cuda" else 20 * item.budget + 600


def finished(child: subprocess.Popen, seconds: float) -> bool:
    try:
        child.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def stop(child: subprocess.Popen) -> None:
    """Ctrl-C to the child's processes, so that a trainer saves a checkpoint that resumes;
    after 30 seconds, kill them."""
    os.killpg(child.pid, signal.SIGINT)
    if not finished(child, 30):
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def run_item(item: Item, ctx: Context, cache: str | None) -> dict:
    """Run ``item`` in a child process; its report, with the wall-clock time added."""
    missing = item.missing()
    if missing:
        return {"item": item.name, "status": "not available", "note": missing, "seconds": 0.0,
                "budget_seconds": item.budget}  # fmt: skip
    report, log = ctx.work / f"{item.name}.json", ctx.work / f"{item.name}.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", item.name]
    command += ["--device", ctx.device, "--work", str(ctx.work)] + (["--quick"] * ctx.quick)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if cache:
        env["DUALNET_CACHE"] = cache
    start = time.perf_counter()
    with log.open("w") as output:
        child = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
            start_new_session=True,
        )  # fmt: skip
        try:
            timed_out = not finished(child, time_limit(item, ctx.quick, ctx.device))
        except KeyboardInterrupt:  # the child runs in its own session: pass Ctrl-C on
            stop(child)
            raise
        if timed_out:
            stop(child)
    seconds = time.perf_counter() - start
    if timed_out:
        limit = time_limit(item, ctx.quick, ctx.device)
        result = {"status": "timed out", "note": f"stopped after {limit:g} s"}
    elif report.is_file():
        result = json.loads(report.read_text())
    else:
        result = {"status": "failed", "note": f"exited with status {child.returncode}"}
    if result["status"] in ("failed", "timed out"):
        result["log_tail"] = log.read_text(errors="replace").splitlines()[-15:]
    commands = item.commands(ctx) if item.commands else None
    return {
        "item": item.name,
        **result,
        "seconds": seconds,
        "budget_seconds": item.budget,
        "commands": [" ".join(["dualnet", *c]) for c in commands] if commands else None,
        "log": str(log),
    }


def formatted(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def memory_text(mib: float | None) -> str:
    return "-" if mib is None else f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def table(results: list[dict]) -> str:
    from common import format_table

    rows = []
    for r in results:
        budget = f"{r['budget_seconds']:.0f}" if r["budget_seconds"] else "once"
        headline = ", ".join(f"{k} {formatted(v)}" for k, v in (r.get("headline") or {}).items())
        text = headline or r.get("note", "")
        rows.append([r["item"], r["status"], f"{r['seconds']:.1f}", budget,
                     memory_text(r.get("peak_memory_mib")), text])  # fmt: skip
        for row in r.get("rows", []):
            if "skipped" in row:
                figures = f"skipped: {row['skipped']}"
            else:
                figures = (
                    f"{row['images_per_second']:,.0f} images/s, "
                    f"{row['relative_to_torchvision_resnet18']:.2f} x torchvision resnet18, "
                    f"first step {row['first_step_seconds']:.1f} s"
                )
            memory = memory_text(row.get("peak_memory_mib"))
            rows.append([f"  {row['model']}", row["mode"], "", "", memory, figures])
    timed = [r for r in results if r["budget_seconds"]]
    total = sum(r["seconds"] for r in timed)
    budget = sum(r["budget_seconds"] for r in timed)
    rows.append(["total (without prepare)", "", f"{total:.1f}", f"{budget:.0f}", "", ""])
    header = ["item", "status", "seconds", "budget", "peak GPU memory", "figures"]
    return format_table(header, rows)


def merged(path: Path, items: list[dict]) -> list[dict]:
    """The items of the results file ``path`` (if any), with ``items`` in place of the ones
    of the same name, in the suite's order."""
    by_name = {}
    if path.is_file():
        by_name = {item["item"]: item for item in json.loads(path.read_text())["items"]}
    by_name.update({item["item"]: item for item in items})
    return [by_name[name] for name in ITEMS if name in by_name]


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="(cuda)")
    parser.add_argument("--quick", action="store_true", help="a few seconds per item (CI)")
    parser.add_argument("--only", nargs="+", choices=tuple(ITEMS), metavar="ITEM",
                        help=f"run these items only: {', '.join(ITEMS)}")  # fmt: skip
    parser.add_argument("--prepare-only", action="store_true",
                        help="fill the data cache and stop")  # fmt: skip
    parser.add_argument("--cache", help="data cache for every item (default: DUALNET_CACHE)")
    parser.add_argument("--work", type=Path, help="folder for runs and logs (a new one in runs/)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--child", choices=tuple(ITEMS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        ctx = Context(args.device, args.quick, args.work)
        return run_child(args.child, ctx, args.work / f"{args.child}.json")

    import torch

    if args.prepare_only and not torch.cuda.is_available():
        args.device = "cpu"  # CPU work: any machine can prepare the cache
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error(
            "--device cuda: torch.cuda.is_available() is False on this machine. The suite is "
            "for a GPU; `--device cpu --quick` runs its CPU check in a minute"
        )
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    work = (args.work or ROOT / "runs" / "gpu-suite" / stamp).resolve()
    work.mkdir(parents=True, exist_ok=False if args.work is None else True)
    ctx = Context(args.device, args.quick, work)
    # the items in ITEMS' order: the cross-check first (agreement on the device before any
    # training), then prepare, always (seconds when everything is cached; what the rest needs)
    chosen = set(args.only or ITEMS) | {"prepare"}
    names = [name for name in ITEMS if name in chosen]
    if args.prepare_only:
        names = ["prepare"]
    mode = "quick" if args.quick else "full"
    budget = sum(ITEMS[n].budget for n in names)
    print(f"dualnet GPU suite, {mode}, on {args.device}: {', '.join(names)}")
    print(f"budget (on one H200-class GPU): {budget:.0f} s plus the one-off prepare; runs and "
          f"logs in {work}", flush=True)  # fmt: skip

    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    results = []
    for i, name in enumerate(names, 1):
        budget_text = f"budget {ITEMS[name].budget:.0f} s" if ITEMS[name].budget else "once"
        print(f"[{i}/{len(names)}] {name} ({budget_text}, log {work / name}.log): ", end="",
              flush=True)  # fmt: skip
        result = run_item(ITEMS[name], ctx, args.cache)
        results.append(result)
        over = " (over budget)" if 0 < ITEMS[name].budget < result["seconds"] else ""
        print(f"{result['status']} in {result['seconds']:.1f} s{over}", flush=True)
        for line in result.get("log_tail", []):
            print(f"    | {line}")

    environment = next((r["environment"] for r in results if "environment" in r), {})
    device_name = environment.get("device_name", args.device)
    print()
    print(f"{device_name} ({args.device}, {mode}), torch {environment.get('torch')}")
    print(table(results))
    if not args.prepare_only:
        args.results.mkdir(parents=True, exist_ok=True)
        path = args.results / f"gpu-{slug(device_name)}{'-quick' if args.quick else ''}.json"
        items = [{k: v for k, v in r.items() if k != "environment"} for r in results]
        if args.only:  # one item again: it replaces its row in the record of the whole run
            items = merged(path, items)
        payload = {
            "suite": "dualnet GPU suite (benchmarks/gpu_suite.py)",
            "mode": mode,
            "device": args.device,
            "started": started,
            "environment": environment,
            "budget_seconds": sum(item["budget_seconds"] for item in items),
            "seconds": sum(item["seconds"] for item in items if item["budget_seconds"]),
            "items": items,
        }
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        print(f"wrote {path}")
    bad = [r["item"] for r in results if r["status"] in ("failed", "timed out")]
    if bad:
        print(f"failed: {', '.join(bad)} (see the logs in {work})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
