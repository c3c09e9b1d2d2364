r"""The embedded captioning set: procedurally drawn 112x112 scenes with grammar captions.

Every scene holds one to three objects, each a shape of :data:`SHAPES` (drawn by the signed
distance functions of :mod:`dualnet.data.embedded`) in one of the colours of :data:`COLOURS`
and one of two sizes, centred (with a little jitter) in its own cell of a 4x4 grid of 28x28
pixel cells. MobileNetV2 turns a 112 px image into a 4x4 feature map whose cells cover the
same 28x28 squares, so the cell of every object is also the feature cell an attention model
should look at; the cells are stored (``objects``) so that attention can be scored.

Every scene has :data:`CAPTIONS_PER_IMAGE` captions, one from each template of a small
grammar, listing the objects in reading order (row by row, left to right)::

    a red disk , a blue star and a white ring
    a small red disk , a large blue star and a small white ring
    three shapes : a red disk , a blue star and a white ring
    there are a red disk , a blue star and a white ring
    the disk is red , the star is blue and the ring is white

A caption has at most 14 words, so with ``<START>`` and ``<END>`` it fits the 17 columns of
``coco.pt``. An image-blind model can learn the templates but not which colours and shapes
fill them, so it scores poorly on BLEU-4.

:func:`object_cells` cuts the cells of such scenes out, one object (or none) each, labelled
``small red disk`` ... or ``empty`` (:data:`OBJECT_CLASSES`): single labelled pictures, no
captions, on which the offline stand-in of the encoder is pre-trained
(:mod:`~dualnet.apps.caption.encoders`).
"""

from __future__ import annotations

import numpy as np

from dualnet.data import embedded

IMAGE_SIZE = 112
GRID = 4
CELL = IMAGE_SIZE // GRID
MAX_OBJECTS = 3
CAPTION_COLUMNS = 17
CAPTIONS_PER_IMAGE = 5
VERSION = 1
"""Version of the drawing and the grammar, part of the cache file name."""

SHAPES = ("disk", "ring", "square", "triangle", "cross", "star")
COLOURS = {
    "red": (0.9, 0.15, 0.12),
    "green": (0.15, 0.75, 0.2),
    "blue": (0.2, 0.35, 0.95),
    "yellow": (0.95, 0.9, 0.15),
    "white": (0.95, 0.95, 0.95),
    "purple": (0.65, 0.2, 0.85),
}
SIZE_WORDS = ("small", "large")
RADIUS = {0: (7.0, 8.5), 1: (10.5, 12.5)}
"""Range of an object's radius in pixels, by size (0 small, 1 large)."""
COUNT_WORDS = ("one", "two", "three")
SPECIAL = ("<NULL>", "<START>", "<END>", "<UNK>")
WORDS = (
    *SPECIAL,
    "a",
    "the",
    "and",
    ",",
    ":",
    "is",
    "are",
    "there",
    "shape",
    "shapes",
    *COUNT_WORDS,
    *SIZE_WORDS,
    *COLOURS,
    *SHAPES,
)
"""The vocabulary, in id order: ``<NULL>`` 0, ``<START>`` 1, ``<END>`` 2, ``<UNK>`` 3."""


def listing(phrases: list[list[str]]) -> list[str]:
    """``p1``, ``p1 and p2`` or ``p1 , p2 and p3``."""
    words = list(phrases[0])
    for index, phrase in enumerate(phrases[1:], start=1):
        words += ["and" if index == len(phrases) - 1 else ","] + phrase
    return words


def scene_captions(objects: list[tuple[int, int, int]]) -> list[list[str]]:
    """The :data:`CAPTIONS_PER_IMAGE` captions of a scene.

    Args:
        objects: ``(shape, colour, size)`` indices of each object, in reading order.

    Returns:
        One list of words per template.
    """
    colour_names = list(COLOURS)
    named = [(SHAPES[s], colour_names[c], SIZE_WORDS[z]) for s, c, z in objects]
    plain = listing([["a", c, s] for s, c, _ in named])
    count = len(named)
    return [
        plain,
        listing([["a", z, c, s] for s, c, z in named]),
        [COUNT_WORDS[count - 1], "shape" if count == 1 else "shapes", ":", *plain],
        ["there", "is" if count == 1 else "are", *plain],
        listing([["the", s, "is", c] for s, c, _ in named]),
    ]


