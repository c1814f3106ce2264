"""The deep networks the pages on vanishing gradients train: a stack of linear layers, each
followed by an optional normalisation and an activation, or by residual blocks.

``deep_mlp`` builds it with PyTorch's default initialisation or with Xavier's or He's
(normal, biases zero); ``Residual`` is the block ``x + activation(linear(x))``, whose
identity path carries signal and gradient through any depth. ``SeedStack`` trains several
such networks (one per seed) side by side, as one network with a leading seed dim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nnlib import activations as A
from nnlib._validation import check_choice, check_int

__all__ = ["Residual", "SeedStack", "deep_mlp"]

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


_STACKED = (nn.Linear, nn.BatchNorm1d, nn.LayerNorm)  # and Residual, checked apart


class SeedStack(nn.Module):
    """Networks of one structure, one per seed, run side by side on input of shape
    (seeds, batch, features): seed s's network sees x[s].

    Every parameter and running statistic gets a leading seed dim (``"0.weight"`` becomes the
    parameter ``"0_weight"``) and each linear layer becomes one batched matrix product, so
    seed s computes what its own network computes, to rounding. With a loss that is a sum of
    per-seed losses, each seed's parameters get their own network's gradient (to rounding),
    with nothing from the other seeds, and Adam updates every entry on its own. The layers of
    ``nets`` may be ``nn.Linear``, ``nn.BatchNorm1d`` (as a channel per seed and feature),
    ``nn.LayerNorm`` over the features, ``Residual`` with an activation without parameters,
    and layers without parameters or buffers (the activations), as :func:`deep_mlp` builds
    them. ``train()`` and ``eval()`` reach those layers too."""

    def __init__(self, nets: Sequence[nn.Sequential]) -> None:
        super().__init__()
        if not isinstance(nets, Sequence) or len(nets) == 0:
            raise ValueError(f"nets must be a non-empty sequence of networks; got {nets!r}")
        first = nets[0]
        for s, net in enumerate(nets):
            if not isinstance(net, nn.Sequential):
                raise TypeError(f"nets[{s}] must be an nn.Sequential; got {type(net).__name__}")
            shapes = [(n, p.shape) for n, p in net.named_parameters()]
            if [type(m) for m in net] != [type(m) for m in first] or shapes != [
                (n, p.shape) for n, p in first.named_parameters()
            ]:
                raise ValueError(f"nets must share one structure; nets[{s}] differs from nets[0]")
        for i, layer in enumerate(first):
            if isinstance(layer, Residual):  # its linear layer is stacked, not its activation
                own_state = any(True for _ in layer.activation.parameters())
            elif isinstance(layer, _STACKED):
                own_state = False
            else:
                own_state = any(True for _ in layer.parameters()) or any(
                    True for _ in layer.buffers()
                )
            if own_state:
                raise TypeError(
                    "SeedStack stacks Linear, BatchNorm1d, LayerNorm and Residual layers and "
                    "runs layers without parameters or buffers; layer "
                    f"{i} is {type(layer).__name__}, with state of its own"
                )
            if isinstance(layer, nn.BatchNorm1d) and layer.momentum is None:
                raise ValueError(f"layer {i}: BatchNorm1d with momentum=None is not supported")
        self.layers = tuple(first)  # a tuple: the template's own parameters stay out
        self.seeds = len(nets)
        for name, _ in first.named_parameters():
            stacked = torch.stack([net.get_parameter(name).detach() for net in nets])
            self.register_parameter(name.replace(".", "_"), nn.Parameter(stacked))
        for name, _ in first.named_buffers():
            if not name.endswith("num_batches_tracked"):
                stacked = torch.stack([net.get_buffer(name) for net in nets])
                self.register_buffer(name.replace(".", "_"), stacked.contiguous())

    def train(self, mode: bool = True) -> SeedStack:
        super().train(mode)
        for layer in self.layers:  # the template's layers: dropout, say, sees the mode
            layer.train(mode)
        return self

    def _linear(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        """b + x W^T, per seed: one batched matrix product."""
        w = getattr(self, f"{prefix}_weight")
        b = self._stacked(f"{prefix}_bias")
        if b is None:
            return torch.bmm(x, w.transpose(1, 2))
        return torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        for i, layer in enumerate(self.layers):
            if isinstance(layer, nn.Linear):
                x = self._linear(str(i), x)
            elif isinstance(layer, nn.BatchNorm1d):
                x = self._batch_norm(i, layer, x)
            elif isinstance(layer, nn.LayerNorm):
                x = self._layer_norm(i, layer, x)
            elif isinstance(layer, Residual):
                x = x + layer.activation(self._linear(f"{i}_linear", x))
            else:  # no parameters: an activation, element-wise
                x = layer(x)
        return x

    def _check_input(self, x: object) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[0] != self.seeds:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"input must have shape ({self.seeds}, batch, features), one batch per seed; "
                f"got {got}"
            )

    def _stacked(self, name: str) -> torch.Tensor | None:
        return getattr(self, name, None)

    def _batch_norm(
        self,
        i: int,
        layer: nn.BatchNorm1d,
        x: torch.Tensor,
    ) -> torch.Tensor:
        """Batch norm with a channel per (seed, feature): (seeds, batch,
        features) as (batch, seeds * features); the stacked running
        statistics are updated in place."""
        seeds, batch, features = x.shape
        names = ("running_mean", "running_var", "weight", "bias")
        mean, var, weight, bias = (
            None if t is None else t.view(-1)  # one value per channel
            for t in (self._stacked(f"{i}_{name}") for name in names)
        )
        y = F.batch_norm(
            x.transpose(0, 1).reshape(batch, seeds * features),
            mean,
            var,
            weight,
            bias,
            training=self.training or mean is None,
            momentum=float(layer.momentum or 0.0),  # None: refused
            eps=layer.eps,
        )
        return y.reshape(batch, seeds, features).transpose(0, 1)

    def _layer_norm(self, i: int, layer: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
        """Layer norm over each example's features, then each seed's own gain and shift."""
        x = F.layer_norm(x, layer.normalized_shape, eps=layer.eps)
        w, b = self._stacked(f"{i}_weight"), self._stacked(f"{i}_bias")
        x = x if w is None else x * w.unsqueeze(1)
        return x if b is None else x + b.unsqueeze(1)
