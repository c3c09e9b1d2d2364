"""The misuse cases of every application, in one place, written from the user's side.

Each test gives a command its bad input (a number out of range, a damaged or crafted file, a
state dict of another network) and checks what the user sees: the exit status (2 for a usage
error, 1 for a file or a run that cannot be used), one line of error on stderr that names the
flag or the file, no traceback, and the files that are left. The sections:

* numbers: every count has an upper bound, the largest seed works everywhere, and a
  Hypothesis test throws generated values at every numeric flag of the parser tree;
* non-finite losses: the settings that could be to blame are named;
* MNIST files: a wrong magic number, a label count that differs, labels outside 0-9;
* ``.npz`` files given as inputs;
* state dicts and checkpoints of another network, or lacking what they must hold;
* checkpoints that carry code;
* image files: bounded before they are decoded, checked before the network loads;
* run directories: one writer, no stuck runs, an ``--out`` that cannot be a folder.

Everything is tiny (one or two steps, a few images): the whole file takes seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from dualnet import cli
from dualnet.apps import runtime
from dualnet.apps.caption import cli as caption_cli
from dualnet.apps.caption import encoders
from dualnet.apps.classify import cli as classify_cli
from dualnet.apps.classify.config import ClassifyConfig
from dualnet.apps.gan import cli as gan_cli
from dualnet.apps.gan.config import GanConfig
from dualnet.apps.settings import INT_LIMIT, SEED, ConfigError, given_settings
from dualnet.apps.style import cli as style_cli
from dualnet.apps.style import config as style_config
from dualnet.data import image_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caption_helpers import write_cs231n  # noqa: E402
from gan_helpers import shared_cache, write_idx_images, write_idx_labels, write_mnist  # noqa: E402
from run_helpers import another_writer  # noqa: E402

pytestmark = [pytest.mark.cli]

GAN = ["--model", "fc", "--steps", "1", "--batch-size", "8", "--log-every", "1",
       "--sample-every", "1", "--device", "cpu", "--no-progress", "--no-figures"]  # fmt: skip
CAPTION = ["--cell", "lstm", "--epochs", "1", "--batch-size", "6", "--hidden-dim", "8",
           "--wordvec-dim", "8", "--device", "cpu", "--no-progress", "--no-figures"]  # fmt: skip
CLASSIFY = ["--model", "fc2", "--epochs", "1", "--train-subset", "64", "--batch-size", "32",
            "--device", "cpu", "--no-progress", "--no-figures"]  # fmt: skip


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch, tmp_path):
    """Every test in its own folder, with the GAN tests' shared data cache."""
    monkeypatch.setenv("DUALNET_CACHE", str(shared_cache(tmp_path_factory)))
    monkeypatch.chdir(tmp_path)


def error_line(argv: list[str], status: int, capsys) -> str:
    """Run ``dualnet ARGV``; check that it exits with ``status`` and prints, besides a usage
    error's usage lines, exactly one line of error and no traceback; return that line."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    assert code == status, argv
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    words = argv[:1] if argv[0] == "check" else argv[:2]
    command = f"dualnet {' '.join(words)}: error: "
    assert [line for line in lines if "error" in line] == [lines[-1]], err
    assert lines[-1].startswith(command), err
    if status == 1:
        assert len(lines) == 1, err  # no usage: a file or a run is wrong, not the command
    return lines[-1].removeprefix(command)


# --------------------------------------------------------------------------------------------
# Numbers: upper bounds, the largest seed, every numeric flag
# --------------------------------------------------------------------------------------------

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gan", "train", "--steps", HUGE], f"--steps: must be at most 10000000, got {HUGE}"),
        (["gan", "train", "--steps", "1e23"], "--steps: must be an integer from 1 to 10000000"),
        (["gan", "train", "--seed", HUGE], f"--seed: must be at most {INT_LIMIT}, got {HUGE}"),
        (["gan", "sample", "run", "--seed", HUGE], f"--seed: must be at most {INT_LIMIT}"),
        (["gan", "eval", "run", "--n-images", "1000001"], "--n-images: must be at most 100000"),
        (["gan", "train", "--critic-steps", "101"], "--critic-steps: must be at most 100"),
        (["classify", "train", "--epochs", "10001"], "--epochs: must be at most 10000"),
        (["classify", "train", "--batch-size", "65537"], "--batch-size: must be at most 65536"),
        (["caption", "train", "--hidden-dim", "16385"], "--hidden-dim: must be at most 16384"),
        (["caption", "eval", "run", "--beam", "101"], "--beam: must be at most 100"),
        (["style", "transfer", "--steps", HUGE], f"--steps: must be at most {INT_LIMIT}"),
        (["visualize", "fool", "--steps", HUGE], f"--steps: must be at most {INT_LIMIT}"),
        (["check", "--seed", str(2**32)], f"--seed: must be at most {INT_LIMIT}"),
    ],
)
def test_a_count_above_its_bound_is_a_usage_error_naming_the_flag(argv, message, capsys):
    line = error_line(argv, 2, capsys)
    assert line.startswith("argument " + message), line
    assert not Path("runs").exists()  # nothing was started


def test_the_largest_seed_is_taken_by_every_generator(capsys):
    largest = SEED.high
    runtime.seed_everything(largest)
    torch.Generator().manual_seed(runtime.derived_seed(largest, 3))
    np.random.default_rng(largest)
    np.random.RandomState(largest)  # noqa: NPY002 - the narrowest of them: below 2**32
    assert cli.main(["gan", "train", *GAN, "--seed", str(largest), "--out", "run"]) == 0
    assert cli.main(["gan", "sample", "run", "--n-images", "4", "--seed", str(largest)]) == 0
    assert Path("run/last.pt").is_file() and Path("run/sample/samples.png").is_file()


def leaf_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """``(command path, parser)`` of every action of the parser tree."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from leaf_parsers(child, (*path, name))
            return
    yield path, parser


