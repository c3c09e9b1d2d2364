"""
Training a ResNet
=================

A pre-activation ResNet-20 (three stages of residual blocks, 0.27 M parameters) trained on the
embedded dataset with SGD, momentum, weight decay, a cosine learning rate and random crops and
flips. This page trains for three epochs (under two minutes on a laptop CPU) so that the docs
build quickly; the full eight-epoch run, under five minutes, and its accuracy are on the
:doc:`application page <../../applications/classification>`.
"""

# %%
# Training
# --------

import tempfile

import numpy as np

from dualnet import metrics
from dualnet.apps import classify, figures, runs, runtime
from dualnet.data import load_images

splits = load_images("embedded")
config = classify.make_config(
    "resnet-preact20",  # with its default recipe: SGD, cosine schedule, crops and flips
    epochs=3,
    device="cpu",
    out_dir=tempfile.mkdtemp(),
    progress=False,
    figures=False,
)
result = classify.train(config, splits=splits)
print(f"test accuracy after {config.epochs} epochs: {result.accuracy:.3f}")
print(f"training speed: {np.mean([r['images_per_second'] for r in result.history]):.0f} images/s")
curves = figures.learning_curves(result.history, title="resnet-preact20")

# %%
# Where it goes wrong
# -------------------
# The confusion matrix counts, for every true class (row), which class the network predicted
# (column); the grid below shows test images it got wrong.

summary = classify.evaluate_run(f"{config.out_dir}/last.pt", splits=splits, device="cpu")
print(
    "accuracy per class:",
    {name: round(acc, 3) for name, acc in summary["per_class_accuracy"].items()},
)

device = runtime.resolve_device("cpu")
model = classify.build_model(config, len(splits.classes))
checkpoint = runs.load_checkpoint(f"{config.out_dir}/last.pt", classify.CHECKPOINT_FORMAT)
model.load_state_dict(checkpoint["model"])
test_images, test_labels = splits.test
predictions = (
    classify.predict(model, test_images, splits.mean, splits.std, device).argmax(1).numpy()
)
counts = metrics.confusion_matrix(predictions, test_labels.numpy(), len(splits.classes))
matrix = figures.confusion(counts, splits.classes, title=f"test accuracy {summary['accuracy']:.3f}")

# %%

wrong = np.flatnonzero(predictions != test_labels.numpy())[:24]
grid = figures.image_grid(
    test_images[wrong].numpy(),
    [f"{splits.classes[test_labels[i]]}\n-> {splits.classes[predictions[i]]}" for i in wrong],
    title="misclassified test images (true -> predicted)",
)
