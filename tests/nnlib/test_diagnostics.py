"""nnlib.diagnostics: hooks record what autograd and the forward pass compute."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from nnlib import diagnostics as D
from nnlib import plot


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))


def test_gradient_monitor_records_output_gradients_and_weight_norms():
    net = _net()
    x = torch.randn(16, 4)
    # the reference: gradients with respect to each Linear layer's output, without the monitor
    h0 = net[0](x)
    h2 = net[2](net[1](h0))
    h4 = net[4](net[3](h2))
    expected = torch.autograd.grad(h4.pow(2).sum(), [h0, h2, h4])
    with D.GradientMonitor(net) as monitor:
        net(x).pow(2).sum().backward()
    assert monitor.names() == ["0", "2", "4"]
    for name, grad in zip(monitor.names(), expected, strict=True):
        assert monitor.output_grad_norms[name] == [pytest.approx(grad.norm().item())]
    assert monitor.weight_grad_norms() == pytest.approx(
        [net[k].weight.grad.norm().item() for k in (0, 2, 4)]
    )
    net(x).sum().backward()  # hooks removed: nothing more is recorded
    assert all(len(v) == 1 for v in monitor.output_grad_norms.values())


def test_activation_monitor_statistics():
    net = _net()
    x = torch.randn(32, 4)
    with D.ActivationMonitor(net, (nn.ReLU,)) as monitor:
        net(x)
    h = torch.relu(net[0](x))
    assert monitor.last("mean")[0] == pytest.approx(h.mean().item())
    assert monitor.last("std")[0] == pytest.approx(h.std().item())
    assert monitor.last("zero_fraction")[0] == pytest.approx((h == 0).float().mean().item())
    with pytest.raises(
        ValueError, match=r"^key must be one of 'mean', 'std', 'zero_fraction'; got 'max'$"
    ):
        monitor.last("max")


def test_dead_unit_fraction_counts_units_zero_on_every_input():
    net = _net()
    with torch.no_grad():
        net[0].bias[:3] = -100.0  # three units of the first hidden layer can never fire
    fractions = D.dead_unit_fraction(net, torch.randn(64, 4))
    assert fractions["1"] == pytest.approx(3 / 8)
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    with torch.no_grad():
        conv[0].bias[0] = -100.0
    assert D.dead_unit_fraction(conv, torch.randn(5, 1, 6, 6))["1"] == pytest.approx(1 / 4)


def test_plot_gradient_flow():
    fig, ax = plot.subplots()
    D.plot_gradient_flow(ax, {"a": [1.0, 0.1, 0.01]}, title="flow")
    assert ax.get_yscale() == "log" and ax.get_title() == "flow"
    plt.close(fig)
    with pytest.raises(ValueError, match="curves must map at least one label"):
        D.plot_gradient_flow(ax, {})


def test_errors_are_named():
    with pytest.raises(TypeError, match=r"^model must be a torch.nn.Module; got list$"):
        D.GradientMonitor([1, 2])
    with pytest.raises(
        ValueError, match=r"^model has no layer of the types to monitor \(Conv2d\)$"
    ):
        D.GradientMonitor(_net(), (nn.Conv2d,))
