"""Captioning data: the embedded scenes, the coco.pt and cs231n loaders on files written in
their exact layouts, the classic helpers, and the errors for bad files."""

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from dualnet.apps.caption import data, encoders, scenes
from dualnet.data import DatasetNotFoundError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caption_helpers import (  # noqa: E402
    WORDS,
    coco_pt_payload,
    tiny_embedded,
    tiny_maps,
    tiny_root,
    write_coco_pt,
    write_cs231n,
)

pytestmark = pytest.mark.captioning


# --------------------------------------------------------------------------------------------
# The embedded scenes
# --------------------------------------------------------------------------------------------


def test_the_scenes_are_deterministic_and_sized_like_coco_pt():
    first = scenes.generate_split(12, seed=3, split_index=1)
    second = scenes.generate_split(12, seed=3, split_index=1)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    assert first["images"].shape == (12, 3, 112, 112) and first["images"].dtype == np.uint8
    assert first["captions"].shape == (60, 17) and first["captions"].dtype == np.int64
    other = scenes.generate_split(12, seed=4, split_index=1)
    assert not np.array_equal(first["images"], other["images"])


def test_every_scene_has_five_captions_that_name_its_objects_in_reading_order():
    split = tiny_embedded().splits["train"]
    words = scenes.WORDS
    assert words[:4] == ("<NULL>", "<START>", "<END>", "<UNK>")
    references = split.references()
    assert all(len(r) == 5 for r in references)
    colours = list(scenes.COLOURS)
    for scene, refs in zip(split.objects, references, strict=True):
        present = scene[scene[:, 0] >= 0]
        assert 1 <= len(present) <= 3
        assert list(present[:, 3]) == sorted(set(present[:, 3]))  # distinct cells, in order
        expected = " and ".join(f"a {colours[c]} {scenes.SHAPES[s]}" for s, c, _, _ in present)
        if len(present) == 3:
            expected = expected.replace(" and ", " , ", 1)
        assert data.decode_captions(refs[0], words) == expected
        assert (refs[:, 0] == 1).all() and ((refs == 2).sum(axis=1) == 1).all()


def test_every_object_is_painted_inside_its_cell():
    split = tiny_embedded().splits["train"]
    for image, scene in zip(split.images[:20], split.objects[:20], strict=True):
        background = np.median(image.reshape(3, -1), axis=1)
        change = np.abs(image.astype(int) - background[:, None, None]).sum(axis=0) > 120
        painted = change.reshape(4, 28, 4, 28).sum(axis=(1, 3)).ravel()
        cells = scene[scene[:, 0] >= 0, 3]
        assert (painted[cells] > 20).all()  # each object covers more than 20 pixels
        others = np.setdiff1d(np.arange(16), cells)
        assert (painted[others] < 5).all()  # and the empty cells stay (nearly) empty


def test_the_scenes_are_cached(monkeypatch, tmp_path):
    first = data.load_embedded_captions(tmp_path, sizes=(3, 2, 2))
    monkeypatch.setattr(scenes, "generate_split", lambda *a: pytest.fail("drawn again"))
    second = data.load_embedded_captions(tmp_path, sizes=(3, 2, 2))
    np.testing.assert_array_equal(first.splits["val"].images, second.splits["val"].images)
    assert second.eval_split == "test"


# --------------------------------------------------------------------------------------------
# Classic helpers
# --------------------------------------------------------------------------------------------


def test_decode_captions_stops_at_end_and_skips_start_and_null():
    captions = np.array([[1, 4, 5, 2, 6, 0], [1, 6, 7, 8, 9, 0]])
    assert data.decode_captions(captions, WORDS) == ["a cat", "dog on the mat"]
    assert data.decode_captions(captions[0], WORDS) == "a cat"


def test_sample_minibatch_pairs_each_caption_with_its_image():
    split = tiny_embedded().splits["train"]
    captions, idxs = data.sample_minibatch(split, 7, np.random.default_rng(0))
    assert captions.shape == (7, 17) and idxs.shape == (7,)
    references = split.references()
    for caption, image in zip(captions, idxs, strict=True):
        assert any((caption == r).all() for r in references[image])


# --------------------------------------------------------------------------------------------
# coco.pt
# --------------------------------------------------------------------------------------------


