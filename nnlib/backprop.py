r"""Backpropagation by hand for a two-layer MLP, and numerical gradient checking.

The network, for a batch :math:`X` of shape (N, D):

.. math::
    Z_1 = X W_1^\top + b_1,\quad H = f(Z_1),\quad Z_2 = H W_2^\top + b_2,\quad L = \ell(Z_2, Y)

and its gradients, written out in matrix form with the chain rule (``mlp2_backward``):

.. math::
    \frac{\partial L}{\partial W_2} = \delta_2^\top H,\ \
    \frac{\partial L}{\partial b_2} = \textstyle\sum_n \delta_2,\ \
    \delta_1 = (\delta_2 W_2) \odot f'(Z_1),\ \
    \frac{\partial L}{\partial W_1} = \delta_1^\top X,\ \
    \frac{\partial L}{\partial b_1} = \textstyle\sum_n \delta_1

with :math:`\delta_2 = \partial L / \partial Z_2`: :math:`2(Z_2 - Y)/(NK)` for the mean squared
error over N x K outputs, :math:`(\operatorname{softmax}(Z_2) - \text{one-hot}(Y))/N` for
cross-entropy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from nnlib import activations as A
from nnlib._validation import check_choice, check_floating, check_number

__all__ = [
    "init_mlp2", "mlp2_forward", "mlp2_backward", "mlp2_loss",
    "numerical_gradient", "relative_error", "gradient_check",
]  # fmt: skip

LOSSES = ("mse", "cross_entropy")
PARAMS = ("W1", "b1", "W2", "b2")


def init_mlp2(
    d_in: int,
    d_hidden: int,
    d_out: int,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> dict[str, torch.Tensor]:
    """Parameters of a D -> H -> K network, uniform in +-1/sqrt(fan_in) like torch.nn.Linear."""
    g = torch.Generator().manual_seed(seed)

    def uniform(shape, fan_in):
        return ((torch.rand(shape, generator=g, dtype=dtype) * 2 - 1) / fan_in**0.5).to(device)

    return {
        "W1": uniform((d_hidden, d_in), d_in),
        "b1": uniform((d_hidden,), d_in),
        "W2": uniform((d_out, d_hidden), d_hidden),
        "b2": uniform((d_out,), d_hidden),
    }


def _check_params(params: Mapping[str, torch.Tensor]) -> None:
    missing = [k for k in PARAMS if k not in params]
    if missing:
        raise ValueError(f"params must hold {', '.join(PARAMS)}; missing {', '.join(missing)}")
    for key in PARAMS:
        check_floating(params[key], f"params[{key!r}]")


def mlp2_forward(
    X: torch.Tensor, params: Mapping[str, torch.Tensor], activation: str = "tanh"
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Forward pass; returns the output Z2 and the cache the backward pass needs."""
    check_floating(X, "X")
    _check_params(params)
    check_choice(activation, "activation", tuple(A.ELEMENTWISE))
    if X.dim() != 2 or X.shape[1] != params["W1"].shape[1]:
        raise ValueError(
            f"X must have shape (N, {params['W1'].shape[1]}) (W1's inputs); got {tuple(X.shape)}"
        )
    f, _ = A.ELEMENTWISE[activation]
    Z1 = X @ params["W1"].T + params["b1"]
    H = f(Z1)
    Z2 = H @ params["W2"].T + params["b2"]
    return Z2, {"X": X, "Z1": Z1, "H": H, "Z2": Z2, "activation": activation}


def mlp2_loss(Z2: torch.Tensor, Y: torch.Tensor, loss: str = "mse") -> torch.Tensor:
    """Mean squared error over all outputs, or mean cross-entropy of class indices."""
    check_choice(loss, "loss", LOSSES)
    if loss == "mse":
        return ((Z2 - Y) ** 2).mean()
    log_p = Z2 - torch.logsumexp(Z2, dim=1, keepdim=True)
    return -log_p[torch.arange(len(Y), device=Y.device), Y].mean()


def mlp2_backward(
    cache: Mapping[str, Any],
    Y: torch.Tensor,
    params: Mapping[str, torch.Tensor],
    loss: str = "mse",
) -> dict[str, torch.Tensor]:
    """Gradients of the mean loss for every parameter, by the matrix chain rule."""
    check_choice(loss, "loss", LOSSES)
    X, Z1, H, Z2 = cache["X"], cache["Z1"], cache["H"], cache["Z2"]
    n = X.shape[0]
    if loss == "mse":
        delta2 = 2 * (Z2 - Y) / Z2.numel()  # dL/dZ2 for the mean over N x K
    else:
        softmax = torch.exp(Z2 - torch.logsumexp(Z2, dim=1, keepdim=True))
        one_hot = torch.zeros_like(Z2)
        one_hot[torch.arange(n, device=Y.device), Y] = 1
        delta2 = (softmax - one_hot) / n  # dL/dZ2 = (softmax - one-hot) / N
    grads = {"W2": delta2.T @ H, "b2": delta2.sum(dim=0)}
    _, derivative = A.ELEMENTWISE[cache["activation"]]
    delta1 = (delta2 @ params["W2"]) * derivative(Z1)
    grads["W1"] = delta1.T @ X
    grads["b1"] = delta1.sum(dim=0)
    return grads


def numerical_gradient(
    fn: Callable[[], torch.Tensor], tensor: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Central differences (f(t + eps e_i) - f(t - eps e_i)) / 2 eps for every entry of
    ``tensor``, which ``fn`` reads; ``tensor`` is restored afterwards. 2 n evaluations."""
    check_floating(tensor, "tensor")
    eps = check_number(eps, "eps", minimum=0, strict_minimum=True)
    grad = torch.zeros_like(tensor)
    flat, out = tensor.view(-1), grad.view(-1)
    with torch.no_grad():
        for i in range(flat.numel()):
            original = flat[i].item()
            flat[i] = original + eps
            up = float(fn())
            flat[i] = original - eps
            down = float(fn())
            flat[i] = original
            out[i] = (up - down) / (2 * eps)
    return grad


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / (||a|| + ||b||) in the Euclidean norm over all entries (0 when both are 0).

    Scale-free, and about 1e-9 for a correct float64 gradient checked with eps = 1e-6. Taken
    over the whole tensor rather than entry by entry: an entry whose gradient is nearly 0
    would make its own ratio |a_i - b_i| / (|a_i| + |b_i|) mostly rounding error, which
    changes from one machine to the next.
    """
    a, b = check_floating(a, "a"), check_floating(b, "b")
    scale = (a.norm() + b.norm()).item()
    return (a - b).norm().item() / scale if scale > 0 else 0.0


def gradient_check(
    fn: Callable[[], torch.Tensor],
    params: Mapping[str, torch.Tensor],
    analytic: Mapping[str, torch.Tensor],
    eps: float = 1e-6,
) -> dict[str, float]:
    """Relative error between analytic gradients and central differences, per parameter."""
    return {k: relative_error(analytic[k], numerical_gradient(fn, params[k], eps)) for k in params}
