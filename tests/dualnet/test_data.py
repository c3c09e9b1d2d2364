"""The image datasets: the embedded set, CIFAR-10 from small files, normalisation, augmentation."""

from __future__ import annotations

import io
import os
import pickle
import socket
import struct
import subprocess
import sys
import tarfile
import time
import warnings

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from dualnet import data
from dualnet.data import cifar10, embedded, paths
from dualnet.data.images import ImageSplits, augment, channel_stats, normalize, plot_examples

pytestmark = pytest.mark.classify

SMALL = (100, 20, 30)
OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


@pytest.fixture
def small_embedded(tmp_path) -> ImageSplits:
    return embedded.load_embedded(tmp_path, sizes=SMALL)


# --- the embedded dataset -------------------------------------------------------------------


def test_generation_is_deterministic_and_each_split_has_its_own_stream():
    images, labels = embedded.generate(40, seed=3, split="val")
    again_images, again_labels = embedded.generate(40, seed=3, split="val")
    assert images.tobytes() == again_images.tobytes()
    assert labels.tobytes() == again_labels.tobytes()
    other_split, _ = embedded.generate(40, seed=3, split="test")
    other_seed, _ = embedded.generate(40, seed=4, split="val")
    assert not np.array_equal(images, other_split)
    assert not np.array_equal(images, other_seed)


def test_the_drawing_is_pinned_to_its_version():
    # If this fails, the images changed: raise embedded.VERSION (so that stale caches are not
    # read) and update the values here. The mean allows for another libm rounding a few pixels.
    images, labels = embedded.generate(50, seed=0, split="test")
    assert embedded.VERSION == 1
    assert labels[:12].tolist() == [2, 3, 6, 9, 8, 6, 5, 8, 7, 3, 5, 1]
    means = images.reshape(50, 3, -1).mean(axis=(0, 2))
    np.testing.assert_allclose(means, [113.1065, 91.9103, 109.9799], atol=0.02)


def test_a_split_does_not_depend_on_the_size_of_the_others():
    # the test split is drawn from its own stream: a bigger train split leaves it unchanged
    first = embedded.load_embedded(cache=False, sizes=(10, 10, 20)).test[0]
    second = embedded.load_embedded(cache=False, sizes=(30, 10, 20)).test[0]
    assert torch.equal(first, second)