def test_coco_pt_is_read_in_its_exact_layout(tmp_path):
    payload = coco_pt_payload()
    loaded = data.load_coco_pt(write_coco_pt(tmp_path / "coco.pt", payload))
    assert loaded.idx_to_word == WORDS and loaded.eval_split == "val"
    train = loaded.splits["train"]
    np.testing.assert_array_equal(train.images, payload["train_images"].numpy())
    np.testing.assert_array_equal(train.captions, payload["train_captions"].numpy())
    np.testing.assert_array_equal(train.image_idxs, np.arange(12))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: p.pop("val_captions"), "lacks the key 'val_captions'"),
        (
            lambda p: p.update(train_captions=p["train_captions"].int()),
            "train_captions has dtype torch.int32, expected torch.int64",
        ),
        (
            lambda p: p["train_captions"].__setitem__((2, 3), 99),
            "train_captions holds ids from 0 to 99, outside the vocabulary of 10 words",
        ),
        (
            lambda p: p["val_captions"].__setitem__((1, 0), 4),
            r"val_captions\[1\] does not start with <START>",
        ),
        (
            lambda p: p["vocab"].update(idx_to_token=["a", *WORDS]),
            r"vocab\['idx_to_token'\] must start with <NULL>",
        ),
    ],
)
def test_a_bad_coco_pt_names_the_file_and_the_key(tmp_path, change, message):
    payload = coco_pt_payload()
    change(payload)
    path = write_coco_pt(tmp_path / "coco.pt", payload)
    with pytest.raises(data.CaptionDataError, match=message) as error:
        data.load_coco_pt(path)
    assert str(path) in str(error.value)


