"""Every action's ``summary.json`` against the documented table of keys
(``docs/applications/summaries.md``): each key is in the table, of the type the table gives,
in every application; ``--json`` prints the same summary. Small, quick runs of every action."""

import contextlib
import io
import json
import re
import sys
from pathlib import Path

import pytest

from dualnet import cli

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caption_helpers import write_cs231n  # noqa: E402
from gan_helpers import shared_cache  # noqa: E402

pytestmark = [pytest.mark.cli, pytest.mark.slow]

TABLE = Path(__file__).resolve().parents[2] / "docs" / "applications" / "summaries.md"
TYPES = {
    "number": (int, float),
    "integer": (int,),
    "text": (str,),
    "switch": (bool,),
    "list of numbers": (list,),
    "list of texts": (list,),
    "table of numbers": (dict,),
}
CPU = ["--device", "cpu"]


def rows(text: str) -> list[tuple[str, str, set[str]]]:
    """``(key, type, {actions})`` of the table rows ``| `key` | type | actions | meaning |``."""
    pattern = r"\|\s*`([a-z0-9_]+)`\s*\|\s*([a-z ]+?)\s*\|\s*([^|]+?)\s*\|"
    found = []
    for line in text.splitlines():
        match = re.match(pattern, line)
        if match:
            key, kind, actions = match.groups()
            found.append((key, kind, {a.strip() for a in actions.split(",")}))
    return found


def documented() -> tuple[dict[str, str], set[tuple[str, str]], set[tuple[str, str]]]:
    """The type of every key; the ``(key, action)`` pairs always written; those written only
    when measured."""
    always, measured = TABLE.read_text().split("## Written only when measured")
    types, written, sometimes = {}, set(), set()
    for pairs, text in ((written, always), (sometimes, measured)):
        for key, kind, actions in rows(text):
            assert types.setdefault(key, kind) == kind, f"{key} has two types in the table"
            pairs.update((key, action) for action in actions)
    return types, written, sometimes


def commands(root: Path, cs231n: Path) -> dict[str, list[str]]:
    """One small command of every action that computes, in an order that makes its inputs."""
    run, gan_run, caption_run = str(root / "classify"), str(root / "gan"), str(root / "caption")
    small_net = ["--model", run, "--n-images", "4", *CPU]
    return {
        "classify train": ["classify", "train", "--model", "convpool3", "--epochs", "1",
                           "--train-subset", "200", "--batch-size", "50", "--no-figures",
                           *CPU, "--out", run],
        "classify eval": ["classify", "eval", run, *CPU, "--out", str(root / "classify-eval")],
        "visualize saliency": ["visualize", "saliency", *small_net],
        "visualize fool": ["visualize", "fool", *small_net, "--steps", "3"],
        "visualize attack": ["visualize", "attack", *small_net],
        "visualize classes": ["visualize", "classes", *small_net, "--steps", "2"],
        "style transfer": ["style", "transfer", "--model", "random", "--image-size", "40",
                           "--style-size", "40", "--steps", "2", *CPU],
        "style invert": ["style", "invert", "--model", "random", "--image-size", "40",
                         "--steps", "2", *CPU],
        "style texture": ["style", "texture", "--model", "random", "--style-size", "40",
                          "--image-size", "40", "--steps", "2", *CPU],
        "caption train": ["caption", "train", "--cell", "rnn", "--data", "cs231n", str(cs231n),
                          "--epochs", "1", "--batch-size", "6", "--hidden-dim", "8",
                          "--wordvec-dim", "8", *CPU, "--out", caption_run],
        "caption sample": ["caption", "sample", caption_run, "--rows", "0", "1", *CPU],
        "caption eval": ["caption", "eval", caption_run, *CPU],
        "gan train": ["gan", "train", "--model", "fc", "--steps", "2", "--batch-size", "16",
                      "--log-every", "1", "--sample-every", "2", "--no-figures", *CPU,
                      "--out", gan_run],
        "gan sample": ["gan", "sample", gan_run, "--n-images", "4", *CPU],
        "gan eval": ["gan", "eval", gan_run, "--n-images", "100", *CPU],
    }  # fmt: skip


@pytest.fixture(scope="module")
def summaries(session_cache, tmp_path_factory) -> dict[str, tuple[dict, dict]]:
    """``{action: (summary.json, what --json printed)}`` of one run of every action."""
    root = tmp_path_factory.mktemp("summaries")
    cs231n = write_cs231n(root / "coco_captioning")
    found = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DUALNET_CACHE", str(session_cache))
        patch.chdir(root)
        digits = ["--data-root", str(shared_cache(tmp_path_factory))]  # the GAN tests' cache
        for action, command in commands(root, cs231n).items():
            if action in ("gan train", "gan eval"):
                command = [*command, *digits]
            out = root / action.replace(" ", "-")
            if "--out" not in command:
                command = [*command, "--out", str(out)]
            else:
                out = Path(command[command.index("--out") + 1])
            printed = run_json(command)
            found[action] = (json.loads((out / "summary.json").read_text()), printed)
    return found


def run_json(command: list[str]) -> dict:
    """Run ``dualnet COMMAND --json`` and read what it printed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert cli.main([*command, "--json"]) == 0, command
    return json.loads(buffer.getvalue())


def test_the_table_documents_every_key_of_every_summary(summaries):
    types, written, sometimes = documented()
    assert len(types) > 50, f"the tables of {TABLE} were not read"
    for action, (summary, _) in summaries.items():
        for key, value in summary.items():
            assert (key, action) in written | sometimes, f"{action}: {key} is not documented"
            kind = types[key]
            assert isinstance(value, TYPES[kind]), f"{action}: {key} = {value!r} is no {kind}"


def test_every_action_writes_the_keys_the_table_promises(summaries):
    _, written, _ = documented()
    assert {action for _, action in written} == set(summaries)
    for key, action in written:
        assert key in summaries[action][0], f"{action} does not write {key}"


def test_one_key_has_one_type_in_every_application(summaries):
    types: dict[str, set[str]] = {}
    for summary, _ in summaries.values():
        for key, value in summary.items():
            types.setdefault(key, set()).add(type(value).__name__.replace("int", "float"))
    assert {key: kinds for key, kinds in types.items() if len(kinds) > 1} == {}


def test_json_prints_the_summary(summaries):
    for action, (summary, printed) in summaries.items():
        assert printed == summary, action