def test_embedded_shapes_dtypes_classes_and_balance(small_embedded):
    splits = small_embedded
    assert splits.name == "embedded"
    assert splits.classes == embedded.CLASSES
    assert len(splits.classes) == 10 and len(set(splits.classes)) == 10
    for (images, labels), n in zip((splits.train, splits.val, splits.test), SMALL, strict=True):
        assert images.shape == (n, 3, 32, 32) and images.dtype == torch.uint8
        assert labels.shape == (n,) and labels.dtype == torch.int64
        assert torch.equal(torch.bincount(labels, minlength=10), torch.full((10,), n // 10))
    # the images use the whole range and are not constant
    train = splits.train[0]
    assert train.min() == 0 and train.max() == 255
    assert train.float().std() > 30


def test_uneven_sizes_keep_classes_within_one_image():
    _, labels = embedded.generate(23, split="train")
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 23 and counts.max() - counts.min() <= 1


def test_classes_do_not_differ_in_mean_colour():
    images, labels = embedded.generate(2000, split="train")
    means = np.stack([images[labels == k].mean(axis=(0, 2, 3)) for k in range(10)])  # (10, 3)
    # per-class mean colours agree within a few grey levels out of 255
    assert np.ptp(means, axis=0).max() < 10


def test_mean_and_std_come_from_the_training_images(small_embedded):
    train = small_embedded.train[0].to(torch.float64) / 255
    expected_mean = train.mean(dim=(0, 2, 3))
    expected_std = train.std(dim=(0, 2, 3), correction=0)
    np.testing.assert_allclose(small_embedded.mean, expected_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(small_embedded.std, expected_std.numpy(), rtol=1e-12)
    test = small_embedded.test[0].to(torch.float64) / 255
    assert not np.allclose(small_embedded.mean, test.mean(dim=(0, 2, 3)).numpy(), rtol=1e-6)


def test_cache_is_written_atomically_and_hit_on_the_second_load(tmp_path, monkeypatch):
    first = embedded.load_embedded(tmp_path, sizes=SMALL)
    path = embedded.cache_path(tmp_path, SMALL)
    assert path.is_file() and f"v{embedded.VERSION}" in path.name
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left

    def no_generation(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(embedded, "generate", no_generation)
    second = embedded.load_embedded(tmp_path, sizes=SMALL)
    for split in ("train", "val", "test"):
        for a, b in zip(getattr(first, split), getattr(second, split), strict=True):
            assert torch.equal(a, b)
    assert first.mean == second.mean and first.std == second.std


def test_a_new_version_or_a_damaged_cache_regenerates(tmp_path, monkeypatch):
    first = embedded.load_embedded(tmp_path, sizes=SMALL)
    calls = []
    generate = embedded.generate

    def counting(*args, **kwargs):
        calls.append(args)
        return generate(*args, **kwargs)

    monkeypatch.setattr(embedded, "generate", counting)
    monkeypatch.setattr(embedded, "VERSION", embedded.VERSION + 1)
    again = embedded.load_embedded(tmp_path, sizes=SMALL)
    assert len(calls) == 3  # one per split
    assert embedded.cache_path(tmp_path, SMALL).is_file()
    assert len(list(tmp_path.glob("embedded-v*.npz"))) == 2
    assert torch.equal(first.train[0], again.train[0])  # same drawing code, same images

    embedded.cache_path(tmp_path, SMALL).write_bytes(b"not an npz file")
    calls.clear()
    embedded.load_embedded(tmp_path, sizes=SMALL)
    assert len(calls) == 3


def test_a_cache_of_another_version_under_the_same_name_is_not_used(tmp_path, monkeypatch):
    embedded.load_embedded(tmp_path, sizes=SMALL)
    path = embedded.cache_path(tmp_path, SMALL)
    with np.load(path) as file:
        arrays = {key: file[key] for key in file.files}
    arrays["version"] = np.array(embedded.VERSION - 1)
    arrays["train_images"] = np.zeros_like(arrays["train_images"])
    with open(path, "wb") as file:
        np.savez(file, **arrays)
    reloaded = embedded.load_embedded(tmp_path, sizes=SMALL)
    assert reloaded.train[0].max() == 255


def test_an_unwritable_cache_only_warns(tmp_path):
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    with pytest.warns(UserWarning, match="could not cache"):
        splits = embedded.load_embedded(blocked, sizes=(10, 0, 10))
    assert splits.train[0].shape == (10, 3, 32, 32) and splits.val[0].shape == (0, 3, 32, 32)


def test_cache_location_follows_data_root_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DUALNET_CACHE", str(tmp_path / "env"))
    assert paths.data_root() == tmp_path / "env"
    assert paths.data_root(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv("DUALNET_CACHE")
    assert paths.data_root().parts[-2:] == (".cache", "dualnet")
    monkeypatch.setenv("DUALNET_CACHE", str(tmp_path / "env"))
    monkeypatch.setattr(embedded, "SIZES", (20, 10, 10))
    splits = data.load_images("embedded")
    assert splits.train[0].shape[0] == 20
    assert embedded.cache_path(None, (20, 10, 10)).parent == tmp_path / "env"
    assert embedded.cache_path(None, (20, 10, 10)).is_file()


@pytest.mark.parametrize(
    "sizes", [(0, 1, 1), (10, -1, 1), (10, 1), (10.0, 1, 1), (True, 1, 1)], ids=str
)
def test_bad_sizes_are_refused(tmp_path, sizes):
    with pytest.raises(ValueError, match=r"load_embedded: sizes must be three ints"):
        embedded.load_embedded(tmp_path, sizes=sizes)


def test_generate_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r"generate: n must be an int >= 0, got -1"):
        embedded.generate(-1)
    with pytest.raises(ValueError, match=r"generate: split must be one of .* got 'dev'"):
        embedded.generate(1, split="dev")


def test_draw_refuses_labels_outside_the_classes():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"draw: labels range from 0 to 10, expected .* \[0, 10\)"):
        embedded.draw(np.array([0, 10]), rng)
    with pytest.raises(ValueError, match=r"draw: labels has shape \(2, 1\)"):
        embedded.draw(np.zeros((2, 1), np.int64), rng)


def test_the_default_embedded_set_is_generated_quickly():
    start = time.perf_counter()
    embedded.generate(2000, split="test")
    assert time.perf_counter() - start < 10  # the full set is about nine times this


# --- channel statistics and normalisation ---------------------------------------------------


def test_channel_stats_by_hand():
    images = torch.zeros(2, 3, 1, 2, dtype=torch.uint8)
    images[:, 0] = 255  # red channel all ones
    images[0, 1, 0, 0] = 255  # green: one value of 1, three of 0
    mean, std = channel_stats(images)
    assert mean == pytest.approx((1.0, 0.25, 0.0), abs=1e-15)
    assert std == pytest.approx((0.0, np.sqrt(0.25 * 0.75), 0.0), abs=1e-15)


def test_normalize_values_dtype_and_device():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 3, 5, 6), dtype=np.uint8)
    mean, std = (0.1, 0.5, 0.9), (0.2, 0.3, 0.4)
    out = normalize(torch.from_numpy(images), mean, std)
    expected = (images / 255.0 - np.reshape(mean, (1, 3, 1, 1))) / np.reshape(std, (1, 3, 1, 1))
    assert out.dtype == torch.float32 and out.shape == (4, 3, 5, 6)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)
    # tensors work as statistics too
    again = normalize(torch.from_numpy(images), torch.tensor(mean), torch.tensor(std))
    assert torch.equal(out, again)