def mentioned_objects(words: list[str]) -> list[tuple[str, str]]:
    """The objects a caption names, as ``(colour, shape)`` pairs in the order it names them:
    the inverse of :func:`scene_captions`, for generated captions too.

    An object is named by a colour followed by a shape (``a red disk``, ``a small red disk``)
    or by a shape followed by ``is`` and a colour (``the disk is red``). Words that fit
    neither form (a shape without a colour, a colour without a shape) name nothing. Sizes are
    not read.

    Args:
        words: The caption's words, e.g. ``"the disk is red , the star is blue".split()``.

    Returns:
        One ``(colour, shape)`` per mention; an object named twice appears twice.
    """
    found = []
    index = 0
    while index < len(words):
        word, after = words[index], words[index + 1 : index + 3]
        if word in COLOURS and after[:1] and after[0] in SHAPES:
            found.append((word, after[0]))
            index += 2
        elif word in SHAPES and len(after) == 2 and after[0] == "is" and after[1] in COLOURS:
            found.append((after[1], word))
            index += 3
        else:
            index += 1
    return found


def scene_objects(slots: np.ndarray) -> list[tuple[str, str]]:
    """The ``(colour, shape)`` names of the objects of one scene's ``(3, 4)`` slots
    ``(shape, colour, size, cell)`` (a slot whose shape is ``-1`` is empty)."""
    colour_names = list(COLOURS)
    return [(colour_names[colour], SHAPES[shape]) for shape, colour, _, _ in slots if shape >= 0]


