r"""Loss functions written from scratch, each a :class:`torch.autograd.Function`.

Names and signatures follow :mod:`torch.nn.functional`, so ``nnlib.losses.l1_loss`` and
``torch.nn.functional.l1_loss`` can be swapped and compared. Each forward sits next to a
backward that spells out the derivative; the ``*_derivative`` functions give the same
derivative as a plain function for plots.

``REGRESSION_LOSSES`` is the registry the chapters read to draw figures and tables: adding
a loss is one entry there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.autograd import Function

from nnlib._validation import (
    check_floating,
    check_reduction,
    check_same_device,
    check_same_shape,
)

__all__ = [
    "l1_loss",
    "mse_loss",
    "l1_loss_derivative",
    "mse_loss_derivative",
    "LossSpec",
    "REGRESSION_LOSSES",
]


# --- reductions ----------------------------------------------------------------------------
def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply 'none' | 'mean' | 'sum' to an element-wise loss (torch's semantics)."""
    if reduction == "mean":
        return loss.mean()  # an empty input gives nan, as in torch
    if reduction == "sum":
        return loss.sum()
    return loss


def _unreduce(grad_out: torch.Tensor, like: torch.Tensor, reduction: str) -> torch.Tensor:
    """Gradient of the reduction: d(reduce(l))/dl_i, times the incoming gradient."""
    if reduction == "mean":
        return grad_out.expand_as(like) / like.numel()  # d(mean)/dl_i = 1/n
    if reduction == "sum":
        return grad_out.expand_as(like)  # d(sum)/dl_i = 1
    return grad_out


