"""One figure style for the whole book.

Every chapter draws through these helpers so that all figures share colours, sizes and
fonts. Figures are raster (PNG) with an opaque white background: they read the same in the
book's light and dark themes, and notebook checks (which compare text outputs exactly)
never see vector markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import torch

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
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
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
    mpl.rcParams.update(STYLE)


def subplots(nrows: int = 1, ncols: int = 1, *, width: float = 6.4, height: float = 4.0, **kwargs):
    """``plt.subplots`` in the book's style; ``width``/``height`` are per panel, in inches."""
    check_int(nrows, "nrows", minimum=1)
    check_int(ncols, "ncols", minimum=1)
    use_style()
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), **kwargs)


def _to_numpy(values):
    if isinstance(values, torch.Tensor):
        return values.detach().to("cpu", torch.float64).numpy()
    return values


def plot_curves(
    ax,
    x,
    curves: Mapping[str, object],
    *,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    styles: Sequence[str] | None = None,
):
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
    return ax