def test_a_missing_coco_pt_says_what_to_download_and_which_flag(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        data.load_coco_pt(tmp_path / "coco.pt")
    assert data.COCO_PT_URL in str(error.value) and "--data coco.pt FILE" in str(error.value)


# --------------------------------------------------------------------------------------------
# The cs231n folder
# --------------------------------------------------------------------------------------------


def test_the_cs231n_folder_is_read_in_its_exact_layout(tmp_path):
    root = write_cs231n(tmp_path / "coco_captioning")
    loaded = data.load_cs231n(root)
    train = loaded.splits["train"]
    with h5py.File(root / "coco2014_captions.h5") as file:
        np.testing.assert_array_equal(train.captions, file["train_captions"][()])
        assert file["train_captions"].dtype == np.int32
    with h5py.File(root / "train2014_vgg16_fc7_pca.h5") as file:
        np.testing.assert_array_equal(train.features, file["features"][()])
    assert train.captions.dtype == np.int64 and train.features.shape == (10, 16)
    assert len(train.urls) == 10 and train.urls[3].endswith("000003.jpg")
    assert [len(r) for r in train.references()] == [3] * 10
    assert not loaded.has_images


def test_cs231n_image_indices_beyond_the_features_are_refused(tmp_path):
    root = write_cs231n(tmp_path / "c")
    with h5py.File(root / "coco2014_captions.h5", "a") as file:
        idxs = file["val_image_idxs"][()]
        idxs[-1] = 4
        file["val_image_idxs"][...] = idxs
    with pytest.raises(data.CaptionDataError) as error:
        data.load_cs231n(root)
    message = str(error.value)
    assert "coco2014_captions.h5: val_image_idxs points at image 4" in message
    assert "val2014_vgg16_fc7_pca.h5 has features for 4 images" in message


def test_cs231n_files_that_are_missing_or_bad_are_named(tmp_path):
    root = write_cs231n(tmp_path / "c")
    (root / "train2014_vgg16_fc7_pca.h5").unlink()
    with pytest.raises(DatasetNotFoundError, match="train2014_vgg16_fc7_pca.h5 is missing") as e:
        data.load_cs231n(root)
    assert data.CS231N_URL in str(e.value) and "--data cs231n DIR" in str(e.value)
    root = write_cs231n(tmp_path / "d")
    (root / "coco2014_vocab.json").write_text(json.dumps({"word_to_idx": {}}))
    with pytest.raises(data.CaptionDataError, match="coco2014_vocab.json lacks the key"):
        data.load_cs231n(root)


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------


def test_features_are_the_4x4_map_and_its_pooled_vector_extracted_once(monkeypatch):
    maps = tiny_maps()
    assert maps["train"].shape == (60, 1280, 4, 4) and maps["train"].dtype == np.float16
    encoder = encoders.random_encoder()
    # the untrained network's batch-norm statistics are re-estimated on the training scenes
    encoders.calibrate_batchnorm(encoder, tiny_embedded().splits["train"].images)
    images = tiny_embedded().splits["val"].images[:2]
    x = torch.from_numpy(images).float() / 255 - torch.tensor(encoder.mean).view(1, 3, 1, 1)
    x = x / torch.tensor(encoder.std).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = encoder.network(x)
        full = torch.nn.Sequential(encoder.network, torch.nn.AdaptiveAvgPool2d(1)).eval()(x)
    assert expected.std() > 0.1  # not the vanishing signal of the uncalibrated network
    np.testing.assert_allclose(maps["val"][:2], expected.numpy(), rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(
        encoders.pooled(maps["val"][:2]), full.flatten(1).numpy(), rtol=2e-3, atol=2e-3
    )
    monkeypatch.setattr(encoders, "extract", lambda *a, **k: pytest.fail("extracted again"))
    again = encoders.feature_maps(tiny_embedded(), encoder, tiny_root(), progress=False)
    np.testing.assert_array_equal(again["test"], maps["test"])


def test_imagenet_weights_offline_name_the_file_and_the_flag(tmp_path, monkeypatch):
    from dualnet.apps import pretrained

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(url, destination, progress=True):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(pretrained.WeightsNotFoundError) as error:
        encoders.load_encoder("imagenet")
    assert "mobilenet_v2-b0353104.pth" in str(error.value)
    assert "--weights FILE" in str(error.value)


# --------------------------------------------------------------------------------------------
# The grid of the scenes and the grid of the encoder
# --------------------------------------------------------------------------------------------


def one_object_scene(cell: int, shape: int = 0, colour: int = 4, size: int = 1) -> np.ndarray:
    objects = np.full((1, 3, 4), -1, np.int64)
    objects[0, 0] = (shape, colour, size, cell)
    return scenes.draw_objects(objects, np.random.default_rng(cell))[0]


def test_a_scene_cell_is_the_attention_grid_cell_of_the_same_index():
    # the scenes number their cells row by row; the attention flattens (H, 4, 4) row by row
    cells = torch.zeros(16, 1, 4, 4)
    cells.view(16, 16)[torch.arange(16), torch.arange(16)] = 10.0
    from torch_impl.attention import dot_product_attention

    _, weights = dot_product_attention(torch.ones(16, 1), cells)
    assert weights.reshape(16, 16).argmax(dim=1).tolist() == list(range(16))
    for cell in (0, 3, 6, 12, 15):
        image = one_object_scene(cell).astype(float).sum(axis=0)
        rows, cols = np.nonzero(image > image.mean() + 2 * image.std())
        centre = rows.mean() // scenes.CELL, cols.mean() // scenes.CELL
        assert centre == divmod(cell, 4)


def test_mobilenet_gives_one_feature_cell_per_32_pixels():
    network = encoders.mobilenet_features().features.eval()
    with torch.no_grad():
        sizes = {s: tuple(network(torch.zeros(1, 3, s, s)).shape[2:]) for s in (32, 112, 128)}
    # a 32-pixel training picture of the stand-in is one cell; 112 and 128 pixels give 4x4
    assert sizes == {32: (1, 1), 112: (4, 4), 128: (4, 4)}
    assert encoders.STANDIN_INPUT_SIZE == encoders.FEATURE_STRIDE * scenes.GRID == 128


def test_the_standin_reads_every_scene_cell_as_one_of_its_training_pictures():
    # The bug this pins: the stand-in learned from 32-pixel pictures, so each of its feature
    # cells covers 32 input pixels. Read at 112 px, feature cell 3 looked at pixels 96-127 and
    # scene cell 3 spans 84-111: the objects of the last row and column fell into the cells
    # before them and attention pointing stayed at chance. Scaled to 128 px, the 32 pixels of
    # feature cell j are exactly scene cell j, scaled as the training pictures are.
    image = one_object_scene(cell=15)
    scene = encoders.scaled(torch.from_numpy(image[None]).float(), encoders.STANDIN_INPUT_SIZE)
    for cell in (0, 5, 15):
        row, col = divmod(cell, 4)
        window = scene[0, :, 32 * row : 32 * row + 32, 32 * col : 32 * col + 32]
        crop = torch.from_numpy(scenes.cell_pixels(image, cell)[None]).float()
        picture = encoders.scaled(crop, encoders.STANDIN_IMAGE_SIZE)[0]
        # identical but for the outermost pixels, which the whole image blends with its
        # neighbours and the lone cell cannot
        torch.testing.assert_close(window[:, 1:-1, 1:-1], picture[:, 1:-1, 1:-1])


def test_the_standin_pictures_are_labelled_scene_cells():
    cells, labels = scenes.object_cells(40, seed=0, split_index=0)
    again, _ = scenes.object_cells(40, seed=0, split_index=0)
    np.testing.assert_array_equal(cells, again)
    assert cells.shape[1:] == (3, 28, 28) and cells.dtype == np.uint8
    assert len(scenes.OBJECT_CLASSES) == 73 and scenes.OBJECT_CLASSES[0] == "empty"
    assert (labels == 0).sum() > 0 and (labels > 0).sum() > 40
    name = scenes.OBJECT_CLASSES[scenes.object_label(shape=5, colour=2, size=1)]
    assert name == "large blue star"
    # an object's picture is brighter than the background where the object is painted;
    # an empty cell is the background and noise only
    spread = cells.std(axis=(1, 2, 3))
    assert spread[labels == 0].max() < spread[labels > 0].min()
    # another stream than the captioning scenes of the same seed
    scene = scenes.generate_split(1, seed=0, split_index=0)
    first = scene["objects"][0][scene["objects"][0][:, 0] >= 0][0]
    assert not np.array_equal(scenes.cell_pixels(scene["images"][0], first[3]), cells[0])
    splits = encoders.standin_splits(0, sizes=(30, 5, 5))
    assert splits.train[0].shape[1:] == (3, 32, 32) and splits.classes == scenes.OBJECT_CLASSES


def test_the_standin_encoder_reads_scenes_at_128_pixels(tmp_path):
    # a finished stand-in run as the classification loop leaves it (weights untrained here)
    from dualnet.apps import classify, runs

    run_dir = encoders.standin_dir(tmp_path)
    network = encoders.mobilenet_features(len(scenes.OBJECT_CLASSES))
    runs.save_checkpoint(
        {
            "format": classify.CHECKPOINT_FORMAT,
            "model": network.state_dict(),
            "classes": list(scenes.OBJECT_CLASSES),
            "mean": [0.3, 0.3, 0.3],
            "std": [0.2, 0.2, 0.2],
        },
        run_dir / "last.pt",
    )
    encoder = encoders.load_encoder("standin", data_root=tmp_path)  # the folder: finished
    assert encoder.input_size == 128 and not encoder.recalibrate
    maps = encoders.extract(encoder, tiny_embedded().splits["val"].images[:2], progress=False)
    assert maps.shape == (2, 1280, 4, 4)
    assert encoders.random_encoder().input_size == 112


def test_lite0_features_are_all_18_layers_of_a_scene_read_at_112_pixels():
    from dualnet.apps import networks

    encoder = encoders.load_encoder("lite0")
    assert (encoder.name, encoder.input_size, encoder.recalibrate) == (
        "efficientnet-lite0",
        112,
        False,
    )
    assert encoder.mean == encoder.std == (0.5, 0.5, 0.5)  # pixels to [-1, 1]
    images = tiny_embedded().splits["val"].images[:2]
    maps = encoders.extract(encoder, images, progress=False)
    assert maps.shape == (2, 1280, 4, 4) and maps.dtype == np.float16
    lite0 = networks.efficientnet_lite0()
    with torch.no_grad():
        expected = lite0.features((torch.from_numpy(images).float() / 255 - 0.5) / 0.5)
    np.testing.assert_allclose(maps, expected.numpy(), rtol=2e-3, atol=2e-3)
    assert len(lite0.features) == 18 and (maps >= 0).all() and (maps <= 6).all()  # ReLU6


def feature_cell_centres(size: int) -> list[float]:
    """Where the centre of each of Lite0's feature cells lies along one side of a ``size``
    pixel input, in pixels (pixel ``i`` spans ``[i, i + 1)``), from the padding of its
    stride-2 convolutions: with TensorFlow's padding an output ``j`` of a ``k x k``
    convolution of stride 2 is centred on input ``2j - before + (k - 1) / 2``."""
    from torch_impl.models import efficientnet

    network = efficientnet.EfficientNetLite0().features
    convs = [m for m in network.modules() if isinstance(m, efficientnet.SameConv2d)]
    scale, offset, length = 1.0, 0.5, size  # cell j of the current layer is centred on
    for conv in (c for c in convs if c.stride[0] == 2):  # scale * j + offset input pixels
        kernel = conv.kernel_size[0]
        before, _ = efficientnet.same_padding(length, kernel, 2)
        scale, offset = 2 * scale, scale * (-before + (kernel - 1) / 2) + offset
        length = -(-length // 2)
    assert length == 4
    return [scale * j + offset for j in range(4)]


def test_at_112_pixels_every_lite0_feature_cell_is_centred_in_its_scene_cell():
    # by hand at 112 px: the stride-2 layers read 112, 56, 28, 14 and 7 pixels; TensorFlow
    # pads 112, 56 and 14 (3x3) by 0 before and 1 after, 28 (5x5) by 1 and 2, 7 (5x5) by 2
    # and 2: cell j is centred on 2j + 1.5, 4j + 3.5, 8j + 7.5, 16j + 15.5, then 32j + 15.5
    assert feature_cell_centres(112) == [15.5, 47.5, 79.5, 111.5]
    for j, centre in enumerate(feature_cell_centres(112)):
        assert scenes.CELL * j <= centre < scenes.CELL * (j + 1)
    # at 128 px the odd padding pixel goes after in every stride-2 layer: 32j + 31.5, the
    # last pixel of scene cell j, on the corner it shares with three other cells
    assert feature_cell_centres(128) == [31.5, 63.5, 95.5, 127.5]


def test_the_rnn_and_lstm_read_pooled_vectors_standardised_on_the_training_images():
    data_ = tiny_embedded()
    inputs = encoders.model_inputs(data_, "lstm", encoders.random_encoder(), tiny_root(), False)
    raw = {k: encoders.pooled(v) for k, v in tiny_maps().items()}
    train = inputs["train"]
    assert train.dtype == np.float32 and train.shape == (60, 1280)
    varying = raw["train"].std(axis=0) > 1e-6
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=0)[varying], 1, atol=1e-3)
    mean, std = raw["train"].mean(axis=0), raw["train"].std(axis=0)
    expected = (raw["val"][:, varying] - mean[varying]) / std[varying]
    np.testing.assert_allclose(inputs["val"][:, varying], expected, rtol=1e-4, atol=1e-4)
    maps = encoders.model_inputs(data_, "attention", encoders.random_encoder(), tiny_root(), False)
    np.testing.assert_array_equal(maps["val"], tiny_maps()["val"])  # attention: the raw map


def test_a_weights_file_belongs_to_an_imagenet_encoder():
    from dualnet.apps.caption import make_config
    from dualnet.apps.settings import ConfigError

    with pytest.raises(ValueError, match="weights_file is for the lite0 and imagenet"):
        encoders.load_encoder("standin", weights_file="mobilenet.pth")
    with pytest.raises(ValueError, match="encoder must be one of auto, lite0, imagenet"):
        encoders.load_encoder("vgg")
    with pytest.raises(ConfigError, match="--weights .* takes --encoder lite0 or imagenet"):
        make_config("lstm", encoder="random", weights="mobilenet.pth")


def test_a_stopped_standin_build_is_never_used(tmp_path, monkeypatch):
    """Ctrl-C during the stand-in's pre-training: the classification loop returns unfinished,
    nothing is cached as finished, and the next call continues the build."""
    from types import SimpleNamespace

    from dualnet.apps import classify, networks

    calls = []

    def stopped(config, splits):
        Path(config.out_dir).mkdir(parents=True, exist_ok=True)
        (Path(config.out_dir) / "last.pt").write_text("half trained")
        calls.append(config.resume)
        return SimpleNamespace(finished=False)

    monkeypatch.setattr(classify, "train", stopped)
    monkeypatch.setattr(encoders, "standin_splits", lambda seed: None)
    for _ in range(2):
        with pytest.raises(networks.BuildStopped, match="stopped before it finished"):
            encoders.load_encoder("standin", data_root=tmp_path)
    assert not encoders.standin_dir(tmp_path).exists()
    assert calls[0] is None and calls[1].endswith(".partial/last.pt")  # continued
