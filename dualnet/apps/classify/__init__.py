"""Image classification end to end: models by name, the PyTorch training loop, the NumPy
backend's ``Solver`` runs, evaluation of checkpoints, and ``dualnet classify``.

=================  ==========================================================================
module             holds
=================  ==========================================================================
``config``         :class:`ClassifyConfig`, the defaults of every model (:func:`make_config`)
``models``         the name -> :class:`~.models.ModelSpec` table and the model builders
``train``          :func:`train`, the PyTorch loop (exact resume, Ctrl-C, DDP)
``train_numpy``    :func:`train_numpy`, the NumPy reference trained by the ``Solver``
``evaluate``       scoring a model on a split, :func:`evaluate_run`
``cli``            ``dualnet classify train|eval|models``
=================  ==========================================================================
"""

from dualnet.apps.classify.config import (
    CHECKPOINT_FORMAT,
    DEFAULT_MODEL,
    ClassifyConfig,
    defaults,
    make_config,
)
from dualnet.apps.classify.evaluate import evaluate, evaluate_run, predict
from dualnet.apps.classify.models import LEVELS, MODELS, build_model, build_numpy_model
from dualnet.apps.classify.train import learning_rate, train
from dualnet.apps.classify.train_numpy import train_numpy
from dualnet.apps.loop import TrainResult

__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_MODEL",
    "LEVELS",
    "MODELS",
    "ClassifyConfig",
    "TrainResult",
    "build_model",
    "build_numpy_model",
    "defaults",
    "evaluate",
    "evaluate_run",
    "learning_rate",
    "make_config",
    "predict",
    "train",
    "train_numpy",
]
