"""Style transfer as a library: the losses of either backend give the same image gradient,
the three modes do what they claim on small images, and the pieces (configuration, images,
measures, schedule) keep their promises. The network is SqueezeNet 1.1 with seeded random
weights: no training, no download."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from dualnet.apps.networks import Network
from dualnet.apps.settings import ConfigError
from dualnet.apps.style import config as cfg
from dualnet.apps.style import data, evaluate, network, transfer
from dualnet.apps.style.losses import make_targets, objective

pytestmark = pytest.mark.style


@pytest.fixture(scope="module")
def net():
    return network.random_squeezenet(torch.device("cpu"))


def small(mode="transfer", **settings):
    base = {"image_size": 48, "style_size": 48, "steps": 20, "model": "random", "device": "cpu"}
    return cfg.make_config(mode, **{**base, "progress": False, **settings})


# --------------------------------------------------------------------------------------------
# The two backends
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_layer", [3, 4])  # 4 is also a style layer
def test_numpy_losses_give_the_torch_image_gradient_in_float64(net, content_layer):
    net64 = net.to(torch.float64)
    config = small(content_layer=content_layer, content_weight=0.5)
    problem = transfer.prepare(config, net64)
    targets = make_targets(net64, problem.content, problem.style, config)
    z0 = problem.content + 0.3 * torch.randn(problem.content.shape, dtype=torch.float64)
    gradients, losses = {}, {}
    for backend in ("torch", "numpy"):
        z = z0.clone().requires_grad_(True)
        parts = objective(net64(z, targets.last), z, targets, backend)
        (parts[0] + parts[1] + parts[2]).backward()
        gradients[backend], losses[backend] = z.grad, torch.stack(parts).detach()
    torch.testing.assert_close(losses["numpy"], losses["torch"], rtol=1e-12, atol=0)
    error = (gradients["numpy"] - gradients["torch"]).abs().max() / gradients["torch"].abs().max()
    assert error < 1e-10
    assert net.layers[0].weight.dtype == torch.float32  # the float64 copy left the net alone


def test_both_backends_reach_the_same_losses_in_float32(net):
    finals = {}
    for backend in ("torch", "numpy"):
        problem, result = transfer.run_style(small(steps=8, loss_backend=backend), net)
        finals[backend] = np.array([result.final[k] for k in ("content", "style", "tv")])
    np.testing.assert_allclose(finals["numpy"], finals["torch"], rtol=1e-3)


# --------------------------------------------------------------------------------------------
# The three modes, on small images
# --------------------------------------------------------------------------------------------


def test_transfer_moves_the_style_into_the_image(net):
    problem, result = transfer.run_style(small(steps=40), net)
    assert 1 - result.final["style"] / result.initial["style"] > 0.8
    assert result.history[0]["lr"] == 3.0 and result.history[-1]["lr"] == 0.1
    independent = evaluate.independent_features()
    style = problem.net.pixels(problem.style)[0]
    content = problem.net.pixels(problem.content)[0]
    distance = evaluate.gram_distance(independent, result.image, style)
    assert distance < 0.5 * evaluate.gram_distance(independent, content, style)
    steps = [step for step, _ in result.snapshots]
    assert steps == transfer.snapshot_steps(40, 6) and steps[0] == 0 and steps[-1] == 40
    assert torch.equal(result.snapshots[-1][1], result.image)
    assert 0 <= float(result.image.min()) and float(result.image.max()) <= 1


def test_inversion_recovers_the_content_image(net):
    config = small("invert", image_size=64, steps=60, lr=1.0, tv_weight=0.2)  # measured: 17.8 dB
    problem, result = transfer.run_style(config, net)
    content = problem.net.pixels(problem.content)[0]
    start = problem.net.pixels(problem.start)[0]
    assert result.initial["style"] == 0 and result.final["content"] < result.initial["content"]
    assert evaluate.psnr(result.image, content) > evaluate.psnr(start, content) + 6  # 8.3 dB


def test_texture_keeps_the_orientation_of_stripes(net):
    config = small("texture", style="stripes", image_size=96, style_size=96, steps=50)
    problem, result = transfer.run_style(config, net)
    style = problem.net.pixels(problem.style)[0]
    angles = evaluate.dominant_orientation(style), evaluate.dominant_orientation(result.image)
    assert evaluate.orientation_difference(*angles) < 20
    assert result.final["content"] == 0 and result.final["style"] < 0.05 * result.initial["style"]


def test_lbfgs_lowers_the_loss(net):
    problem, result = transfer.run_style(small(optimizer="lbfgs", steps=5), net)
    assert result.final["total"] < 0.2 * result.initial["total"]
    assert result.evaluations >= 5 and len(result.history) == 5


# --------------------------------------------------------------------------------------------
# Configuration, schedule, network checks
# --------------------------------------------------------------------------------------------


def test_presets_and_modes_set_the_weights():
    scream = cfg.make_config("transfer", "the-scream", model="squeezenet")
    assert (scream.style_size, scream.content_weight, scream.tv_weight) == (224, 3e-2, 2e-2)
    assert scream.style_weights == (200000, 800, 12, 1) and scream.init == "content"
    assert (scream.content_layer, scream.style_layers, scream.lr) == (3, (1, 4, 6, 7), 3.0)
    assert cfg.make_config("transfer", "composition-vii", tv_weight=0.5).tv_weight == 0.5
    invert = cfg.make_config("invert")
    assert invert.style_weights == (0, 0, 0, 0) and invert.init == "random"
    texture = cfg.make_config("texture", model="random")
    assert texture.content_weight == 0 and texture.style_weights == (300000, 1000, 15, 3)


def test_a_preset_scales_lite0s_weights_as_it_scales_squeezenets():
    starry = cfg.make_config("transfer")
    assert starry.model == "efficientnet-lite0" and starry.content_layer == 2
    assert starry.style_layers == (0, 3, 4, 5) and starry.style_weights == (570000, 52, 360, 280)
    scream = cfg.make_config("transfer", "the-scream")
    # the course's Scream against its Starry Night: 2/3, 4/5, 4/5 and 1/3 of the style
    # weights, half the content weight, the same TV weight
    expected = (570000 * 2 / 3, 52 * 0.8, 360 * 0.8, 280 / 3)
    assert scream.style_weights == pytest.approx(expected)
    assert scream.content_weight == pytest.approx(1e-2 / 2) and scream.tv_weight == 0.1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"style_weights": (1.0, 2.0)}, "--style-weights has 2 values but --style-layers has 4"),
        ({"style_weights": (1, -2, 3, 4)}, "--style-weights: weight 2 must be at least 0"),
        ({"content_weight": -1.0}, "--content-weight must be at least 0"),
        ({"style_layers": (1, 1, 4, 6)}, "--style-layers names a layer twice"),
        ({"steps": 0}, "--steps must be"),
        ({"optimizer": "sgd"}, "--optimizer must be one of adam, lbfgs"),
    ],
)
def test_impossible_settings_name_their_flag(settings, message):
    with pytest.raises(ConfigError, match=message):
        cfg.make_config("transfer", **settings)
    with pytest.raises(ConfigError, match="--style-weights: invert sets it to 0"):
        cfg.make_config("invert", style_weights=(1, 1, 1, 1))


def test_the_learning_rate_decays_for_the_last_tenth():
    config = cfg.make_config(model="squeezenet")
    assert [transfer.learning_rate(s, config) for s in (0, 179, 180, 199)] == [3, 3, 0.1, 0.1]
    lite0 = cfg.make_config()
    assert [transfer.learning_rate(s, lite0) for s in (0, 179, 180)] == [0.3, 0.3, 0.1]
    assert replace(config, steps=50).decay_step == 45
    assert transfer.snapshot_steps(200, 6) == [0, 40, 80, 120, 160, 200]


def test_layers_and_sizes_the_network_cannot_take(net):
    with pytest.raises(ConfigError, match="--style-layers: layer 13 is outside the network"):
        network.check_layers(net, 3, [1, 13])
    with pytest.raises(ConfigError, match="--content-layer: layer 20"):
        network.check_layers(net, 20, [1])
    with pytest.raises(ConfigError, match="at least 9 pixels"):
        network.check_size(net, torch.zeros(3, 8, 30), 7, "--image-size", 8)
    network.check_size(net, torch.zeros(3, 9, 9), 7, "--image-size", 9)


def test_only_a_pytorch_squeezenet_gives_features():
    class Other(torch.nn.Module):
        def forward(self, x):
            return x

    pixel_model = torch.nn.Module()
    pixel_model.model = Other()
    other = Network("convpool3", pixel_model, "torch", [], 32, "embedded", torch.device("cpu"))
    with pytest.raises(ConfigError, match="needs a PyTorch network with a `features` sequence"):
        network.from_network(other)
    with pytest.raises(ConfigError, match="got a numpy"):
        network.from_network(replace(other, backend="numpy"))


def test_random_features_are_seeded_and_frozen(net):
    again = network.random_squeezenet(torch.device("cpu"))
    pairs = zip(net.layers.parameters(), again.layers.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert not any(p.requires_grad for p in net.layers.parameters()) and not net.layers.training
    low, high = net.bounds()
    torch.testing.assert_close(net.pixels(low), torch.zeros(1, 3, 1, 1))
    torch.testing.assert_close(net.pixels(high), torch.ones(1, 3, 1, 1))


# --------------------------------------------------------------------------------------------
# Images and measures
# --------------------------------------------------------------------------------------------


def test_procedural_images_are_deterministic_valid_pixels():
    for name, draw in data.STYLES.items():
        first, second = draw(40), draw(40)
        assert first.shape == (3, 40, 40) and torch.equal(first, second), name
        assert 0 <= float(first.min()) and float(first.max()) <= 1 and first.std() > 0.1, name
    scene = data.content_scene(64)
    assert scene.shape == (3, 64, 64) and torch.equal(scene, data.content_scene(64))


def test_files_of_any_mode_and_size_are_read(tmp_path):
    for mode, size in (("RGB", (50, 30)), ("RGBA", (20, 41)), ("L", (33, 33))):
        path = tmp_path / f"{mode}.png"
        Image.new(mode, size, color=100 if mode == "L" else (10, 200, 30, 255)[: len(mode)]).save(
            path
        )
        image, name = data.load_content(str(path), 24)
        assert image.shape[0] == 3 and min(image.shape[1:]) == 24 and name == path.name
        ratio = image.shape[2] / image.shape[1]
        assert ratio == pytest.approx(size[0] / size[1], rel=0.1)  # the aspect ratio is kept
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="--style: cannot read"):
        data.load_style(str(tmp_path / "notes.png"), 24)
    with pytest.raises(ValueError, match="--content .*missing.jpg: neither a built-in image"):
        data.load_content(str(tmp_path / "missing.jpg"), 24)


def test_measures_on_known_images():
    stripes = data.stripes(128)
    assert evaluate.dominant_orientation(stripes) == pytest.approx(data.STRIPES_ANGLE + 90, abs=1)
    transposed = evaluate.dominant_orientation(stripes.transpose(1, 2))
    assert transposed == pytest.approx(150, abs=1)  # 90 - 120, modulo 180
    assert evaluate.orientation_difference(179.0, 2.0) == pytest.approx(3.0)
    gray = torch.full((3, 8, 8), 0.5)
    assert evaluate.psnr(gray, gray + 0.1) == pytest.approx(20.0)
    # red against green of the same brightness: far apart in colour, equal in luma
    red = torch.zeros(3, 8, 8)
    red[0] = 0.587
    green = torch.zeros(3, 8, 8)
    green[1] = 0.299
    assert evaluate.luma(red) == pytest.approx(evaluate.luma(green))
    assert evaluate.luma(red)[0, 0, 0].item() == pytest.approx(0.299 * 0.587)
    assert evaluate.psnr(red, green) < 10  # 8.4 dB
    assert evaluate.psnr(evaluate.luma(gray), evaluate.luma(gray + 0.1)) == pytest.approx(20.0)
    independent = evaluate.independent_features()
    assert evaluate.gram_distance(independent, stripes, stripes) == 0


def test_the_spectrum_correlation_knows_a_texture_from_its_rotation():
    stripes = data.STYLES["stripes"](128)
    assert evaluate.spectrum_correlation(stripes, stripes) == pytest.approx(1.0)
    turned = stripes.transpose(1, 2)  # the bands mirrored across the diagonal
    noise = torch.rand(3, 128, 128, generator=torch.Generator().manual_seed(0))
    same = evaluate.spectrum_correlation(data.STYLES["stripes"](128, seed=1), stripes)
    assert same > 0.99  # the drawing has no randomness: the same image
    assert evaluate.spectrum_correlation(turned, stripes) < 0.5
    assert abs(evaluate.spectrum_correlation(noise, stripes)) < 0.2
    small = evaluate.spectrum_correlation(stripes[:, :40, :40], stripes)  # patches of 40
    assert -1 <= small <= 1
