"""The deep networks the pages on vanishing gradients train: a stack of linear layers, each
followed by an optional normalisation and an activation, or by residual blocks.

``deep_mlp`` builds it with PyTorch's default initialisation or with Xavier's or He's
(normal, biases zero); ``Residual`` is the block ``x + activation(linear(x))``, whose
identity path carries signal and gradient through any depth.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nnlib import activations as A
from nnlib._validation import check_choice, check_int

__all__ = ["Residual", "deep_mlp"]

INITS = ("default", "xavier", "he")


class Residual(nn.Module):
    """x + activation(linear(x)): the identity path carries signal and
    gradient past the branch."""

    def __init__(
        self,
        width: int,
        activation: Callable[[], nn.Module],
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.activation = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.activation(self.linear(x))


def deep_mlp(
    activation: Callable[[], nn.Module] = A.ReLU,
    init: str = "default",
    norm: Callable[[int], nn.Module] | None = None,
    residual: bool = False,
    *,
    depth: int = 20,
    width: int = 64,
    in_features: int = 64,
    out_features: int = 10,
    seed: int | None = 0,
) -> nn.Sequential:
    """``depth`` linear layers: in_features -> width, ``depth - 2`` hidden
    layers of ``width`` (Linear [-> norm] -> activation, or with
    ``residual`` a Residual block), then width -> out_features.

    ``init``: PyTorch's default, or "xavier" (xavier_normal_) or "he"
    (kaiming_normal_ for ReLU) on every weight, with zero biases. ``seed``
    seeds PyTorch's global generator first (None leaves it as it is)."""
    init = check_choice(init, "init", INITS)
    depth = check_int(depth, "depth", minimum=2)
    width = check_int(width, "width", minimum=1)
    in_features = check_int(in_features, "in_features", minimum=1)
    out_features = check_int(out_features, "out_features", minimum=1)
    if seed is not None:
        torch.manual_seed(check_int(seed, "seed"))

    def hidden(n_in: int) -> list[nn.Module]:
        normalise = [norm(width)] if norm else []
        return [nn.Linear(n_in, width), *normalise, activation()]

    layers = hidden(in_features)
    for _ in range(depth - 2):
        if residual:
            layers.append(Residual(width, activation))
        else:
            layers += hidden(width)
    layers.append(nn.Linear(width, out_features))
    net = nn.Sequential(*layers)
    if init != "default":
        for m in net.modules():
            if isinstance(m, nn.Linear):
                if init == "xavier":
                    nn.init.xavier_normal_(m.weight)
                else:
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
    return net