def numeric_flags() -> list[tuple[tuple[str, ...], str]]:
    """``(command path, flag)`` of every flag that takes an integer or a real number."""
    found = []
    for path, parser in leaf_parsers(cli.build_parser()):
        for action in parser._actions:
            kind = getattr(action.type, "__name__", None)
            if action.option_strings and kind in ("int", "float"):
                found.append((path, action.option_strings[-1]))
    return found


def parsed_value(args: argparse.Namespace, parser: argparse.ArgumentParser, flag: str):
    """The value that ``flag`` was parsed into (the first, for a flag of several values)."""
    action = next(a for a in parser._actions if flag in a.option_strings)
    value = getattr(args, action.dest)
    return value[0] if isinstance(value, list) else value


def placeholders(parser: argparse.ArgumentParser) -> list[str]:
    """Values for the positionals and required flags of ``parser`` (only parsed here)."""
    values = []
    for action in parser._actions:
        if not action.option_strings and action.nargs not in ("*", "?"):
            values.append("x")
        elif action.option_strings and action.required:
            values += [action.option_strings[-1], "x"]
    return values


def configure(path: tuple[str, ...], args: argparse.Namespace):
    """What the action makes of its parsed arguments before it does any work: the checked
    configuration of a new run (``None`` for the actions that have none, whose flags are
    checked while they are parsed)."""
    if path == ("gan", "train"):
        return gan_cli.config_for_new_run(given_settings(args, GanConfig))
    if path == ("classify", "train"):
        return classify_cli.config_for_new_run(given_settings(args, ClassifyConfig))
    if path == ("caption", "train"):
        return caption_cli.configure(args, args.parser)
    if path[0] == "style":
        return style_config.make_config(args.action, args.preset, **style_cli.settings_of(args))
    return None


PARSER = cli.build_parser()
PARSERS = dict(leaf_parsers(PARSER))
NUMBERS = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e309", "-1e309", "nan", "inf", "-inf", "1e23", "0", "-0", "0.5", "abc",
                     "0x10", "1_000", "", " 7 ", str(INT_LIMIT), str(INT_LIMIT + 1)]),
)  # fmt: skip


@pytest.mark.parametrize(("path", "flag"), numeric_flags(), ids=lambda x: " ".join(x))
@settings(max_examples=12, deadline=None, derandomize=True)
@given(value=NUMBERS)
def test_every_numeric_flag_takes_a_valid_number_or_names_itself(path, flag, value):
    argv = [*path, f"{flag}={value}", *placeholders(PARSERS[path])]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = PARSER.parse_args(argv)
        number = parsed_value(args, PARSERS[path], flag)  # taken: a number every library takes
        assert math.isfinite(number) and (isinstance(number, float) or abs(number) <= INT_LIMIT)
        configure(path, args)
    except SystemExit as exit_info:  # refused while parsing: a usage error
        assert exit_info.code == 2
        line = err.getvalue().splitlines()[-1]
        assert line.startswith(f"dualnet {' '.join(path)}: error: argument {flag}"), line
    except ConfigError as error:  # refused by the configuration's check: also a usage error
        assert flag in str(error) and "\n" not in str(error), str(error)


