"""nnlib.plot: the shared style and the drawing helpers."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from nnlib import plot


def test_use_style_applies_the_book_style():
    mpl.rcParams["axes.grid"] = False
    plot.use_style()
    assert mpl.rcParams["axes.grid"] is True
    assert mpl.rcParams["figure.facecolor"] == "white"
    assert [c["color"] for c in mpl.rcParams["axes.prop_cycle"]][:2] == list(plot.PALETTE[:2])


def test_subplots_sizes_per_panel():
    fig, axes = plot.subplots(2, 3, width=2.0, height=1.5)
    assert axes.shape == (2, 3)
    assert tuple(fig.get_size_inches()) == pytest.approx((6.0, 3.0))
    plt.close(fig)
    with pytest.raises(ValueError, match=r"^nrows must be in \[1, inf\]; got 0$"):
        plot.subplots(0, 1)


def test_plot_curves_accepts_tensors_on_any_device(device):
    fig, ax = plot.subplots()
    x = torch.linspace(-1, 1, 5, device=device)
    plot.plot_curves(ax, x, {"a": x**2, "b": np.abs(x.cpu().numpy())}, title="t", xlabel="x")
    lines = [line for line in ax.get_lines() if line.get_label() in ("a", "b")]
    assert [line.get_label() for line in lines] == ["a", "b"]
    np.testing.assert_allclose(lines[0].get_ydata(), (x**2).cpu().numpy())
    assert ax.get_title() == "t" and ax.get_xlabel() == "x"
    plt.close(fig)
    with pytest.raises(ValueError, match="curves must be a non-empty mapping"):
        plot.plot_curves(ax, x, {})


def test_decision_boundary_shades_the_prediction():
    fig, ax = plot.subplots()
    X = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    y = torch.tensor([0, 1, 1])
    seen = {}

    def predict(grid):
        seen["shape"] = tuple(grid.shape)
        return (grid[:, 0] > 0.5).double()

    plot.decision_boundary(ax, predict, X, y, title="step", resolution=20)
    assert seen["shape"] == (400, 2)
    assert ax.get_title() == "step" and len(ax.collections) >= 3
    _assert_boundary_is_the_line_x_equals_half(ax)
    plt.close(fig)


def _assert_boundary_is_the_line_x_equals_half(ax):
    """The drawn 0.5 contour of predict = [x > 0.5] is vertical, at x = 0.5 (one grid step)."""
    (boundary,) = [c for c in ax.collections if list(getattr(c, "levels", [])) == [0.5]]
    points = np.concatenate(boundary.allsegs[0])
    assert np.abs(points[:, 0] - 0.5).max() < 0.11, "the boundary is not at x = 0.5"
    assert np.ptp(points[:, 1]) > 1.5, "the boundary does not cross the plot vertically"


def test_the_boundary_check_catches_swapped_coordinates(monkeypatch):
    """A decision_boundary that hands predict (y, x) instead of (x, y) draws the boundary
    at y = 0.5: planted by reversing what torch.stack receives inside it."""
    stack = torch.stack
    monkeypatch.setattr(torch, "stack", lambda tensors, dim=0: stack(list(tensors)[::-1], dim))
    fig, ax = plot.subplots()
    X = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    plot.decision_boundary(ax, lambda g: (g[:, 0] > 0.5).double(), X, torch.tensor([0, 1, 1]),
                           resolution=20)  # fmt: skip
    monkeypatch.undo()
    with pytest.raises(AssertionError):
        _assert_boundary_is_the_line_x_equals_half(ax)
    plt.close(fig)
