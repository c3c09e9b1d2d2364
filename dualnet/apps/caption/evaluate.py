"""Scoring and showing a trained captioning run: ``dualnet caption eval`` and ``sample``.

:func:`evaluate_run` captions every image of the evaluation split (``test`` for the embedded
set, ``val`` otherwise), greedily or with beam search, and scores the captions against all
references of each image with corpus BLEU-1..4 (0-1 scale) and the cs231n metric; for an
attention run on the embedded scenes also ``attention_pointing``; on the embedded scenes
``object_recall`` and ``object_precision`` (:func:`object_scores`: which of a scene's objects
its caption names with the right colour and shape, on the scenes with two or three objects);
and ``blind_bleu4``: the same model given the features of *another* image (a fixed shuffle),
which measures how much of the score the image itself earns.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from dualnet.apps import figures, runs, runtime
from dualnet.apps.caption import bleu, scenes
from dualnet.apps.caption.config import CHECKPOINT_FORMAT, CaptionConfig
from dualnet.apps.caption.config import config_from_checkpoint as stored_config
from dualnet.apps.caption.data import CaptionDataError, decode_captions
from dualnet.apps.caption.decode import attention_pointing, beam_search, greedy
from dualnet.apps.caption.train import Prepared, build_model, prepare

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_LENGTH = 16
EMBEDDED_KEYS = (
    "attention_pointing",
    "pointing_words",
    "object_recall",
    "object_precision",
    "object_scenes",
)
"""The keys of the summary that only the embedded scenes have (their objects are known);
the attention's pointing only for attention runs."""


@dataclass
class LoadedRun:
    path: Path
    config: CaptionConfig
    model: torch.nn.Module
    prepared: Prepared

    @property
    def split(self) -> str:
        return self.prepared.data.eval_split


def load_run(
    run: str | Path, prepared: Prepared | None = None, data_root=None, device: str = "cpu"
) -> LoadedRun:
    """The model of a run (directory or checkpoint) with its data and features.

    Raises:
        CheckpointError: not a captioning checkpoint, or one whose weights are not those of the
            model its configuration builds (another hidden size, another cell).
        CaptionDataError: the features are not as wide as the checkpoint's ``W_proj``.
    """
    path = runs.best_checkpoint(run)
    checkpoint = runs.load_checkpoint(
        path, CHECKPOINT_FORMAT, holds=("model", "idx_to_word"), config=CaptionConfig
    )
    config = stored_config(checkpoint)
    if data_root is not None:
        config.data_root = data_root
    prepared = prepare(config) if prepared is None else prepared
    expected = feature_width(checkpoint["model"], path)
    if prepared.input_dim != expected:
        raise CaptionDataError(
            f"{path}: model/W_proj takes {expected}-d features, but the features of "
            f"{prepared.data.source} are {prepared.input_dim}-d"
        )
    if list(checkpoint["idx_to_word"]) != list(prepared.data.idx_to_word):
        raise CaptionDataError(
            f"{path}: idx_to_word differs from the vocabulary of {prepared.data.source}"
        )
    model = build_model(config, prepared.data.word_to_idx, expected)
    what = f"the {config.cell} model of its configuration (--hidden-dim {config.hidden_dim})"
    runs.load_state(model, checkpoint["model"], str(path), what)
    model.to(runtime.resolve_device(device))
    return LoadedRun(path, config, model.eval(), prepared)


def feature_width(state, path: Path) -> int:
    """The width of the features that the stored weights take: the rows of ``W_proj``."""
    projection = state.get("W_proj") if isinstance(state, dict) else None
    if not torch.is_tensor(projection) or projection.ndim != 2:
        raise runs.CheckpointError(
            f"{path}: its model has no W_proj matrix (the feature projection)"
        )
    return int(projection.shape[0])


def caption_images(loaded: LoadedRun, split: str, rows, beam: int | None = None):
    """Generated captions ``(n, 16)`` and attention weights (or ``None``) for images ``rows``
    of ``split``."""
    weights = loaded.model.W_embed
    inputs = torch.from_numpy(np.ascontiguousarray(loaded.prepared.inputs[split][rows]))
    inputs = inputs.to(device=weights.device, dtype=weights.dtype)
    if beam:
        return beam_search(loaded.model, inputs, beam, MAX_LENGTH)
    captions, attention = greedy(loaded.model, inputs, MAX_LENGTH)
    return captions.cpu(), (None if attention is None else attention.cpu())