# --------------------------------------------------------------------------------------------
# Non-finite losses
# --------------------------------------------------------------------------------------------


def test_a_huge_gradient_penalty_is_blamed_on_lambda_gp(capsys):
    argv = ["gan", "train", *GAN, "--loss", "wgan-gp", "--lambda-gp", "1e308", "--out", "run"]
    line = error_line(argv, 1, capsys)
    assert line == (
        "training stopped: a loss became non-finite at step 1; nothing was saved after it. "
        "Try a smaller --lambda-gp (now 1e+308, default 10) or --lr (now 0.001, default "
        "0.001)."
    )
    assert not Path("run/last.pt").exists()


@pytest.fixture(scope="module")
def cs231n(tmp_path_factory) -> Path:
    return write_cs231n(tmp_path_factory.mktemp("cs231n") / "coco_captioning")


@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_captioning_with_a_huge_learning_rate_stops_in_one_line(cs231n, backend, capsys):
    argv = ["caption", "train", "--data", "cs231n", str(cs231n), *CAPTION, "--lr", "1e308"]
    line = error_line([*argv, "--backend", backend, "--out", "run"], 1, capsys)
    assert line.startswith("training stopped: the training loss became non-finite at step ")
    assert line.endswith("Try a smaller --lr (now 1e+308, default 0.002).")
    assert not Path("run/last.pt").exists()


def test_nan_features_in_a_cs231n_folder_are_refused_naming_the_file(cs231n, tmp_path, capsys):
    folder = tmp_path / "coco_captioning"
    shutil.copytree(cs231n, folder)
    features_file = folder / "val2014_vgg16_fc7_pca.h5"
    with h5py.File(features_file, "r+") as file:
        features = file["features"][...]
        features[2, 5] = np.nan
        file["features"][...] = features
    argv = ["caption", "train", "--data", "cs231n", str(folder), *CAPTION, "--out", "run"]
    assert error_line(argv, 1, capsys) == (
        f"{features_file}: features hold 1 non-finite value(s) (NaN or infinity) in 1 row(s), "
        "the first row 2; every feature must be a finite number"
    )
    assert not Path("run/last.pt").exists()


def test_cs231n_features_of_two_widths_are_refused_naming_the_file(tmp_path, capsys):
    folder = write_cs231n(tmp_path / "coco_captioning")
    features_file = folder / "val2014_vgg16_fc7_pca.h5"
    with h5py.File(features_file, "w") as file:
        file["features"] = np.zeros((4, 32), np.float32)  # the training features are 16-d
    argv = ["caption", "train", "--data", "cs231n", str(folder), *CAPTION, "--out", "run"]
    assert error_line(argv, 1, capsys) == (
        f"{features_file}: features are 32-d, but the training features are 16-d; both "
        "splits must come from one encoder"
    )


# --------------------------------------------------------------------------------------------
# MNIST files
# --------------------------------------------------------------------------------------------


def damage(raw: Path, how: str) -> Path:
    """Damage one of the MNIST files in ``raw`` (written by ``write_mnist``); return it."""
    if how == "magic number":
        path = raw / "t10k-images-idx3-ubyte"
        path.write_bytes(b"\x12\x34\x56\x78" + path.read_bytes()[4:])
    elif how == "label count":
        path = raw / "t10k-labels-idx1-ubyte"
        write_idx_labels(path, np.arange(7) % 10)  # for 10 images
    elif how == "label 200":
        path = raw / "train-labels-idx1-ubyte"
        write_idx_labels(path, np.r_[np.arange(30) % 10, 200, np.arange(9) % 10])
    return path


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("magic number", "has the magic number 0x12345678, expected 0x00000803"),
        ("label count", "holds 7 labels, but {folder}/t10k-images-idx3-ubyte holds 10 images"),
        ("label 200", ": label 200 at row 30 (1 label(s) outside 0-9)"),
    ],
)
def test_damaged_mnist_files_are_refused_naming_the_file(how, message, capsys):
    write_mnist(Path("mnist"), train=40, test=10)
    path = damage(Path("mnist/MNIST/raw"), how)
    argv = ["gan", "train", *GAN, "--data", "mnist", "--data-root", "mnist", "--out", "run"]
    line = error_line(argv, 1, capsys)
    assert line.startswith(str(path)) and message.format(folder=path.parent) in line, line
    assert not Path("run/last.pt").exists()