def test_normalized_training_images_have_zero_mean_and_unit_std(small_embedded):
    out = normalize(small_embedded.train[0], small_embedded.mean, small_embedded.std)
    np.testing.assert_allclose(out.double().mean(dim=(0, 2, 3)).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(out.double().std(dim=(0, 2, 3), correction=0).numpy(), 1, rtol=1e-5)


def test_normalize_refuses_bad_input():
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"normalize: mean has 2 value\(s\), expected 3"):
        normalize(images, (0.5, 0.5), (1, 1, 1))
    with pytest.raises(ValueError, match=r"normalize: std must be positive"):
        normalize(images, (0.5, 0.5, 0.5), (1, 0, 1))
    with pytest.raises(ValueError, match=r"normalize: images_uint8 has dtype torch.float32"):
        normalize(images.float(), (0.5,) * 3, (1,) * 3)
    with pytest.raises(ValueError, match=r"normalize: images_uint8 has shape \(3, 4, 4\)"):
        normalize(images[0], (0.5,) * 3, (1,) * 3)


# --- augmentation ---------------------------------------------------------------------------


def position_coded_images(n: int, h: int = 6, w: int = 7) -> torch.Tensor:
    """Images whose pixel (i, j) holds 10 i + j + 1 (never 0) in channel 0; channel c adds 60 c."""
    grid = 10 * torch.arange(h)[:, None] + torch.arange(w)[None, :] + 1
    images = grid[None, None] + 60 * torch.arange(3)[None, :, None, None]
    return images.expand(n, 3, h, w).to(torch.uint8).contiguous()


