"""Image captioning end to end: data, image features, training in both backends, greedy
decoding and beam search, BLEU, attention maps, and ``dualnet caption``.

=================  ==========================================================================
module             holds
=================  ==========================================================================
``scenes``         the embedded captioning scenes and their grammar
``data``           the loaders (embedded, ``coco.pt``, cs231n HDF5), ``decode_captions``
``encoders``       the encoders (EfficientNet-Lite0, MobileNetV2, the stand-in), cached maps
``config``         :class:`CaptionConfig` and its defaults (:func:`make_config`)
``train``          :func:`train`, the PyTorch loop (exact resume, Ctrl-C, DDP)
``train_numpy``    :func:`train_numpy`, the NumPy model trained by the ``CaptioningSolver``
``decode``         greedy decoding, beam search, attention pointing
``bleu``           corpus BLEU-1..4 and the cs231n metric
``evaluate``       ``eval`` and ``sample``: scores (BLEU, objects named) and figures
``cli``            ``dualnet caption train|sample|eval``
=================  ==========================================================================
"""

from dualnet.apps.caption.config import CHECKPOINT_FORMAT, CaptionConfig, make_config
from dualnet.apps.caption.train import prepare, train
from dualnet.apps.caption.train_numpy import train_numpy
from dualnet.apps.loop import TrainResult

__all__ = [
    "CHECKPOINT_FORMAT",
    "CaptionConfig",
    "TrainResult",
    "make_config",
    "prepare",
    "train",
    "train_numpy",
]
