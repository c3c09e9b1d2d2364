"""Whole models in PyTorch (``nn.Module`` objects), with parameters that can be exchanged with
``reference_numpy.models``."""

from torch_impl.models.captioning import CaptioningRNN
from torch_impl.models.cnn import ThreeLayerConvNet
from torch_impl.models.fc_net import FullyConnectedNet, TwoLayerNet

__all__ = ["CaptioningRNN", "FullyConnectedNet", "ThreeLayerConvNet", "TwoLayerNet"]