def texts(captions, idx_to_word) -> list[list[str]]:
    return [bleu.tokens(text) for text in decode_captions(np.asarray(captions), idx_to_word)]


def score(loaded: LoadedRun, split: str, rows: np.ndarray, beam: int | None) -> dict:
    """BLEU of the captions of images ``rows`` (and attention pointing when it applies)."""
    words = loaded.prepared.data.idx_to_word
    part = loaded.prepared.data.splits[split]
    references = [texts(r, words) for r in part.references()]
    references = [references[i] for i in rows]
    captions, weights = caption_images(loaded, split, rows, beam)
    hypotheses = texts(captions, words)
    summary = bleu.corpus_bleu(references, hypotheses)
    summary["cs231n_bleu1"] = bleu.cs231n_bleu1(
        [[" ".join(r) for r in refs] for refs in references], [" ".join(h) for h in hypotheses]
    )
    if weights is not None and part.objects is not None:
        hits, total = attention_pointing(
            captions.numpy(), weights.numpy(), part.objects[rows], words, scenes.SHAPES
        )
        summary["attention_pointing"] = hits / max(total, 1)
        summary["pointing_words"] = total
    if part.objects is not None:
        summary.update(object_scores(hypotheses, part.objects[rows]))
    return summary, captions, weights


def object_counts(words: list[str], slots: np.ndarray) -> tuple[int, int, int]:
    """How well one caption names the objects of its scene.

    Args:
        words: The generated caption's words.
        slots: The scene's ``(3, 4)`` object slots ``(shape, colour, size, cell)``.

    Returns:
        ``(matched, objects, mentions)``: the size of the multiset intersection of the
        ``(colour, shape)`` pairs the caption names (:func:`~.scenes.mentioned_objects`) and
        those of the scene (an object named twice is matched once), the scene's objects, and
        the caption's mentions.
    """
    named = Counter(scenes.mentioned_objects(words))
    present = Counter(scenes.scene_objects(slots))
    matched = sum((named & present).values())
    return matched, sum(present.values()), sum(named.values())


def object_scores(captions: list[list[str]], objects: np.ndarray, counts=(2, 3)) -> dict:
    """Object recall and precision of generated captions on the scenes holding ``counts``
    objects.

    Args:
        captions: The words of each generated caption, ``N`` of them.
        objects: ``(N, 3, 4)`` object slots of the scenes (``-1``: empty).
        counts: Which scenes count, by their number of objects.

    Returns:
        ``object_recall`` (matched objects / the scenes' objects), ``object_precision``
        (matched mentions / mentions; 0 when nothing is named), both summed over the scenes
        before dividing, and ``object_scenes``, how many scenes were scored.
    """
    if len(captions) != len(objects):
        raise ValueError(f"captions: {len(captions)} captions for {len(objects)} scenes")
    kept = [
        object_counts(words, slots)
        for words, slots in zip(captions, objects, strict=True)
        if int((slots[:, 0] >= 0).sum()) in counts
    ]
    matched, total, mentions = np.array(kept, dtype=np.int64).reshape(-1, 3).sum(axis=0)
    return {
        "object_recall": int(matched) / max(int(total), 1),
        "object_precision": int(matched) / max(int(mentions), 1),
        "object_scenes": len(kept),
    }


def evaluate_run(
    run,
    beam: int | None = None,
    n_images: int | None = None,
    out_dir=None,
    prepared=None,
    device: str = "auto",
) -> dict:
    """Score a run on the first ``n_images`` images of its evaluation split (all when
    ``None``), decoding on ``device``; writes ``summary.json`` under ``out_dir``."""
    loaded = load_run(run, prepared, device=device)
    split = loaded.split
    n = loaded.prepared.data.splits[split].num_images
    rows = np.arange(n if n_images is None else min(n_images, n))
    summary, _, _ = score(loaded, split, rows, beam)
    shuffle = np.random.default_rng(runtime.derived_seed(loaded.config.seed, 11)).permutation(
        len(rows)
    )
    blind = shuffled_bleu4(loaded, split, rows, shuffle, beam)
    result = {
        **{f"bleu{k}": summary[f"bleu{k}"] for k in range(1, 5)},
        "cs231n_bleu1": summary["cs231n_bleu1"],
        **{k: summary[k] for k in EMBEDDED_KEYS if k in summary},
        "blind_bleu4": blind,
        "n_images": int(len(rows)),
        "decoding": f"beam {beam}" if beam else "greedy",
        "split": split,
        "cell": loaded.config.cell,
        "backend": loaded.config.backend,
        "checkpoint": str(loaded.path),
    }
    if out_dir is not None:
        runs.write_json(Path(out_dir) / "summary.json", result)
    return result


