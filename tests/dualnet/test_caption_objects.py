"""Object recall and precision of generated captions: the parser of the scene grammar, the
multiset scores on hand-written captions, and ``caption eval`` reporting them."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dualnet import cli
from dualnet.apps.caption import evaluate, make_config, scenes
from dualnet.apps.caption.train import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caption_helpers import tiny_prepared  # noqa: E402

pytestmark = pytest.mark.captioning

SHAPE = {name: index for index, name in enumerate(scenes.SHAPES)}
COLOUR = {name: index for index, name in enumerate(scenes.COLOURS)}
EMPTY = (-1, -1, -1, -1)


def scene(*objects: str) -> np.ndarray:
    """``(3, 4)`` slots of the objects named ``"size colour shape"``, in cells 0, 1, 2."""
    slots = [EMPTY] * 3
    for cell, name in enumerate(objects):
        size, colour, shape = name.split()
        slots[cell] = (SHAPE[shape], COLOUR[colour], scenes.SIZE_WORDS.index(size), cell)
    return np.array(slots, np.int64)


# --------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------

THREE = [("red", "disk"), ("blue", "star"), ("white", "ring")]


@pytest.mark.parametrize(
    "caption",
    [
        "a red disk , a blue star and a white ring",
        "a small red disk , a large blue star and a small white ring",
        "three shapes : a red disk , a blue star and a white ring",
        "there are a red disk , a blue star and a white ring",
        "the disk is red , the star is blue and the ring is white",
    ],
)
def test_every_template_names_its_objects_in_order(caption):
    assert scenes.mentioned_objects(caption.split()) == THREE


def test_the_parser_inverts_the_grammar_of_the_scenes():
    objects = [(4, 3, 0), (2, 5, 1)]  # a small yellow cross, a large purple square
    for words in scenes.scene_captions(objects):
        assert scenes.mentioned_objects(words) == [("yellow", "cross"), ("purple", "square")]


@pytest.mark.parametrize(
    ("caption", "named"),
    [
        ("one shape : a green triangle", [("green", "triangle")]),
        ("there is a large yellow square", [("yellow", "square")]),
        ("the cross is purple", [("purple", "cross")]),
        # a repeated object is named once per mention
        ("a small blue ring , a small blue ring and a small blue ring", [("blue", "ring")] * 3),
        # words that fit neither form name nothing
        ("a small ring and a red", []),
        ("the disk is", []),
        ("the disk is red star", [("red", "disk")]),
        ("a red the star is", []),
        ("", []),
    ],
)
def test_incomplete_or_repeated_mentions(caption, named):
    assert scenes.mentioned_objects(caption.split()) == named


def test_the_objects_of_a_scene_are_named_by_colour_and_shape():
    slots = scene("large blue ring", "small white star")
    assert scenes.scene_objects(slots) == [("blue", "ring"), ("white", "star")]


# --------------------------------------------------------------------------------------------
# The scores
# --------------------------------------------------------------------------------------------


def test_a_ring_and_a_disk_captioned_as_three_rings():
    # the scene holds a blue ring and a blue disk; the ring is named three times: one match
    slots = scene("small blue ring", "small blue disk")
    words = "a small blue ring , a small blue ring and a small blue ring".split()
    assert evaluate.object_counts(words, slots) == (1, 2, 3)
    scores = evaluate.object_scores([words], slots[None])
    assert scores["object_recall"] == pytest.approx(1 / 2)
    assert scores["object_precision"] == pytest.approx(1 / 3)
    assert scores["object_scenes"] == 1


def test_two_equal_objects_need_two_mentions():
    slots = scene("small red disk", "large red disk")
    assert evaluate.object_counts("a red disk".split(), slots) == (1, 2, 1)
    assert evaluate.object_counts("a red disk and a red disk".split(), slots) == (2, 2, 2)


def test_colour_and_shape_must_both_be_right_and_sizes_do_not_count():
    slots = scene("small red disk", "large blue star", "small white ring")
    # right: the red disk (wrong size); wrong colour: the star; wrong shape: the ring
    words = "a large red disk , a green star and a white cross".split()
    assert evaluate.object_counts(words, slots) == (1, 3, 3)


def test_scores_sum_over_the_scenes_with_two_or_three_objects():
    objects = np.stack(
        [
            scene("small red disk"),  # one object: not scored
            scene("small red disk", "large blue star"),
            scene("small red disk", "large blue star", "small white ring"),
        ]
    )
    captions = [
        "a green cross".split(),  # would add a wrong mention if it were scored
        "the disk is red and the star is blue".split(),  # 2 of 2, 2 mentions
        "a red disk , a red disk and a purple ring".split(),  # 1 of 3, 3 mentions
    ]
    scores = evaluate.object_scores(captions, objects)
    # recall (2 + 1) / (2 + 3), precision (2 + 1) / (2 + 3)
    assert scores == {"object_recall": 3 / 5, "object_precision": 3 / 5, "object_scenes": 2}
    only_one = evaluate.object_scores(captions, objects, counts=(1,))
    assert only_one == {"object_recall": 0.0, "object_precision": 0.0, "object_scenes": 1}


def test_no_mentions_and_no_scenes_score_zero():
    objects = np.stack([scene("small red disk", "large blue star")])
    assert evaluate.object_scores([["a"]], objects)["object_precision"] == 0.0
    empty = evaluate.object_scores([], np.zeros((0, 3, 4), np.int64))
    assert empty == {"object_recall": 0.0, "object_precision": 0.0, "object_scenes": 0}


def test_captions_and_scenes_must_pair_up():
    with pytest.raises(ValueError, match="captions: 1 captions for 2 scenes"):
        evaluate.object_scores([["a"]], np.stack([scene("small red disk")] * 2))


# --------------------------------------------------------------------------------------------
# caption eval reports them
# --------------------------------------------------------------------------------------------


def planted_captions(objects: np.ndarray) -> list[str]:
    """Per scene: its first object twice and an object in no scene (a white triangle is
    never in the tiny set, which the test checks): three mentions."""
    captions = []
    for slots in objects:
        colour, shape = scenes.scene_objects(slots)[0]
        captions.append(f"a {colour} {shape} , a {colour} {shape} and a white triangle")
    return captions


def test_eval_reports_object_recall_and_precision(tmp_path, monkeypatch, capsys):
    prepared = tiny_prepared("rnn")
    run = tmp_path / "run"
    config = make_config("rnn", epochs=1, batch_size=60, hidden_dim=8, wordvec_dim=4,
                         device="cpu", progress=False, figures=False, out_dir=str(run))  # fmt: skip
    train(config, prepared)
    objects = prepared.data.splits["test"].objects
    assert ("white", "triangle") not in {o for s in objects for o in scenes.scene_objects(s)}
    word_to_idx = prepared.data.word_to_idx

    def planted(loaded, split, rows, beam=None):
        ids = [
            scenes.encode(text.split(), word_to_idx)[1:]  # no <START>, as decoding returns
            for text in planted_captions(objects[rows])
        ]
        return torch.from_numpy(np.stack(ids)), None

    monkeypatch.setattr(evaluate, "caption_images", planted)
    monkeypatch.setattr(evaluate, "prepare", lambda config: prepared)
    assert cli.main(["caption", "eval", str(run), "--out", str(tmp_path / "eval")]) == 0
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    counts = (objects[:, :, 0] >= 0).sum(axis=1)
    kept = objects[counts >= 2]
    # the first object's two mentions match it, and a second object of its colour and shape
    same = (kept[:, :, :2] == kept[:, :1, :2]).all(axis=2).sum(axis=1)
    matched = np.minimum(same, 2).sum()
    assert summary["object_scenes"] == len(kept) > 0
    assert summary["object_recall"] == pytest.approx(matched / counts[counts >= 2].sum())
    assert summary["object_precision"] == pytest.approx(matched / (3 * len(kept)))
    printed = capsys.readouterr().out
    assert "object_recall" in printed and "object_precision" in printed