def _check_pair(
    input: torch.Tensor, target: torch.Tensor, reduction: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a (input, target) pair; promote both to their common dtype, as torch does."""
    check_floating(input, "input")
    check_floating(target, "target")
    check_same_shape(input, target, "input", "target")
    check_same_device(input, target, "input", "target")
    check_reduction(reduction)
    dtype = torch.promote_types(input.dtype, target.dtype)
    return input.to(dtype), target.to(dtype)


# --- L1 -------------------------------------------------------------------------------------
class _L1Loss(Function):
    r"""l_i = |x_i - y_i|;  dl_i/dx_i = sign(x_i - y_i), 0 at x_i = y_i as in torch;
    dl_i/dy_i = -dl_i/dx_i."""

    @staticmethod
    def forward(ctx, input, target, reduction):
        ctx.save_for_backward(input, target)
        ctx.reduction = reduction
        return _reduce((input - target).abs(), reduction)

    @staticmethod
    def backward(ctx, grad_out):
        input, target = ctx.saved_tensors
        grad = _unreduce(grad_out, input, ctx.reduction) * torch.sign(input - target)
        return grad, -grad, None  # chain rule: dL/dx = dL/dl * dl/dx


def l1_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Mean absolute error (L1 loss) between ``input`` and ``target``.

    .. math::
        \ell_i = |x_i - y_i|, \qquad
        \ell = \begin{cases}
            (\ell_1, \dots, \ell_N) & \text{reduction = 'none'} \\
            \frac{1}{N}\sum_i \ell_i & \text{reduction = 'mean'} \\
            \sum_i \ell_i & \text{reduction = 'sum'}
        \end{cases}

    Its gradient has the same size, :math:`\operatorname{sign}(x_i - y_i)`, for every error,
    large or small, so outliers pull no harder than other points. Use it for regression when
    large errors are corruption rather than signal. The derivative at :math:`x_i = y_i` is
    taken as 0, as in PyTorch.

    Args:
        input: predictions, a floating-point tensor of any shape :math:`(*)`.
        target: same shape and device as ``input`` (dtypes are promoted, as in torch).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        input :math:`(*)`, target :math:`(*)`; output a scalar, or :math:`(*)` for 'none'.

    Example:
        >>> x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
        >>> y = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
        >>> l1_loss(x, y), l1_loss(x, y, reduction="sum")
        (tensor(0.6667, dtype=torch.float64), tensor(2., dtype=torch.float64))
    """
    input, target = _check_pair(input, target, reduction)
    return _L1Loss.apply(input, target, reduction)


def l1_loss_derivative(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Element-wise :math:`\partial \ell_i / \partial x_i = \operatorname{sign}(x_i - y_i)`."""
    input, target = _check_pair(input, target, "none")
    return torch.sign(input - target)


# --- MSE ------------------------------------------------------------------------------------
class _MSELoss(Function):
    r"""l_i = (x_i - y_i)^2;  dl_i/dx_i = 2 (x_i - y_i);  dl_i/dy_i = -dl_i/dx_i."""

    @staticmethod
    def forward(ctx, input, target, reduction):
        ctx.save_for_backward(input, target)
        ctx.reduction = reduction
        return _reduce((input - target) ** 2, reduction)

    @staticmethod
    def backward(ctx, grad_out):
        input, target = ctx.saved_tensors
        grad = _unreduce(grad_out, input, ctx.reduction) * 2 * (input - target)
        return grad, -grad, None


def mse_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Mean squared error (squared L2 loss) between ``input`` and ``target``.

    .. math::
        \ell_i = (x_i - y_i)^2, \qquad
        \ell = \begin{cases}
            (\ell_1, \dots, \ell_N) & \text{reduction = 'none'} \\
            \frac{1}{N}\sum_i \ell_i & \text{reduction = 'mean'} \\
            \sum_i \ell_i & \text{reduction = 'sum'}
        \end{cases}

    Smooth everywhere; its gradient :math:`2(x_i - y_i)` shrinks as the error shrinks and
    grows with it, so large errors (outliers) dominate. Use it for regression when errors
    are roughly Gaussian and large errors are signal.

    Args:
        input: predictions, a floating-point tensor of any shape :math:`(*)`.
        target: same shape and device as ``input`` (dtypes are promoted, as in torch).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        input :math:`(*)`, target :math:`(*)`; output a scalar, or :math:`(*)` for 'none'.

    Example:
        >>> x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
        >>> y = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
        >>> mse_loss(x, y), mse_loss(x, y, reduction="sum")
        (tensor(1.3333, dtype=torch.float64), tensor(4., dtype=torch.float64))
    """
    input, target = _check_pair(input, target, reduction)
    return _MSELoss.apply(input, target, reduction)


def mse_loss_derivative(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Element-wise :math:`\partial \ell_i / \partial x_i = 2 (x_i - y_i)`."""
    input, target = _check_pair(input, target, "none")
    return 2 * (input - target)


# --- registry -------------------------------------------------------------------------------
@dataclass(frozen=True)
class LossSpec:
    """One regression loss: the function, its derivative, and facts the chapters tabulate."""

    name: str
    function: Callable[..., torch.Tensor]
    derivative: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    formula: str  # LaTeX of the element-wise loss in terms of the error e = x - y
    torch_name: str  # the torch.nn.functional counterpart
    smooth: bool  # differentiable at e = 0
    gradient_bounded: bool  # |dl/dx| bounded for large errors (robust to outliers)

    def elementwise(self, error: torch.Tensor) -> torch.Tensor:
        """The loss of each element as a function of the error ``error = input - target``."""
        return self.function(error, torch.zeros_like(error), reduction="none")

    def elementwise_derivative(self, error: torch.Tensor) -> torch.Tensor:
        """dl/dx of each element as a function of the error."""
        return self.derivative(error, torch.zeros_like(error))


REGRESSION_LOSSES: dict[str, LossSpec] = {
    spec.name: spec
    for spec in (
        LossSpec("l1", l1_loss, l1_loss_derivative, r"|e|", "l1_loss", False, True),
        LossSpec("mse", mse_loss, mse_loss_derivative, r"e^2", "mse_loss", True, False),
    )
}