def test_augment_matches_an_independent_crop_and_flip():
    images = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (16, 3, 8, 9), np.uint8))
    padding = 3
    generator = torch.Generator().manual_seed(7)
    replay = torch.Generator().manual_seed(7)
    out = augment(images, generator, padding=padding)
    offsets = torch.randint(0, 2 * padding + 1, (16, 2), generator=replay)
    flips = torch.randint(0, 2, (16,), generator=replay)
    padded = np.pad(images.numpy(), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    for n in range(16):
        a, b = offsets[n].tolist()
        window = padded[n, :, a : a + 8, b : b + 9]
        if flips[n]:
            window = window[:, :, ::-1]
        np.testing.assert_array_equal(out[n].numpy(), window)
    assert out.dtype == torch.uint8 and out.shape == images.shape


def test_augment_crops_stay_within_the_padding_and_flips_are_mirrors():
    h, w, padding = 6, 7, 2
    out = augment(position_coded_images(300, h, w), torch.Generator().manual_seed(0), padding)
    assert out.shape == (300, 3, h, w) and out.dtype == torch.uint8
    r = torch.arange(h)[:, None].expand(h, w)
    q = torch.arange(w)[None, :].expand(h, w)
    shifts, flips = set(), set()
    for img in out.long():
        visible = img[0] > 0
        i, j = (img[0] - 1) // 10, (img[0] - 1) % 10  # where each pixel came from
        row_shift = torch.unique((i - r)[visible])
        straight, mirrored = torch.unique((j - q)[visible]), torch.unique((j + q)[visible])
        # at least w - 2 * padding = 3 columns are visible: one reading holds, not both
        assert len(row_shift) == 1 and (len(straight) == 1) != (len(mirrored) == 1)
        flipped = len(mirrored) == 1
        a = int(row_shift)
        assert -padding <= a <= padding
        # pixels are zero exactly where the window leaves the image
        source_row = r + a
        source_col = mirrored - q if flipped else q + straight
        inside = (source_row >= 0) & (source_row < h) & (source_col >= 0) & (source_col < w)
        assert torch.equal(visible, inside)
        assert torch.equal(img[1] - 60 * visible.long(), img[0])  # same window in each channel
        shifts.add(a)
        flips.add(flipped)
    assert shifts == set(range(-padding, padding + 1))
    assert flips == {False, True}


def test_augment_without_padding_only_flips():
    images = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (50, 3, 4, 5), np.uint8))
    out = augment(images, torch.Generator().manual_seed(3), padding=0)
    same = (out == images).flatten(1).all(1)
    mirrored = (out == images.flip(3)).flatten(1).all(1)
    assert bool((same | mirrored).all())
    assert 10 < int(mirrored.sum()) < 40


def test_augment_is_deterministic_given_the_generator_state():
    images = position_coded_images(32, 32, 32)
    generator = torch.Generator().manual_seed(11)
    state = generator.get_state()
    first = augment(images, generator)
    after_first = generator.get_state()
    generator.set_state(state)
    assert torch.equal(augment(images, generator), first)
    assert torch.equal(generator.get_state(), after_first)
    assert not torch.equal(augment(images, generator), first)  # the stream moved on


def test_augment_refuses_bad_input():
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    generator = torch.Generator()
    with pytest.raises(ValueError, match=r"augment: images_uint8 has shape \(3, 4, 4\)"):
        augment(images[0], generator)
    with pytest.raises(ValueError, match=r"augment: padding must be an int >= 0, got -1"):
        augment(images, generator, padding=-1)
    with pytest.raises(ValueError, match=r"augment: generator must be a torch.Generator"):
        augment(images, 0)


@pytest.mark.cuda
def test_augment_on_cuda_is_deterministic_and_matches_its_own_draws():
    images = position_coded_images(64, 32, 32).cuda()
    first = augment(images, torch.Generator("cuda").manual_seed(5))
    second = augment(images, torch.Generator("cuda").manual_seed(5))
    assert first.is_cuda and torch.equal(first, second)
    with pytest.raises(ValueError, match=r"augment: generator is on cpu"):
        augment(images, torch.Generator())


# --- CIFAR-10 from small files in the real format -------------------------------------------