def shuffled_bleu4(loaded: LoadedRun, split: str, rows, shuffle, beam) -> float:
    """BLEU-4 of the captions generated from the features of other images."""
    words = loaded.prepared.data.idx_to_word
    references = [texts(r, words) for r in loaded.prepared.data.splits[split].references()]
    captions, _ = caption_images(loaded, split, rows[shuffle], beam)
    return bleu.corpus_bleu([references[i] for i in rows], texts(captions, words))["bleu4"]


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def captions_figure(images, generated: list[str], references: list[str], title="") -> Figure:
    """Images with their generated caption (first line) and one reference (second)."""
    columns = min(4, len(images))
    rows = -(-len(images) // columns)
    figure = figures.new_figure(figsize=(3.0 * columns, 3.5 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis in axes:
        axis.axis("off")
    for axis, image, said, reference in zip(axes, images, generated, references, strict=False):
        axis.imshow(image.transpose(1, 2, 0), interpolation="nearest")
        text = textwrap.fill(said, 34) + "\n" + textwrap.fill(f"({reference})", 34)
        axis.set_title(text, fontsize=8)
    if title:
        figure.suptitle(title)
    return figure


def attention_figure(image: np.ndarray, words: list[str], weights: np.ndarray) -> Figure:
    """The image once per generated word, with that step's 4x4 attention drawn over it.

    Args:
        image: ``(3, H, W)`` uint8.
        words: The generated words (``<END>`` included if produced).
        weights: ``(len(words), 4, 4)``.
    """
    columns = min(6, len(words))
    rows = -(-len(words) // columns)
    figure = figures.new_figure(figsize=(1.7 * columns, 1.9 * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False).ravel())
    size = image.shape[1]
    for axis in axes:
        axis.axis("off")
    for axis, word, grid in zip(axes, words, weights, strict=False):
        axis.imshow(image.transpose(1, 2, 0), interpolation="nearest")
        axis.imshow(grid, cmap="magma", alpha=0.55, extent=(0, size, size, 0), vmin=0)
        axis.set_title(word, fontsize=9)
    return figure


def sample_run(
    run, rows: list[int] | None = None, beam=None, out_dir=None, device: str = "auto"
) -> dict:
    """Caption images ``rows`` (the first eight when ``None``) of a run's evaluation split and
    draw them into ``out_dir``; with attention, one attention figure per image. Returns the
    summary (also written to ``out_dir/summary.json``): ``captions``, ``references``,
    ``rows``, ``n_images``, ``decoding`` and the ``files`` drawn."""
    loaded = load_run(run, device=device)
    split = loaded.split
    part = loaded.prepared.data.splits[split]
    rows = np.array(rows if rows else range(min(8, part.num_images)))
    if rows.min() < 0 or rows.max() >= part.num_images:
        raise ValueError(f"--rows must be in 0-{part.num_images - 1}, got {rows.tolist()}")
    words = loaded.prepared.data.idx_to_word
    captions, weights = caption_images(loaded, split, rows, beam)
    generated = decode_captions(captions.numpy(), words)
    references = [decode_captions(part.references()[i][:1], words)[0] for i in rows]
    drawn = {}
    if part.images is not None:
        drawn["captions.png"] = captions_figure(part.images[rows], generated, references)
        if weights is not None:
            for k, row in enumerate(rows):
                said = generated[k].split() + ["<END>"]
                said = said[: int((captions[k] != 0).sum())]
                drawn[f"attention-{row}.png"] = attention_figure(
                    part.images[row], said, weights[k, : len(said)].numpy()
                )
    summary = {
        "captions": generated,
        "references": references,
        "rows": rows.tolist(),
        "n_images": len(rows),
        "decoding": f"beam {beam}" if beam else "greedy",
        "split": split,
        "checkpoint": str(loaded.path),
        "files": [],
    }
    if out_dir is not None:
        for name, figure in drawn.items():
            summary["files"].append(str(figures.save(figure, Path(out_dir) / name)))
        runs.write_json(Path(out_dir) / "summary.json", summary)
    return summary
