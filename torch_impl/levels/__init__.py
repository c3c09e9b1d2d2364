"""PyTorch at three levels of abstraction, the same two networks written three times.

* :mod:`torch_impl.levels.barebones`: explicit weight tensors, a functional forward pass and
  a hand-written SGD step on the gradients autograd computes;
* :mod:`torch_impl.levels.module`: the same networks as ``nn.Module`` subclasses, trained
  with ``torch.optim``;
* :mod:`torch_impl.levels.sequential`: the same networks as ``nn.Sequential`` stacks.

The networks are a two-layer fully connected net and a three-layer ConvNet
(conv 5x5 - ReLU - conv 3x3 - ReLU - fully connected). With the same weights, all three levels
compute the same scores; ``tests/torch_impl/test_levels.py`` checks it.
"""

from torch_impl.levels import barebones, module, sequential

__all__ = ["barebones", "module", "sequential"]
