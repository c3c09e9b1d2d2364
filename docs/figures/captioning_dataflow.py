"""Figure for ``docs/derivations/captioning.md``: the data flow of the captioning model, with
the shape of every array and the parameters of every layer.

Run from the repository root::

    python docs/figures/captioning_dataflow.py

It writes ``docs/_static/captioning_dataflow.png``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "_static" / "captioning_dataflow.png"

DATA = {"facecolor": "#f4f4f4", "edgecolor": "#555555"}
LAYER = {"facecolor": "#dbe9f8", "edgecolor": "#2b5d8c"}
LOSS = {"facecolor": "#fbe3d6", "edgecolor": "#a4472b"}
WIDTH, HEIGHT = 2.3, 0.95


def box(
    ax, x: float, y: float, title: str, detail: str, style: dict, out: str = ""
) -> tuple[float, float]:
    """A box centred at (x, y): a bold title, a second line (parameters or shape) and, for a
    layer, a third line with the shape of its output; returns (x, y)."""
    patch = FancyBboxPatch(
        (x - WIDTH / 2, y - HEIGHT / 2),
        WIDTH,
        HEIGHT,
        boxstyle="round,pad=0.02,rounding_size=0.12",
        linewidth=1.2,
        **style,
    )
    ax.add_patch(patch)
    lift = 0.1 if out else 0.0
    ax.text(x, y + 0.15 + lift, title, ha="center", va="center", fontsize=9, fontweight="bold")
    ax.text(x, y - 0.13 + lift, detail, ha="center", va="center", fontsize=7.5, family="monospace")
    if out:
        ax.text(
            x,
            y - 0.33,
            out,
            ha="center",
            va="center",
            fontsize=7.5,
            family="monospace",
            color="#2b5d8c",
        )
    return x, y


def arrow(ax, start: tuple[float, float], end: tuple[float, float], label: str = "") -> None:
    """An arrow from the edge of the box at ``start`` to the edge of the box at ``end``."""
    (x0, y0), (x1, y1) = start, end
    if abs(y1 - y0) < 1e-9:
        x0, x1 = x0 + WIDTH / 2 * (1 if x1 > x0 else -1), x1 - WIDTH / 2 * (1 if x1 > x0 else -1)
    elif abs(x1 - x0) < 1e-9:
        y0, y1 = y0 + HEIGHT / 2 * (1 if y1 > y0 else -1), y1 - HEIGHT / 2 * (1 if y1 > y0 else -1)
    else:
        y0 = y0 + HEIGHT / 2 * (1 if y1 > y0 else -1)
        x1 = x1 - WIDTH / 2 * (1 if x1 > x0 else -1)
    ax.annotate(
        "",
        xy=(x1, y1),
        xytext=(x0, y0),
        arrowprops={"arrowstyle": "-|>", "color": "#333333", "lw": 1.1, "shrinkA": 0, "shrinkB": 2},
    )
    if label:
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.1, label, ha="center", fontsize=7, color="#333")


def main() -> None:
    fig, ax = plt.subplots(figsize=(13, 4.8))
    ax.set_xlim(-0.1, 14.1)
    ax.set_ylim(0.0, 4.5)
    ax.axis("off")
    dx = 2.8
    col = [1.25 + i * dx for i in range(5)]

    # image lane
    features = box(ax, col[0], 3.6, "features f", "(N, D) | (N, D, 4, 4)", DATA)
    project = box(ax, col[1], 3.6, "project", "W_proj (D, H), b_proj (H,)", LAYER, "-> (N, H)")
    start = box(ax, col[2], 3.6, "initial state", "h0 (N, H) | A (N, H, 4, 4)", DATA)
    ax.text(
        col[2] + WIDTH / 2 + 0.15,
        3.6,
        "rnn, lstm: h0 = f W_proj + b_proj (lstm: c0 = 0)\n"
        "attention: each of the 4 x 4 cells projected to A;\n"
        "h0 = c0 = mean of A over the grid; A attended at every step",
        ha="left",
        va="center",
        fontsize=7.5,
        color="#2b5d8c",
    )

    # word lane
    captions = box(ax, col[0], 2.1, "captions", "(N, T+1) word ids", DATA)
    words_in = box(ax, col[1], 2.1, "captions[:, :-1]", "(N, T), <START> first", DATA)
    x = box(ax, col[2], 2.1, "word embedding", "W_embed (V, W)", LAYER, "-> x (N, T, W)")
    h = box(
        ax,
        col[3],
        2.1,
        "RNN | LSTM | att. LSTM",
        "Wx (W, kH), Wh (H, kH), b",
        LAYER,
        "-> h (N, T, H)",
    )
    scores = box(
        ax, col[4], 2.1, "temporal affine", "W_vocab (H, V), b_vocab", LAYER, "-> scores (N, T, V)"
    )

    # target lane
    words_out = box(ax, col[1], 0.6, "captions[:, 1:]", "(N, T) targets", DATA)
    mask = box(ax, col[2], 0.6, "mask", "targets != <NULL>", DATA)
    loss = box(ax, col[4], 0.6, "masked softmax loss", "sum over t, mean over N", LOSS, "-> scalar")

    arrow(ax, features, project)
    arrow(ax, project, start)
    arrow(ax, start, h)
    arrow(ax, captions, words_in)
    arrow(ax, words_in, x)
    arrow(ax, x, h)
    arrow(ax, h, scores)
    arrow(ax, scores, loss)
    arrow(ax, captions, words_out)
    arrow(ax, words_out, mask)
    ax.annotate(
        "",
        xy=(loss[0] - WIDTH / 2, loss[1]),
        xytext=(mask[0] + WIDTH / 2, mask[1]),
        arrowprops={"arrowstyle": "-|>", "color": "#333333", "lw": 1.1},
    )
    ax.text((mask[0] + loss[0]) / 2, mask[1] + 0.1, "targets, mask", ha="center", fontsize=7)
    ax.text(
        col[3],
        2.1 - 0.65,
        "k = 1 (rnn), 4 (lstm; attention adds Wattn (H, 4H))",
        ha="center",
        fontsize=7.5,
        color="#2b5d8c",
    )
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