class Python2Pickler(pickle._Pickler):
    """Pickles as Python 2's cPickle wrote the published files (protocol 2).

    Every string is a Python 2 ``str`` (``SHORT_BINSTRING``/``BINSTRING``, read back as bytes,
    where Python 3 wraps bytes in a call of ``_codecs.encode``), and NumPy's array
    reconstruction goes by its NumPy 1 name ``numpy.core.multiarray._reconstruct``.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_string(self, obj: bytes | str) -> None:
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    def save_builtin(self, obj, name=None) -> None:
        if obj is cifar10.NUMPY_GLOBALS[("numpy.core.multiarray", "_reconstruct")]:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            self.save_global(obj, name)

    dispatch[bytes] = save_string
    dispatch[str] = save_string
    dispatch[type(len)] = save_builtin


def python2_pickle(obj) -> bytes:
    """``obj`` pickled the way the published CIFAR-10 files were written."""
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def write_cifar(folder, per_batch: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """Write the python-pickle layout of CIFAR-10 with ``per_batch`` images per batch."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in (*cifar10.TRAIN_BATCHES, cifar10.TEST_BATCH):
        rows = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": rows,
            b"filenames": [f"{name}_{i}.png".encode() for i in range(per_batch)],
        }
        (folder / name).write_bytes(python2_pickle(batch))
        written[name] = (rows, np.array(labels))
    meta = {
        b"num_cases_per_batch": per_batch,
        b"label_names": [name.encode() for name in cifar10.CLASSES],
        b"num_vis": 3072,
    }
    (folder / cifar10.META).write_bytes(python2_pickle(meta))
    return written


