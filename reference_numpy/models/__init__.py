"""Whole models built from the NumPy reference layers, each with ``loss(...) -> (loss, grads)``."""

from reference_numpy.models.captioning import CaptioningRNN
from reference_numpy.models.cnn import ThreeLayerConvNet
from reference_numpy.models.fc_net import FullyConnectedNet, TwoLayerNet

__all__ = ["CaptioningRNN", "FullyConnectedNet", "ThreeLayerConvNet", "TwoLayerNet"]
