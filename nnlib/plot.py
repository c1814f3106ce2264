"""One figure style for the whole book.

Every chapter draws through these helpers so that all figures share colours, sizes and
fonts. Figures are raster (PNG) with an opaque white background: they read the same in the
book's light and dark themes, and notebook checks (which compare text outputs exactly)
never see vector markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

from collections.abc import Callable, Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import torch
from cycler import cycler

from nnlib._validation import check_int

__all__ = ["PALETTE", "STYLE", "use_style", "subplots", "plot_curves"]

#: Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
PALETTE = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # green
    "#CC79A7",  # purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.prop_cycle": cycler(color=PALETTE),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "lines.linewidth": 2.0,
    "font.size": 10,
    "svg.hashsalt": "nnlib",  # deterministic ids should an SVG ever be written
}


def use_style() -> None:
    """Apply the book's figure style to matplotlib (idempotent)."""
    mpl.style.use(STYLE)


def subplots(
    nrows: int = 1,
    ncols: int = 1,
    *,
    width: float = 6.4,
    height: float = 4.0,
    **kwargs: Any,
) -> tuple[Figure, Any]:
    """``plt.subplots`` in the book's style; ``width``/``height`` are per panel, in inches."""
    check_int(nrows, "nrows", minimum=1)
    check_int(ncols, "ncols", minimum=1)
    use_style()
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), **kwargs)


def _to_numpy(values: Any) -> Any:
    if isinstance(values, torch.Tensor):
        return values.detach().to("cpu", torch.float64).numpy()
    return values


def plot_curves(
    ax: Axes,
    x: object,
    curves: Mapping[str, object],
    *,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    styles: Sequence[str] | None = None,
) -> None:
    """Draw each ``label -> y`` curve of ``curves`` against ``x`` on ``ax``, with a legend.

    Tensors on any device are accepted and moved to the CPU for drawing.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"curves must be a non-empty mapping of label -> values; got {curves!r}")
    xs = _to_numpy(x)
    for i, (label, ys) in enumerate(curves.items()):
        linestyle = styles[i % len(styles)] if styles else "-"
        ax.plot(xs, _to_numpy(ys), linestyle, label=label)
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.axvline(0.0, color="0.5", linewidth=0.8)
    ax.legend()


def decision_boundary(
    ax: Axes,
    predict: Callable[[torch.Tensor], torch.Tensor],
    X: Any,
    y: Any,
    *,
    title: str | None = None,
    resolution: int = 200,
    margin: float = 0.5,
) -> None:
    """Shade ``predict`` (2-D points -> probability of class 1) over the data's box and
    scatter the points ``X`` coloured by their labels ``y`` (0/1).

    ``predict`` receives a float64 CPU tensor of shape (resolution**2, 2) and returns one
    probability per row (any device); the 0.5 contour is drawn as the decision boundary.
    """
    check_int(resolution, "resolution", minimum=2)
    X = _to_numpy(X)
    y = _to_numpy(y)
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx = torch.linspace(float(lo[0]), float(hi[0]), resolution, dtype=torch.float64)
    gy = torch.linspace(float(lo[1]), float(hi[1]), resolution, dtype=torch.float64)
    mx, my = torch.meshgrid(gx, gy, indexing="xy")
    grid = torch.stack([mx.reshape(-1), my.reshape(-1)], dim=1)
    with torch.no_grad():
        prob = _to_numpy(predict(grid)).reshape(resolution, resolution)
    levels = [i / 10 for i in range(11)]
    ax.contourf(_to_numpy(mx), _to_numpy(my), prob, levels=levels, cmap="RdBu_r", alpha=0.35)
    ax.contour(_to_numpy(mx), _to_numpy(my), prob, levels=[0.5], colors="k", linewidths=1.5)
    for label, marker, colour in ((0, "o", PALETTE[0]), (1, "^", PALETTE[1])):
        pts = X[y == label]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=14,
            marker=marker,
            color=colour,
            edgecolors="white",
            linewidths=0.4,
            label=f"class {label}",
        )
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