def test_cifar10_loads_small_files_with_the_split(tmp_path):
    written = write_cifar(tmp_path / "cifar-10-batches-py")
    splits = data.load_images("cifar10", tmp_path, download=False)
    assert splits.name == "cifar10" and splits.classes == cifar10.CLASSES
    rows = np.concatenate([written[name][0] for name in cifar10.TRAIN_BATCHES])
    labels = np.concatenate([written[name][1] for name in cifar10.TRAIN_BATCHES])
    # 100 training images: the last 100 / 50 = 2 are validation
    assert splits.train[0].shape == (98, 3, 32, 32) and splits.val[0].shape == (2, 3, 32, 32)
    assert splits.test[0].shape == (20, 3, 32, 32)
    # row layout: 1024 red values row by row, then green, then blue
    n, c, i, j = 57, 2, 5, 30
    assert splits.train[0][n, c, i, j] == rows[n, c * 1024 + i * 32 + j]
    np.testing.assert_array_equal(splits.train[0].reshape(98, -1).numpy(), rows[:98])
    np.testing.assert_array_equal(splits.val[0].reshape(2, -1).numpy(), rows[98:])
    np.testing.assert_array_equal(splits.train[1].numpy(), labels[:98])
    np.testing.assert_array_equal(splits.val[1].numpy(), labels[98:])
    np.testing.assert_array_equal(splits.test[0].reshape(20, -1).numpy(), written["test_batch"][0])
    assert splits.train[1].dtype == torch.int64
    train = rows[:98].reshape(98, 3, -1) / 255.0
    np.testing.assert_allclose(splits.mean, train.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(splits.std, train.std(axis=(0, 2)), rtol=1e-12)


def test_cifar10_split_size_is_a_parameter_and_the_real_one_is_49000_1000():
    assert round(50_000 * cifar10.VAL_FRACTION) == 1_000


def test_cifar10_num_val_and_other_folder_layouts(tmp_path):
    write_cifar(tmp_path / "batches")
    splits = cifar10.load_cifar10(tmp_path / "batches", download=False, num_val=10)
    assert len(splits.train[1]) == 90 and len(splits.val[1]) == 10
    with pytest.raises(ValueError, match=r"load_cifar10: num_val must be an int in \[0, 100\)"):
        cifar10.load_cifar10(tmp_path / "batches", download=False, num_val=100)


def test_cifar10_archive_in_the_data_root_is_extracted(tmp_path):
    write_cifar(tmp_path / "build" / "cifar-10-batches-py")
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(root / cifar10.ARCHIVE, "w:gz") as tar:
        tar.add(tmp_path / "build" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    splits = cifar10.load_cifar10(root, download=False)
    assert len(splits.test[1]) == 20 and (root / "cifar-10-batches-py" / "test_batch").is_file()


def test_a_file_that_is_not_a_batch_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    batch = {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}
    (folder / "data_batch_3").write_bytes(python2_pickle(batch))
    with pytest.raises(ValueError, match=r"read_batch: .*data_batch_3 holds data of dtype uint8"):
        cifar10.load_cifar10(tmp_path, download=False)


def test_the_files_the_tests_write_are_in_the_published_format(tmp_path):
    # batches.meta with the published content has exactly the published size (158 bytes)
    meta = {
        b"num_cases_per_batch": 10000,
        b"label_names": [name.encode() for name in cifar10.CLASSES],
        b"num_vis": 3072,
    }
    assert len(python2_pickle(meta)) == cifar10.PUBLISHED[cifar10.META][0] == 158
    write_cifar(tmp_path)
    batch = (tmp_path / "data_batch_1").read_bytes()
    assert batch.startswith(b"\x80\x02}") and b"cnumpy.core.multiarray\n_reconstruct\n" in batch
    assert b"_codecs" not in batch  # a Python 3 pickle of bytes would call _codecs.encode


class Payload:
    """Unpickling this object calls ``function(*args)``: the way a pickle runs code."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def payloads(target) -> dict[str, Payload]:
    """Payloads that create ``target`` when unpickled, by the global each one loads first."""
    from numpy.testing._private.utils import runstring

    code = f"open({str(target)!r}, 'w').close()".encode()
    return {
        f"{os.system.__module__}.system": Payload(os.system, f"touch {target}".encode()),
        "__builtin__.exec": Payload(exec, code),
        "numpy.testing._private.utils.runstring": Payload(runstring, code, {}),
    }


@pytest.mark.parametrize("index", range(3))
def test_a_batch_that_carries_code_is_refused_and_no_code_runs(tmp_path, index):
    target = tmp_path / "created-by-the-payload"
    name, payload = list(payloads(target).items())[index]
    crafted = python2_pickle({b"data": np.zeros((2, 3072), np.uint8), b"labels": payload})
    pickle.loads(crafted, encoding="bytes")  # the payload is live: plain pickle runs it
    assert target.exists()
    target.unlink()
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    (folder / "data_batch_1").write_bytes(crafted)
    expected = (
        f"read_batch: {folder / 'data_batch_1'} is not a CIFAR-10 batch: it asks to load the "
        f"global '{name}', which a batch never holds; refusing to unpickle it"
    )
    with pytest.raises(ValueError) as caught:
        cifar10.load_cifar10(tmp_path, download=False)
    assert str(caught.value) == expected
    assert not target.exists()


def test_a_batches_meta_that_carries_code_is_refused(tmp_path):
    target = tmp_path / "created-by-the-payload"
    name, payload = next(iter(payloads(target).items()))
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    (folder / cifar10.META).write_bytes(python2_pickle({b"label_names": payload}))
    with pytest.raises(ValueError) as caught:
        cifar10.load_cifar10(tmp_path, download=False)
    assert str(caught.value) == (
        f"read_classes: {folder / cifar10.META} is not a CIFAR-10 batches.meta file: it asks "
        f"to load the global '{name}', which a batches.meta file never holds; refusing to "
        "unpickle it"
    )
    assert not target.exists()


@pytest.mark.parametrize(
    ("damage", "raised"),
    [("cut", "EOFError|UnpicklingError"), ("random", "UnpicklingError"), ("text", "Unpickling")],
)
def test_a_damaged_batch_is_named_with_what_is_wrong(tmp_path, damage, raised):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    path = folder / "test_batch"
    whole = path.read_bytes()
    path.write_bytes(
        {
            "cut": whole[: len(whole) // 2],
            "random": np.random.default_rng(0).bytes(5000),
            "text": b"airplane,automobile\n",
        }[damage]
    )
    pattern = (
        r"read_batch: .*test_batch is not a CIFAR-10 batch: it is not a readable pickle "
        rf"\(({raised})"
    )
    with pytest.raises(ValueError, match=pattern):
        cifar10.load_cifar10(tmp_path, download=False)


def test_a_file_of_the_published_size_must_have_the_published_md5_before_unpickling(tmp_path):
    target = tmp_path / "created-by-the-payload"
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    size, md5 = cifar10.PUBLISHED["data_batch_2"]
    crafted = python2_pickle(next(iter(payloads(target).values())))
    # pickle stops reading at the end of the object: padding leaves the payload live
    (folder / "data_batch_2").write_bytes(crafted + bytes(size - len(crafted)))
    pattern = (
        rf"read_batch: .*data_batch_2 has the size of the published data_batch_2 "
        rf"\(31,035,320 bytes\) but the MD5 sum [0-9a-f]{{32}}, not the published {md5}: the "
        rf"file is damaged or altered; download {cifar10.URL} again"
    )
    with pytest.raises(ValueError, match=pattern):
        cifar10.load_cifar10(tmp_path, download=False)
    assert not target.exists()


def test_an_archive_of_the_published_size_must_have_the_published_md5(tmp_path):
    with open(tmp_path / cifar10.ARCHIVE, "wb") as file:
        file.truncate(cifar10.PUBLISHED[cifar10.ARCHIVE][0])  # sparse: takes no disk space
    with pytest.raises(ValueError, match=r"cifar-10-python.tar.gz has the size of the published"):
        cifar10.load_cifar10(tmp_path, download=False)
    assert not (tmp_path / "cifar-10-batches-py").exists()


def test_the_archive_writes_only_the_dataset_files_into_its_folder(tmp_path):
    build = tmp_path / "build"
    write_cifar(build / "cifar-10-batches-py")
    (build / "outside.txt").write_text("not part of the dataset")
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(root / cifar10.ARCHIVE, "w:gz") as tar:
        tar.add(build / "cifar-10-batches-py", arcname="cifar-10-batches-py")
        tar.add(build / "outside.txt", arcname="../outside.txt")
        tar.add(build / "outside.txt", arcname="cifar-10-batches-py/readme.html")
        link = tarfile.TarInfo("cifar-10-batches-py/../../linked")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    splits = cifar10.load_cifar10(root, download=False)
    assert len(splits.test[1]) == 20
    assert sorted(p.name for p in (root / "cifar-10-batches-py").iterdir()) == sorted(
        (*cifar10.TRAIN_BATCHES, cifar10.TEST_BATCH, cifar10.META)
    )
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "linked").exists()
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-batches-py", cifar10.ARCHIVE]


def test_an_archive_that_is_not_one_is_named(tmp_path):
    (tmp_path / cifar10.ARCHIVE).write_bytes(b"<html>Not Found</html>")
    with pytest.raises(data.DatasetNotFoundError) as caught:
        cifar10.load_cifar10(tmp_path, download=False)
    assert f"{tmp_path / cifar10.ARCHIVE} is not a readable tar.gz archive" in str(caught.value)
    check_instructions(str(caught.value), tmp_path)


def test_the_published_sums_are_torchvision_s():
    from torchvision.datasets import CIFAR10

    listed = {name: md5 for name, md5 in CIFAR10.train_list + CIFAR10.test_list}
    listed[CIFAR10.meta["filename"]] = CIFAR10.meta["md5"]
    listed[CIFAR10.filename] = CIFAR10.tgz_md5
    assert {name: md5 for name, (_, md5) in cifar10.PUBLISHED.items()} == listed


def check_instructions(message: str, root) -> None:
    assert cifar10.URL in message
    assert str(root / "cifar-10-batches-py" / "data_batch_1") in message
    assert "--data-root DIR" in message and "dualnet classify train" in message


def test_missing_cifar10_without_download_fails_at_once_with_instructions(tmp_path):
    start = time.perf_counter()
    with pytest.raises(data.DatasetNotFoundError) as caught:
        data.load_images("cifar10", tmp_path, download=False)
    assert time.perf_counter() - start < 1
    assert isinstance(caught.value, FileNotFoundError)
    assert cifar10.URL == OFFICIAL_URL
    check_instructions(str(caught.value), tmp_path)
    assert "downloading is switched off" in str(caught.value)


def test_unreachable_server_fails_fast(tmp_path, monkeypatch):
    # a port nobody listens on: the connection is refused at once
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(cifar10, "URL", f"http://127.0.0.1:{port}/cifar-10-python.tar.gz")
    start = time.perf_counter()
    with pytest.raises(data.DatasetNotFoundError, match="the download failed") as caught:
        data.load_images("cifar10", tmp_path, download=True)
    assert time.perf_counter() - start < 5
    check_instructions(str(caught.value), tmp_path)


def test_a_server_that_never_answers_times_out(tmp_path, monkeypatch):
    # accepts the connection (the kernel's backlog does) but never sends a byte
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        monkeypatch.setattr(cifar10, "URL", f"http://127.0.0.1:{port}/cifar-10-python.tar.gz")
        previous = socket.getdefaulttimeout()
        start = time.perf_counter()
        with pytest.raises(data.DatasetNotFoundError, match="the download failed"):
            cifar10.load_cifar10(tmp_path, download=True, timeout=0.5)
        elapsed = time.perf_counter() - start
    assert 0.4 < elapsed < 5
    assert socket.getdefaulttimeout() == previous  # the global default is restored


def test_the_default_download_timeout_is_short():
    assert cifar10.DOWNLOAD_TIMEOUT <= 30


# --- the front door -------------------------------------------------------------------------


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match=r"load_images: unknown dataset name 'mnist'") as caught:
        data.load_images("mnist")
    assert "'embedded'" in str(caught.value) and "'cifar10'" in str(caught.value)


def splits_of(train, val, test, mean=(0.5,) * 3, std=(0.2,) * 3) -> ImageSplits:
    return ImageSplits("x", ("a", "b"), train, val, test, mean, std)


def test_image_splits_checks_its_tensors_and_prints_briefly(small_embedded):
    assert repr(small_embedded).startswith("ImageSplits(name='embedded', classes=10, train=100")
    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    labels = torch.zeros(4, dtype=torch.int64)
    good = (images, labels)
    assert splits_of(good, good, good).train[0].shape == (4, 3, 8, 8)  # any image size
    with pytest.raises(ValueError, match=r"ImageSplits: train images have dtype torch.float32"):
        splits_of((images.float(), labels), good, good)
    with pytest.raises(ValueError, match=r"ImageSplits: val labels have dtype torch.int32"):
        splits_of(good, (images, labels.int()), good)
    with pytest.raises(ValueError, match=r"ImageSplits: test labels .* expected torch.int64 of"):
        splits_of(good, good, (images, labels[:3]))
    with pytest.raises(ValueError, match=r"ImageSplits: test images have shape \(4, 3, 8, 9\)"):
        splits_of(good, good, (torch.zeros(4, 3, 8, 9, dtype=torch.uint8), labels))
    with pytest.raises(ValueError, match=r"ImageSplits: std has 2 value\(s\), expected 3"):
        splits_of(good, good, good, std=(1, 1))


def test_importing_the_data_package_leaves_torchvision_and_matplotlib_unloaded():
    code = (
        "import sys, dualnet.data; print(sorted({'torchvision', 'matplotlib'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_archive_constants_are_torchvision_s():
    from torchvision.datasets import CIFAR10

    assert (cifar10.URL, cifar10.ARCHIVE, cifar10.ARCHIVE_MD5, cifar10.FOLDER) == (
        CIFAR10.url,
        CIFAR10.filename,
        CIFAR10.tgz_md5,
        CIFAR10.base_folder,
    )
    assert cifar10.URL == OFFICIAL_URL


def test_plot_examples_draws_one_row_per_class(small_embedded):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_examples(small_embedded, per_class=4)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 10 * 4
    labels = [ax.get_ylabel() for ax in fig.axes[::4]]
    assert labels == list(embedded.CLASSES)
    with pytest.raises(ValueError, match=r"plot_examples: split must be"):
        plot_examples(small_embedded, split="dev")
