"""Whole models in PyTorch (``nn.Module`` objects), with parameters that can be exchanged with
``reference_numpy.models``."""
