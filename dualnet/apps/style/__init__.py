"""Style transfer, feature inversion and texture synthesis (Gatys et al.) on SqueezeNet 1.1's
frozen features, with the losses and their gradients from either backend, and
``dualnet style``.

=================  ==========================================================================
module             holds
=================  ==========================================================================
``config``         :class:`StyleConfig`, the course's presets, the defaults of each mode
``data``           image files, the procedural content scene and styles (``stripes`` ...)
``network``        the frozen features (:func:`load_features`), normalised space and clamping
``losses``         the targets and the three losses from ``torch_impl`` or ``reference_numpy``
``transfer``       :func:`run_style`: the images, the targets, the start, the optimiser loop
``evaluate``       PSNR, spectral orientation, Gram distance in an independent network
``report``         ``summary.json`` and the files of a run
``plots``          the strip of intermediate images, the loss curves, the overview
``cli``            ``dualnet style transfer|invert|texture``
=================  ==========================================================================
"""

from dualnet.apps.style.config import PRESETS, StyleConfig, defaults, make_config
from dualnet.apps.style.network import FeatureNet, load_features
from dualnet.apps.style.transfer import Problem, Result, optimise, prepare, run_style

__all__ = [
    "PRESETS",
    "FeatureNet",
    "Problem",
    "Result",
    "StyleConfig",
    "defaults",
    "load_features",
    "make_config",
    "optimise",
    "prepare",
    "run_style",
]
