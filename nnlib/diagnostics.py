"""Looking inside a network while it trains: gradient norms, activation statistics, dead
units, and the gradient-flow figure.

``GradientMonitor`` hooks the chosen layers and records, at every backward pass, the norm
of the gradient arriving at each layer's output; after a backward pass,
``weight_grad_norms`` reads each layer's weight-gradient norm. ``ActivationMonitor``
records the mean, standard deviation and fraction of exact zeros of each layer's output
with forward hooks. Both are context managers that remove their hooks on exit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["GradientMonitor", "ActivationMonitor", "dead_unit_fraction", "plot_gradient_flow"]

_DEFAULT_LAYERS = (nn.Linear, nn.Conv2d)


def _select(model: nn.Module, layer_types) -> list[tuple[str, nn.Module]]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, layer_types)]
    if not layers:
        names = ", ".join(t.__name__ for t in layer_types)
        raise ValueError(f"model has no layer of the types to monitor ({names})")
    return layers


class _ForwardHookMonitor:
    """Selects a model's layers; as a context manager, puts ``_hook(name)`` on each as a
    forward hook and removes them all on exit."""

    def __init__(self, model: nn.Module, layer_types: tuple[type, ...] = _DEFAULT_LAYERS) -> None:
        self.layers = _select(model, layer_types)
        self._handles: list = []

    def _hook(self, name: str):
        raise NotImplementedError

    def __enter__(self):
        for name, module in self.layers:
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def names(self) -> list[str]:
        return [name for name, _ in self.layers]


class GradientMonitor(_ForwardHookMonitor):
    """Per-layer gradient norms of ``model``'s layers of ``layer_types``.

    ``output_grad_norms[name]`` lists, per backward pass, the norm of dL/d(layer output);
    ``weight_grad_norms()`` returns the current norm of each layer's weight gradient.
    """

    def __init__(self, model: nn.Module, layer_types: tuple[type, ...] = _DEFAULT_LAYERS) -> None:
        super().__init__(model, layer_types)
        self.output_grad_norms: dict[str, list[float]] = {name: [] for name, _ in self.layers}

    def _hook(self, name: str):
        # a forward hook puts a tensor hook on the layer's output: autograd calls it with
        # dL/d(output) during the backward pass
        def forward_hook(module, inputs, output):
            if output.requires_grad:
                output.register_hook(
                    lambda grad: self.output_grad_norms[name].append(grad.norm().item())
                )

        return forward_hook

    def weight_grad_norms(self) -> list[float]:
        """Norm of each monitored layer's weight gradient (nan where there is none yet)."""
        out = []
        for _, module in self.layers:
            grad = getattr(module, "weight", None)
            grad = None if grad is None else grad.grad
            out.append(float("nan") if grad is None else grad.detach().norm().item())
        return out


class ActivationMonitor(_ForwardHookMonitor):
    """Mean, standard deviation and fraction of exact zeros of each monitored layer's output,
    one record per forward pass: ``stats[name]`` is a list of dicts."""

    def __init__(self, model: nn.Module, layer_types: tuple[type, ...] = _DEFAULT_LAYERS) -> None:
        super().__init__(model, layer_types)
        self.stats: dict[str, list[dict[str, float]]] = {name: [] for name, _ in self.layers}

    def _hook(self, name: str):
        def forward_hook(module, inputs, output):
            out = output.detach().float()
            record = {"mean": out.mean().item(), "std": out.std().item()}
            record["zero_fraction"] = (out == 0).float().mean().item()
            self.stats[name].append(record)

        return forward_hook

    def last(self, key: str) -> list[float]:
        """``key`` ('mean', 'std' or 'zero_fraction') of the last forward pass, per layer."""
        if key not in ("mean", "std", "zero_fraction"):
            raise ValueError(f"key must be one of 'mean', 'std', 'zero_fraction'; got {key!r}")
        return [self.stats[name][-1][key] for name, _ in self.layers]


@torch.no_grad()
def dead_unit_fraction(
    model: nn.Module, inputs: torch.Tensor, layer_types: tuple[type, ...] = (nn.ReLU,)
) -> dict[str, float]:
    """For each layer of ``layer_types`` (by default ReLU modules), the fraction of its units
    (features along dim 1) whose output is exactly 0 for every one of ``inputs``."""
    layers = _select(model, layer_types)
    outputs: dict[str, torch.Tensor] = {}
    handles = [
        m.register_forward_hook(lambda mod, i, o, name=name: outputs.__setitem__(name, o))
        for name, m in layers
    ]
    try:
        model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    result = {}
    for name, _ in layers:
        out = outputs[name]
        per_unit = out.transpose(0, 1).reshape(out.shape[1], -1)  # (units, samples x positions)
        result[name] = (per_unit == 0).all(dim=1).float().mean().item()
    return result


def plot_gradient_flow(
    ax: Axes, curves: dict[str, Sequence[float]], *, title: str | None = None
) -> None:
    """Draw per-layer gradient norms (one curve per label) on a log scale, layer 1 first."""
    if not curves:
        raise ValueError("curves must map at least one label to per-layer norms")
    for label, norms in curves.items():
        ax.plot(range(1, len(norms) + 1), list(norms), "-o", markersize=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("gradient norm")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
