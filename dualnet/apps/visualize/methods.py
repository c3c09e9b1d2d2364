"""One interface to the methods of both backends, on torch tensors.

:func:`methods_for` returns an object whose methods take and return CPU tensors of pixels in
[0, 1] and call ``torch_impl.visualization`` (a PyTorch network) or
``reference_numpy.visualization`` (a NumPy network, whose gradients are hand-derived). The
random draws (noise, random starts, jitters) are made here, once, and handed to either
backend, so the two compute the same thing.
"""

from __future__ import annotations

import numpy as np
import torch

from reference_numpy import visualization as numpy_methods
from torch_impl import visualization as torch_methods


class TorchMethods:
    def __init__(self, network):
        self.model, self.device = network.model, network.device

    def _run(self, function, X, *tensors, **options):
        moved = [t.to(self.device) for t in (X, *tensors)]
        result = function(self.model, *moved, **options)
        if isinstance(result, tuple):
            return tuple(r.detach().cpu() for r in result)
        return result.detach().cpu()

    def scores(self, X: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat(
                [self.model(X[i : i + 64].to(self.device)).cpu() for i in range(0, len(X), 64)]
            )

    def saliency(self, X, y):
        return self._run(torch_methods.saliency_map, X, y)

    def smoothgrad(self, X, y, draws: torch.Tensor, noise: float):
        return self._run(torch_methods.smoothgrad, X, y, draws, noise=noise)

    def integrated_gradients(self, X, y, steps: int):
        return self._run(torch_methods.integrated_gradients, X, y, steps=steps)

    def fooling(self, X, target, learning_rate: float, max_iter: int, objective: str):
        return self._run(
            torch_methods.make_fooling_image,
            X,
            target,
            learning_rate=learning_rate,
            max_iter=max_iter,
            objective=objective,
        )

    def fgsm(self, X, y, eps: float):
        return self._run(torch_methods.fgsm, X, y, eps=eps)

    def pgd(self, X, y, eps: float, step_size: float, steps: int, start, targeted=False):
        return self._run(
            torch_methods.pgd,
            X,
            y,
            eps=eps,
            step_size=step_size,
            steps=steps,
            targeted=targeted,
            start=start.to(self.device),
        )

    def class_visualization(self, target, start, jitters, **options):
        return self._run(
            torch_methods.class_visualization, target, start, jitters=jitters, **options
        )


class NumpyMethods:
    def __init__(self, network):
        self.model = network.model
        self.dtype = network.model.model.dtype

    def _array(self, X: torch.Tensor) -> np.ndarray:
        return X.numpy().astype(self.dtype)

    def scores(self, X: torch.Tensor) -> torch.Tensor:
        probe = np.zeros((len(X), self.model.num_classes), dtype=self.dtype)
        return torch.from_numpy(self.model.input_gradient(self._array(X), probe)[0]).float()

    def saliency(self, X, y):
        return torch.from_numpy(numpy_methods.saliency_map(self.model, self._array(X), y.numpy()))

    def smoothgrad(self, X, y, draws: torch.Tensor, noise: float):
        maps = numpy_methods.smoothgrad(self.model, self._array(X), y.numpy(), draws.numpy(), noise)
        return torch.from_numpy(maps)

    def integrated_gradients(self, X, y, steps: int):
        attributions = numpy_methods.integrated_gradients(
            self.model, self._array(X), y.numpy(), steps=steps
        )
        return torch.from_numpy(attributions)

    def fooling(self, X, target, learning_rate: float, max_iter: int, objective: str):
        fooled, iterations = numpy_methods.make_fooling_image(
            self.model, self._array(X), target.numpy(), learning_rate, max_iter, objective
        )
        return torch.from_numpy(fooled).float(), torch.from_numpy(iterations)

    def fgsm(self, X, y, eps: float):
        return torch.from_numpy(
            numpy_methods.fgsm(self.model, self._array(X), y.numpy(), eps)
        ).float()

    def pgd(self, X, y, eps: float, step_size: float, steps: int, start, targeted=False):
        adversarial = numpy_methods.pgd(
            self.model, self._array(X), y.numpy(), eps, step_size, steps, targeted, start.numpy()
        )
        return torch.from_numpy(adversarial).float()

    def class_visualization(self, target, start, jitters, **options):
        image = numpy_methods.class_visualization(
            self.model, target.numpy(), self._array(start), jitters, **options
        )
        return torch.from_numpy(image).float()


def methods_for(network) -> TorchMethods | NumpyMethods:
    return NumpyMethods(network) if network.backend == "numpy" else TorchMethods(network)