def draw_objects(objects: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw scenes.

    Args:
        objects: ``(n, 3, 4)`` int64, per object slot ``(shape, colour, size, cell)``; a slot
            whose shape is ``-1`` is empty.
        rng: The random stream of the background, jitter, rotation and noise.

    Returns:
        ``uint8`` images ``(n, 3, 112, 112)``.
    """
    n = objects.shape[0]
    centres = np.arange(IMAGE_SIZE, dtype=np.float32) + 0.5
    x, y = np.meshgrid(centres, centres, indexing="xy")
    grey = rng.uniform(0.08, 0.3, (n, 1, 1, 1))
    tint = rng.normal(0, 0.03, (n, 3, 1, 1))
    images = np.broadcast_to(grey + tint, (n, 3, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)
    palette = np.array(list(COLOURS.values()), dtype=np.float32)
    for slot in range(MAX_OBJECTS):
        shape, colour, size, cell = objects[:, slot].T
        present = shape >= 0
        row, col = np.divmod(np.where(present, cell, 0), GRID)
        cx = ((col + 0.5) * CELL + rng.uniform(-2, 2, n))[:, None, None]
        cy = ((row + 0.5) * CELL + rng.uniform(-2, 2, n))[:, None, None]
        low = np.where(size == 1, RADIUS[1][0], RADIUS[0][0])
        high = np.where(size == 1, RADIUS[1][1], RADIUS[0][1])
        radius = rng.uniform(low, high)[:, None, None]
        angle = rng.uniform(0, 2 * np.pi, (n, 1, 1))
        cos, sin = np.cos(angle), np.sin(angle)
        u = (((x - cx) * cos + (y - cy) * sin) / radius).astype(np.float32)
        v = (((cx - x) * sin + (y - cy) * cos) / radius).astype(np.float32)
        distance = np.full((n, IMAGE_SIZE, IMAGE_SIZE), np.inf, np.float32)
        for index, name in enumerate(SHAPES):
            members = present & (shape == index)
            if members.any():
                distance[members] = embedded.SHAPES[name](u[members], v[members], rng)
        alpha = np.clip(0.5 - distance * radius, 0, 1).astype(np.float32)
        jitter = rng.uniform(-0.06, 0.06, (n, 3)).astype(np.float32)
        paint = np.clip(palette[np.where(present, colour, 0)] + jitter, 0, 1)
        images = embedded._paint(images, alpha, paint)
    images = images + rng.normal(0, 0.03, images.shape).astype(np.float32)
    return np.clip(np.rint(images * 255), 0, 255).astype(np.uint8)


def random_objects(n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 3, 4)`` object slots: 1-3 objects in distinct cells, in reading order."""
    count = rng.integers(1, MAX_OBJECTS + 1, n)
    cells = np.sort(np.argsort(rng.random((n, GRID * GRID)), axis=1)[:, :MAX_OBJECTS], axis=1)
    objects = np.stack(
        [
            rng.integers(0, len(SHAPES), (n, MAX_OBJECTS)),
            rng.integers(0, len(COLOURS), (n, MAX_OBJECTS)),
            rng.integers(0, 2, (n, MAX_OBJECTS)),
            cells,
        ],
        axis=2,
    ).astype(np.int64)
    # keep `count` of the three sorted cells, chosen at random, so order stays reading order
    keep = np.argsort(rng.random((n, MAX_OBJECTS)), axis=1) < count[:, None]
    objects[~keep] = -1
    order = np.argsort(np.where(keep, objects[:, :, 3], 99), axis=1, kind="stable")
    return np.take_along_axis(objects, order[:, :, None], axis=1)


OBJECT_CLASSES = ("empty",) + tuple(
    f"{size} {colour} {shape}" for size in SIZE_WORDS for colour in COLOURS for shape in SHAPES
)
"""The labels of :func:`object_cells`: ``empty``, then size x colour x shape (73 classes)."""
EMPTY_CELLS = 0.2
"""The chance that a scene also gives :func:`object_cells` one of its empty cells."""


def object_label(shape: int, colour: int, size: int) -> int:
    """The index in :data:`OBJECT_CLASSES` of an object."""
    return 1 + (size * len(COLOURS) + colour) * len(SHAPES) + shape


def object_cells(n_scenes: int, seed: int, split_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Cells of ``n_scenes`` scenes drawn as the captioning scenes are, each holding one object
    or (from a fifth of the scenes) none: the labelled pictures the encoder's stand-in is
    pre-trained on, without any caption.

    Their random stream is not that of :func:`generate_split`: no scene of the captioning set
    is among them.

    Returns:
        ``(cells (M, 3, 28, 28) uint8, labels (M,) int64)`` with labels indexing
        :data:`OBJECT_CLASSES`, in scene order, each scene's objects in reading order.
    """
    key = (split_index, VERSION, 1)  # a stream of its own, see generate_split
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
    objects = random_objects(n_scenes, rng)
    cells, labels = [], []
    for start in range(0, n_scenes, 500):
        chunk = objects[start : start + 500]
        images = draw_objects(chunk, rng)
        spare = rng.random(len(chunk)) < EMPTY_CELLS
        empty = rng.integers(0, GRID * GRID - MAX_OBJECTS, len(chunk))
        for image, scene, add_empty, pick in zip(images, chunk, spare, empty, strict=True):
            present = scene[scene[:, 0] >= 0]
            for shape, colour, size, cell in present:
                cells.append(cell_pixels(image, cell))
                labels.append(object_label(shape, colour, size))
            if add_empty:
                free = np.setdiff1d(np.arange(GRID * GRID), present[:, 3])
                cells.append(cell_pixels(image, free[pick % len(free)]))
                labels.append(0)
    if not cells:
        return np.zeros((0, 3, CELL, CELL), np.uint8), np.zeros(0, np.int64)
    return np.stack(cells), np.array(labels, np.int64)


def cell_pixels(image: np.ndarray, cell: int) -> np.ndarray:
    """The ``(3, 28, 28)`` pixels of ``cell`` (row-major: ``row * 4 + col``) of ``image``."""
    row, col = divmod(int(cell), GRID)
    return image[:, row * CELL : (row + 1) * CELL, col * CELL : (col + 1) * CELL]


def encode(words: list[str], word_to_idx: dict[str, int]) -> np.ndarray:
    """``<START> words <END>`` as ids, padded with ``<NULL>`` to :data:`CAPTION_COLUMNS`."""
    ids = [word_to_idx["<START>"], *(word_to_idx[w] for w in words), word_to_idx["<END>"]]
    return np.array(ids + [word_to_idx["<NULL>"]] * (CAPTION_COLUMNS - len(ids)), np.int64)


def generate_split(n: int, seed: int, split_index: int) -> dict[str, np.ndarray]:
    """One split: ``images (n, 3, 112, 112)`` uint8, ``captions (5n, 17)`` int64,
    ``image_idxs (5n,)`` int64 and ``objects (n, 3, 4)`` int64."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(split_index, VERSION)))
    objects = random_objects(n, rng)
    images = np.empty((n, 3, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    for start in range(0, n, 500):
        images[start : start + 500] = draw_objects(objects[start : start + 500], rng)
    word_to_idx = {w: i for i, w in enumerate(WORDS)}
    captions = [
        encode(words, word_to_idx)
        for scene in objects
        for words in scene_captions([tuple(o[:3]) for o in scene if o[0] >= 0])
    ]
    return {
        "images": images,
        "captions": np.stack(captions) if captions else np.zeros((0, CAPTION_COLUMNS), np.int64),
        "image_idxs": np.repeat(np.arange(n), CAPTIONS_PER_IMAGE).astype(np.int64),
        "objects": objects,
    }
