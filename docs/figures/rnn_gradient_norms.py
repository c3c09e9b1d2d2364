"""Figure for ``docs/derivations/rnn.md``: the gradient that reaches :math:`h_0` from a loss on
:math:`h_k` alone, as :math:`k` grows, computed with ``reference_numpy.rnn``.

Run from the repository root::

    python docs/figures/rnn_gradient_norms.py

It writes ``docs/_static/rnn_gradient_norms.png``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from reference_numpy.rnn import rnn_backward, rnn_forward  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "_static" / "rnn_gradient_norms.png"
H, D, T = 32, 16, 50
SCALES = (0.9, 1.0, 1.1, 1.5)


def gradient_norms(Wh: np.ndarray, Wx: np.ndarray, x: np.ndarray, seed: int) -> np.ndarray:
    """``|dL/dh_0|`` for ``L = <g, h_k>`` with a random unit vector ``g``, for k = 1 .. T."""
    rng = np.random.default_rng(seed)
    h, cache = rnn_forward(x, np.zeros((1, H)), Wx, Wh, np.zeros(H))
    norms = []
    for k in range(T):
        dh = np.zeros_like(h)
        g = rng.standard_normal(H)
        dh[0, k] = g / np.linalg.norm(g)
        _, dh0, _, _, _ = rnn_backward(dh, cache)
        norms.append(np.linalg.norm(dh0))
    return np.array(norms)


def main() -> None:
    rng = np.random.default_rng(0)
    orthogonal, _ = np.linalg.qr(rng.standard_normal((H, H)))  # every singular value is 1
    Wx = rng.standard_normal((D, H)) / np.sqrt(D)
    inputs = {
        "x = 0: every $h_t = 0$, where $\\tanh' = 1$": np.zeros((1, T, D)),
        "random inputs $x_t \\sim \\mathcal{N}(0, I)$": rng.standard_normal((1, T, D)),
    }
    steps = np.arange(1, T + 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, (title, x) in zip(axes, inputs.items(), strict=True):
        for scale in SCALES:
            norms = gradient_norms(scale * orthogonal, Wx, x, seed=1)
            ax.semilogy(steps, norms, label=f"$W_h = {scale}\\,Q$")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("k (steps between $h_0$ and the loss)")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel(r"$\| \partial L / \partial h_0 \|$ for $L = \langle g, h_k \rangle$")
    axes[0].legend(fontsize=8)
    fig.suptitle(
        "Vanilla RNN with 32 hidden units: the gradient reaching $h_0$ ($Q$ orthogonal)",
        fontsize=11,
    )
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