def test_gan_eval_refuses_mnist_whose_labels_no_longer_match(capsys):
    write_mnist(Path("mnist"), train=40, test=10)
    argv = ["gan", "train", *GAN, "--data", "mnist", "--data-root", "mnist", "--out", "run"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    path = damage(Path("mnist/MNIST/raw"), "label count")
    line = error_line(["gan", "eval", "run", "--n-images", "4"], 1, capsys)
    assert line.startswith(f"{path} holds 7 labels")
    assert not Path("run/eval").exists()


def test_idx_images_of_another_size_are_still_named(capsys):
    write_mnist(Path("mnist"), train=40, test=10)
    path = Path("mnist/MNIST/raw/train-images-idx3-ubyte")
    write_idx_images(path, np.zeros((40, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])  # truncated
    argv = ["gan", "train", *GAN, "--data", "mnist", "--data-root", "mnist", "--out", "run"]
    assert error_line(argv, 1, capsys) == (
        f"{path} holds 31276 bytes, but its header announces 40x28x28 items (31376 bytes): "
        "the file is truncated or damaged"
    )


# --------------------------------------------------------------------------------------------
# .npz files given as inputs
# --------------------------------------------------------------------------------------------


def npz_files() -> dict[str, Path]:
    """An empty, a truncated and a well-formed ``.npz`` with a string ``y``, in the folder."""
    Path("empty.npz").write_bytes(b"")
    X = np.zeros((2, 8, 8, 3), np.uint8)
    np.savez("strings.npz", X=X, y=np.array(["a", "b"]), label_map=np.array(["a", "b"]))
    whole = Path("strings.npz").read_bytes()
    Path("truncated.npz").write_bytes(whole[: len(whole) // 2])
    return {name: Path(f"{name}.npz") for name in ("empty", "truncated", "strings")}


@pytest.mark.parametrize("kind", ["empty", "truncated"])
def test_a_damaged_npz_given_as_a_checkpoint_or_weights_is_one_line(kind, capsys):
    path = npz_files()[kind]
    expected = f"{path} is empty" if kind == "empty" else f"{path} is not a readable PyTorch"
    assert error_line(["gan", "sample", str(path)], 1, capsys).startswith(expected)
    argv = ["visualize", "saliency", "--model", "squeezenet", "--weights", str(path)]
    assert error_line([*argv, "--out", "v"], 1, capsys).startswith(f"--weights {expected}")
    assert not Path("v/summary.json").exists()


@pytest.mark.parametrize("kind", ["empty", "truncated"])
def test_a_damaged_feature_cache_is_extracted_again(kind):
    assert encoders.read_cached_maps(npz_files()[kind]) is None  # the caller extracts anew
    assert encoders.read_cached_maps(Path("missing.npz")) is None


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory) -> Path:
    """A tiny classification run (fc2 on 64 embedded images, one epoch)."""
    out = tmp_path_factory.mktemp("classify") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DUALNET_CACHE", str(shared_cache(tmp_path_factory)))
        assert cli.main(["classify", "train", *CLASSIFY, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("kind", ["empty", "truncated", "strings"])
def test_a_damaged_npz_given_to_images_names_the_flag_and_the_file(kind, classify_run, capsys):
    path = npz_files()[kind]
    argv = ["visualize", "saliency", "--model", str(classify_run), "--images", str(path)]
    line = error_line([*argv, "--n-images", "2", "--out", "v"], 2, capsys)
    assert line.startswith(f"--images: {path}")


# --------------------------------------------------------------------------------------------
# State dicts and checkpoints of another network, or lacking what they must hold
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory) -> Path:
    """A GAN run of one step (the fully connected networks)."""
    out = tmp_path_factory.mktemp("gan") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DUALNET_CACHE", str(shared_cache(tmp_path_factory)))
        assert cli.main(["gan", "train", *GAN, "--out", str(out)]) == 0
    return out


def altered(source: Path, target: str, change) -> Path:
    """A copy of the checkpoint ``source`` at ``target``, changed by ``change(payload)``."""
    payload = torch.load(source, weights_only=True)
    change(payload)
    torch.save(payload, target)
    return Path(target)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("generator"), "is a 'dualnet-gan-1' checkpoint without 'generator': "
         "damaged, or not written by dualnet"),
        (lambda p: p.pop("config"), "is a 'dualnet-gan-1' checkpoint without 'config': "
         "damaged, or not written by dualnet"),
        (lambda p: p["config"].pop("steps"), "holds a configuration that cannot run: config "
         "lacks steps"),
        (lambda p: p["config"].update(model="vae"), "holds a configuration that cannot run: "
         "--model must be one of fc, dc, got 'vae'"),
        (lambda p: p["config"].update(noise_dim=64), "does not hold the weights of the fc "
         "generator with --noise-dim 64: 1 tensors of another shape (0.weight (1024, 96) "
         "in the file, (1024, 64) in the network)"),
    ],
    ids=["no generator", "no config", "a setting missing", "unknown model", "another width"],
)  # fmt: skip
def test_a_gan_checkpoint_that_does_not_fit_is_one_line(gan_run, change, message, capsys):
    path = altered(gan_run / "last.pt", "changed.pt", change)
    for action in ("sample", "eval"):
        line = error_line(["gan", action, str(path), "--out", action], 1, capsys)
        assert line == f"{path} {message}", line
        assert not Path(action).exists()
    line = error_line(["gan", "train", "--resume", str(path)], 1, capsys)
    if "weights" not in message:  # resuming reads the configuration before the networks
        assert line == f"{path} {message}", line


@pytest.fixture(scope="module")
def caption_run(cs231n, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("caption") / "run"
    argv = ["caption", "train", "--data", "cs231n", str(cs231n), *CAPTION, "--out", str(out)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DUALNET_CACHE", str(shared_cache(tmp_path_factory)))
        assert cli.main(argv) == 0
    return out


def test_a_caption_checkpoint_of_another_hidden_size_is_one_line(caption_run, capsys):
    path = altered(caption_run / "best.pt", "wide.pt", lambda p: p["config"].update(hidden_dim=12))
    line = error_line(["caption", "eval", str(path), "--out", "e"], 1, capsys)
    assert line.startswith(
        f"{path} does not hold the weights of the lstm model of its configuration "
        "(--hidden-dim 12): 6 tensors of another shape (W_proj (16, 8) in the file, (16, 12) "
        "in the network, b_proj (8,) in the file, (12,) in the network, "
    ), line
    assert not Path("e").exists()


def test_a_classification_run_of_another_architecture_is_one_line(classify_run, capsys):
    def narrower(payload):
        payload["model"]["fc1.weight"] = payload["model"]["fc1.weight"][:100]

    path = altered(classify_run / "best.pt", "narrow.pt", narrower)
    line = error_line(["classify", "eval", str(path), "--out", "e"], 1, capsys)
    assert line.startswith(f"{path} does not hold the weights of the fc2 of its configuration: ")
    assert line.endswith("1 tensors of another shape (fc1.weight (100, 3072) in the file, "
                         "(512, 3072) in the network)"), line  # fmt: skip
    argv = ["visualize", "saliency", "--model", str(path), "--n-images", "2", "--out", "v"]
    line = error_line(argv, 1, capsys)
    assert line.startswith(f"--model {path} does not hold the weights of the fc2"), line
    assert not Path("v/summary.json").exists()


def squeezenet_state(path: str = "squeezenet.pth") -> Path:
    import torchvision

    torch.save(torchvision.models.squeezenet1_1().state_dict(), path)
    return Path(path)


def test_weights_of_another_network_are_one_line_naming_the_flag(capsys):
    squeezenet = squeezenet_state()
    other = Path("other.pth")
    torch.save({"fc.weight": torch.zeros(10, 4), "fc.bias": torch.zeros(10)}, other)
    argv = ["visualize", "saliency", "--model", "squeezenet", "--weights", str(other)]
    assert error_line([*argv, "--out", "v"], 1, capsys) == (
        f"--weights {other} does not hold the weights of SqueezeNet 1.1: 52 keys missing "
        "(features.0.weight, features.0.bias, features.3.squeeze.weight, ... (52 in all)); 2 "
        "unexpected keys (fc.weight, fc.bias)"
    )
    argv = ["style", "transfer", "--model", "efficientnet-lite0", "--weights", str(squeezenet)]
    line = error_line([*argv, "--out", "s"], 1, capsys)
    assert line.startswith(
        f"--weights {squeezenet} does not hold the weights of EfficientNet-Lite0: its names "
        "(features.0.weight, features.0.bias, features.3.squeeze.weight, ...)"
    ), line
    assert not Path("v/summary.json").exists() and not Path("s/summary.json").exists()


# --------------------------------------------------------------------------------------------
# Checkpoints that carry code
# --------------------------------------------------------------------------------------------


class WritesAFile:
    """Unpickling this runs ``Path(target).touch()``: what a crafted checkpoint could do."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_a_legacy_torch_file_carrying_code_is_refused_as_code(capsys):
    target = Path("created-by-the-payload").resolve()
    payload = {"format": "dualnet-gan-1", "generator": WritesAFile(target)}
    torch.save(payload, "legacy.pt", _use_new_zipfile_serialization=False)
    line = error_line(["gan", "sample", "legacy.pt"], 1, capsys)
    assert line.startswith("legacy.pt asks to run code or build objects that a checkpoint "
                           "never holds (")  # fmt: skip
    assert "pathlib" in line and "refusing to load it" in line
    assert not target.exists()


# --------------------------------------------------------------------------------------------
# Image files: bounded before they are decoded, checked before the network loads
# --------------------------------------------------------------------------------------------


def never_load_a_network(monkeypatch):
    """Make loading any network fail the test: the error must come before it."""
    from dualnet.apps import networks
    from dualnet.apps.style import network

    def slow_work(*args, **kwargs):
        raise AssertionError("the network was loaded before the bad input was reported")

    monkeypatch.setattr(network, "load_features", slow_work)
    monkeypatch.setattr(networks, "load_network", slow_work)


def write_png(path, height: int, width: int):
    Image.fromarray(np.full((height, width, 3), 128, dtype=np.uint8)).save(path)
    return path


def test_a_strip_of_an_image_is_refused_before_it_is_scaled(tmp_path, capsys, monkeypatch):
    never_load_a_network(monkeypatch)
    strip = write_png(tmp_path / "strip.png", 1, 1000)
    out = tmp_path / "out"
    argv = ["style", "transfer", "--content", str(strip), "--out", str(out)]
    line = error_line(argv, 2, capsys)
    assert "--content: " in line and "strip.png is 1000 x 1 pixels" in line
    assert (
        "its longer side more than 8 times its shorter; crop it to an aspect ratio of at most 8:1"
        in line
    )
    assert not out.exists()


def test_images_over_the_pixel_limit_are_refused_naming_it(tmp_path, capsys, monkeypatch):
    never_load_a_network(monkeypatch)
    monkeypatch.setattr(image_file, "MAX_PIXELS", 99)
    large = write_png(tmp_path / "large.png", 10, 10)
    line = error_line(["visualize", "saliency", "--images", str(large)], 2, capsys)
    assert "--images: " in line and "large.png is 10 x 10 pixels, more than the 99" in line


@pytest.mark.parametrize("pixels", [150, 400])  # over Pillow's limit: a warning, then an error
def test_a_decompression_bomb_is_an_error_of_the_flag(tmp_path, capsys, monkeypatch, pixels):
    never_load_a_network(monkeypatch)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    bomb = write_png(tmp_path / "bomb.png", 10, pixels // 10)
    out = tmp_path / "out"
    argv = ["style", "texture", "--style", str(bomb), "--content", "scene", "--out", str(out)]
    line = error_line(argv, 2, capsys)
    assert f"--style: cannot read {bomb} as an image" in line and "decompression bomb" in line
    assert not out.exists()


def test_a_misspelt_style_lists_the_built_in_ones(tmp_path, capsys, monkeypatch):
    never_load_a_network(monkeypatch)
    line = error_line(["style", "texture", "--style", "starry", "--out", str(tmp_path)], 2, capsys)
    assert line.endswith(
        "--style starry: neither a built-in image (stripes, mosaic, strokes, brick, grass, "
        "gravel) nor a file"
    )


def test_a_missing_content_file_is_reported_before_the_network_loads(tmp_path, capsys, monkeypatch):
    never_load_a_network(monkeypatch)
    out = tmp_path / "out"
    argv = ["style", "transfer", "--content", "holiday.jpg", "--out", str(out)]
    line = error_line(argv, 2, capsys)
    assert "--content holiday.jpg: neither a built-in image (chelsea, " in line
    assert not out.exists()


def test_a_missing_image_file_is_reported_before_the_network_loads(tmp_path, capsys, monkeypatch):
    never_load_a_network(monkeypatch)
    out = tmp_path / "out"
    argv = ["visualize", "saliency", "--images", "cat.jpg", "--out", str(out)]
    assert error_line(argv, 2, capsys).endswith("--images: no file at cat.jpg")
    assert not out.exists()


def test_a_failed_visualize_run_leaves_no_empty_out_folder(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["visualize", "fool", "--target", "not-a-class", "--n-images", "1", "--out", str(out)]
    assert "--target 'not-a-class' is not a class of" in error_line(argv, 2, capsys)
    assert not out.exists()
    kept = tmp_path / "kept"  # a folder the user made stays, empty as it was
    kept.mkdir()
    error_line([*argv[:-1], str(kept)], 2, capsys)
    assert kept.is_dir() and list(kept.iterdir()) in ([], [kept / ".writer.lock"])


# --------------------------------------------------------------------------------------------
# Run directories: one writer, no stuck runs, --out that cannot be a folder
# --------------------------------------------------------------------------------------------


def test_gan_train_resume_twice_at_once_is_refused_in_one_line(capsys):
    started = ["--steps", "4", "--stop-after-steps", "2", "--out", "run"]
    assert cli.main(["gan", "train", *GAN[:2], *GAN[4:], *started]) == 0
    capsys.readouterr()
    writer = another_writer(Path("run"))  # the same "continue it with" line pasted twice
    try:
        line = error_line(["gan", "train", "--resume", "run", "--device", "cpu"], 2, capsys)
    finally:
        writer.stdin.close()
        writer.wait(timeout=60)
    assert f"run is being written by process {writer.pid} on " in line
    assert line.endswith("one process writes a run at a time: wait for it to finish, or stop it")


def test_a_gan_run_that_fails_before_its_first_checkpoint_is_not_stuck(capsys):
    line = error_line(["gan", "train", *GAN, "--lr", "1e308", "--out", "run"], 1, capsys)
    assert "a loss became non-finite at step 1" in line
    assert not Path("run/last.pt").exists() and Path("run/config.json").is_file()
    line = error_line(["gan", "train", "--resume", "run"], 1, capsys)
    assert line.endswith(
        "the run in run stopped before its first checkpoint, so there is nothing to continue; "
        "start it again with the same command without --resume (the folder is reused)"
    )
    assert cli.main(["gan", "train", *GAN, "--out", "run"]) == 0  # the same folder, reused
    assert Path("run/last.pt").is_file()


@pytest.mark.parametrize(
    "argv",
    [["gan", "train", *GAN], ["style", "texture", "--steps", "1", "--content", "scene"]],
)
def test_out_at_a_file_or_inside_one_is_a_usage_error(argv, capsys):
    Path("notes.txt").write_text("mine")
    line = error_line([*argv, "--out", "notes.txt"], 2, capsys)
    assert line == "--out notes.txt: a file is there, not a folder; choose another --out"
    line = error_line([*argv, "--out", "notes.txt/run"], 2, capsys)
    assert line == "--out notes.txt/run: cannot create the folder (Not a directory)"
    assert Path("notes.txt").read_text() == "mine"


def test_a_full_disk_while_writing_a_checkpoint_is_one_line_and_keeps_the_last_one(
    capsys, monkeypatch
):
    real_save = torch.save
    calls = []

    def full_after_the_first(payload, file, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:  # what torch.save raises when the disk is full
            real_save(payload, file, *args, **kwargs)
            raise RuntimeError("PytorchStreamWriter failed writing file data/3: file write failed")
        real_save(payload, file, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_after_the_first)
    argv = ["gan", "train", *GAN[:2], *GAN[4:], "--steps", "4", "--sample-every", "2"]
    line = error_line([*argv, "--out", "run"], 1, capsys)
    assert line == (
        "cannot write run/last.pt (PytorchStreamWriter failed writing file data/3: file write "
        "failed); the previous one is kept"
    )
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load("run/last.pt", weights_only=True)["step"] == 2  # still loadable
    assert [p.name for p in Path("run").glob(".*.tmp")] == []
