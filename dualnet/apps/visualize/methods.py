"""The methods of both backends, called by name on torch tensors.

``torch_impl.visualization`` and ``reference_numpy.visualization`` are twins: the same
functions under the same names with the same arguments. :func:`call` runs the function of the
network's backend, ``call(network, "saliency_map", X, y)``: a PyTorch network gets the
tensors on its device; a NumPy network (its gradients hand-derived) gets NumPy arrays, the
image argument (the first floating-point tensor: ``X``, or ``start`` for class
visualization) in the network's dtype and the others (labels, targets, random draws, random
starts) as they are. The results come back as CPU tensors of the backend's dtype.

The random draws (noise, random starts, jitters) are made by the caller, once, and handed to
either backend, so the two compute the same thing. :func:`scores` gives the class scores
``(N, K)``.
"""

from __future__ import annotations

import numpy as np
import torch

from reference_numpy import visualization as numpy_methods
from torch_impl import visualization as torch_methods

BACKENDS = {"torch": torch_methods, "numpy": numpy_methods}


def call(network, name: str, *tensors, **options):
    """``name(network.model, *tensors, **options)`` in the network's backend (see the module
    docstring); a tuple of results comes back as a tuple."""
    function = getattr(BACKENDS[network.backend], name)
    if network.backend == "numpy":
        result = function(network.model, *numpy_arguments(network, tensors), **options)
        convert = torch.from_numpy
    else:
        moved = [t.to(network.device) if isinstance(t, torch.Tensor) else t for t in tensors]
        result = function(network.model, *moved, **options)
        convert = lambda tensor: tensor.detach().cpu()  # noqa: E731
    if isinstance(result, tuple):
        return tuple(convert(r) for r in result)
    return convert(result)


def numpy_arguments(network, tensors) -> list:
    """The tensors as NumPy arrays, the first floating-point one in the network's dtype."""
    arguments, cast = [], False
    for tensor in tensors:
        if not isinstance(tensor, torch.Tensor):
            arguments.append(tensor)
            continue
        array = tensor.numpy()
        if tensor.is_floating_point() and not cast:
            array, cast = array.astype(network.model.model.dtype), True
        arguments.append(array)
    return arguments


def scores(network, X: torch.Tensor) -> torch.Tensor:
    """The class scores ``(N, K)`` of images ``X`` ``(N, C, H, W)`` (CPU, float32 for NumPy)."""
    if network.backend == "numpy":
        model = network.model
        images = X.numpy().astype(model.model.dtype)
        probe = np.zeros((len(X), model.num_classes), dtype=model.model.dtype)
        return torch.from_numpy(model.input_gradient(images, probe)[0]).float()
    with torch.no_grad():
        chunks = [
            network.model(X[i : i + 64].to(network.device)).cpu() for i in range(0, len(X), 64)
        ]
    return torch.cat(chunks)
