r"""Loss functions written from scratch, verified against :mod:`torch.nn.functional`.

Names, signatures and ``reduction`` semantics ('none' | 'mean' | 'sum') follow PyTorch, so
``nnlib.losses.l1_loss`` and ``torch.nn.functional.l1_loss`` can be swapped and compared.

* Regression losses are functions :math:`\rho(e)` of the error :math:`e = x - y`. One
  :class:`torch.autograd.Function`, ``_ErrorLoss``, applies any of them; each loss supplies
  :math:`\rho` and :math:`\rho'` side by side (``_huber`` / ``_huber_prime``, ...), and the
  backward is the chain rule :math:`\partial L/\partial x_i = \partial L/\partial \ell_i \cdot
  \rho'(e_i)`.
* Classification losses that need their own backward (hinge, multi-margin, binary
  cross-entropy with and without logits, NLL) are Functions of their own. Cross-entropy is
  ``nll_loss(log_softmax(x))`` plus label smoothing; with class indices it is one Function,
  ``_CrossEntropy``, whose backward gives the gradient of the composition in one step, and
  with probability targets it is built on ``log_softmax``. The focal loss is built on
  ``binary_cross_entropy_with_logits``. Losses built on others get their gradients from
  those explicit backwards.

``REGRESSION_LOSSES`` and ``CLASSIFICATION_LOSSES`` are the family's registries, which the
chapters read for figures and tables.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.autograd import Function

from nnlib._validation import (
    check_floating,
    check_int,
    check_like,
    check_number,
    check_reduction,
    check_same_device,
    check_same_shape,
    check_tensor,
)
from nnlib.activations import (
    _log1p_exp,
    _log_softmax_from,
    _log_sum_exp,
    _LogSoftmax,
    _stable_sigmoid,
    sigmoid,
)

__all__ = [
    "l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss", "pseudo_huber_loss",
    "quantile_loss", "gaussian_nll_loss", "hinge_loss", "multi_margin_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy", "sigmoid_focal_loss",
    "l1_loss_derivative", "mse_loss_derivative", "huber_loss_derivative",
    "smooth_l1_loss_derivative", "pseudo_huber_loss_derivative", "quantile_loss_derivative",
    "LossSpec", "REGRESSION_LOSSES", "ClassificationLossSpec", "CLASSIFICATION_LOSSES",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Reductions and checks
# ---------------------------------------------------------------------------------------------
def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply 'none' | 'mean' | 'sum' to an element-wise loss (torch's semantics)."""
    if reduction == "mean":
        return loss.mean()  # an empty input gives nan, as in torch
    if reduction == "sum":
        return loss.sum()
    return loss


def _unreduce(grad_out: torch.Tensor, like: torch.Tensor, reduction: str) -> torch.Tensor:
    """Gradient of the reduction, d(reduce(l))/dl_i, times the incoming gradient."""
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


def _check_weight(weight, name: str, like: torch.Tensor):
    """An optional weight tensor: floating, on like's device, broadcastable to like's shape."""
    if weight is None:
        return None
    check_floating(weight, name)
    check_same_device(like, weight, "input", name)
    try:
        broadcast = torch.broadcast_shapes(weight.shape, like.shape)
    except RuntimeError:
        broadcast = None
    if broadcast != like.shape:  # torch refuses a weight that would enlarge the result too
        raise ValueError(
            f"{name} must broadcast to the input's shape {tuple(like.shape)}; "
            f"got {tuple(weight.shape)}"
        )
    return weight.to(like.dtype)


# ---------------------------------------------------------------------------------------------
# Regression: losses of the error e = x - y
# ---------------------------------------------------------------------------------------------
class _ErrorLoss(Function):
    """l_i = rho(e_i) with e = x - y;
    dl_i/dx_i = rho'(e_i), dl_i/dy_i = -rho'(e_i)."""

    @staticmethod
    def forward(ctx, input, target, rho, rho_prime, reduction):
        ctx.save_for_backward(input, target)
        ctx.rho_prime, ctx.reduction = rho_prime, reduction
        return _reduce(rho(input - target), reduction)

    @staticmethod
    def backward(ctx, grad_out):
        input, target = ctx.saved_tensors
        # chain rule: dL/dx = dL/dl * dl/dx
        grad_l = _unreduce(grad_out, input, ctx.reduction)
        grad = grad_l * ctx.rho_prime(input - target)
        return grad, -grad, None, None, None


def _l1(e):
    return e.abs()


def _l1_prime(e):
    return torch.sign(e)  # 0 at e = 0, as torch


def _mse(e):
    return e * e


def _mse_prime(e):
    return 2 * e


def _huber(e, delta):
    return torch.where(e.abs() < delta, 0.5 * e * e, delta * (e.abs() - 0.5 * delta))


def _huber_prime(e, delta):
    return e.clamp(-delta, delta)  # e inside [-delta, delta], +-delta outside


def _smooth_l1(e, beta):
    if beta == 0:
        return e.abs()
    return torch.where(e.abs() < beta, 0.5 * e * e / beta, e.abs() - 0.5 * beta)


def _smooth_l1_prime(e, beta):
    if beta == 0:
        return torch.sign(e)
    return (e / beta).clamp(-1, 1)


def _pseudo_huber(e, delta):
    return delta * delta * (torch.sqrt(1 + (e / delta) ** 2) - 1)


def _pseudo_huber_prime(e, delta):
    return e / torch.sqrt(1 + (e / delta) ** 2)


def _error_loss(input, target, reduction, rho, rho_prime):
    input, target = _check_pair(input, target, reduction)
    return _ErrorLoss.apply(input, target, rho, rho_prime, reduction)


def _error_derivative(input, target, rho_prime):
    input, target = _check_pair(input, target, "none")
    return rho_prime(input - target)


def l1_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Mean absolute error (L1 loss): :math:`\ell_i = |x_i - y_i|`, then reduced.

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
    return _error_loss(input, target, reduction, _l1, _l1_prime)


def mse_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Mean squared error: :math:`\ell_i = (x_i - y_i)^2`, then reduced.

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
    return _error_loss(input, target, reduction, _mse, _mse_prime)


def huber_loss(
    input: torch.Tensor, target: torch.Tensor, reduction: str = "mean", delta: float = 1.0
) -> torch.Tensor:
    r"""Huber loss: quadratic for small errors, linear for large ones.

    .. math::
        \ell_i = \begin{cases} \tfrac12 e_i^2 & |e_i| < \delta \\
        \delta\,(|e_i| - \tfrac12\delta) & \text{otherwise} \end{cases},
        \qquad \frac{\partial \ell_i}{\partial x_i} = \operatorname{clamp}(e_i, -\delta, \delta)

    Behaves like MSE near zero (smooth, shrinking gradient) and like :math:`\delta\cdot`L1 for
    outliers (gradient bounded by :math:`\delta`). ``delta`` must be positive.

    Shape: input :math:`(*)`, target :math:`(*)`; a scalar, or :math:`(*)` for 'none'.
    """
    delta = check_number(delta, "delta", minimum=0, strict_minimum=True)
    return _error_loss(
        input, target, reduction, lambda e: _huber(e, delta), lambda e: _huber_prime(e, delta)
    )


def smooth_l1_loss(
    input: torch.Tensor, target: torch.Tensor, reduction: str = "mean", beta: float = 1.0
) -> torch.Tensor:
    r"""Smooth L1 loss: Huber divided by ``beta`` (``delta = beta``).

    .. math::
        \ell_i = \begin{cases} 0.5\, e_i^2 / \beta & |e_i| < \beta \\
        |e_i| - 0.5\,\beta & \text{otherwise} \end{cases}

    The linear part has slope 1 whatever ``beta``; ``beta = 0`` is exactly L1. ``beta`` must
    be non-negative. Shape as :func:`l1_loss`.
    """
    beta = check_number(beta, "beta", minimum=0)
    return _error_loss(
        input,
        target,
        reduction,
        lambda e: _smooth_l1(e, beta),
        lambda e: _smooth_l1_prime(e, beta),
    )


def pseudo_huber_loss(
    input: torch.Tensor, target: torch.Tensor, reduction: str = "mean", delta: float = 1.0
) -> torch.Tensor:
    r"""Pseudo-Huber loss, a smooth Huber: :math:`\delta^2(\sqrt{1 + (e/\delta)^2} - 1)`.

    Every derivative is continuous; the gradient :math:`e / \sqrt{1 + (e/\delta)^2}` tends to
    :math:`\pm\delta` for large errors. Not in PyTorch; checked against its formula and
    against Huber's limits. ``delta`` must be positive. Shape as :func:`l1_loss`.
    """
    delta = check_number(delta, "delta", minimum=0, strict_minimum=True)
    return _error_loss(
        input,
        target,
        reduction,
        lambda e: _pseudo_huber(e, delta),
        lambda e: _pseudo_huber_prime(e, delta),
    )


def _quantile(e, tau):
    return torch.maximum((1 - tau) * e, -tau * e)


def _quantile_prime(e, tau):
    return (1 - tau) * (e > 0).to(e.dtype) - tau * (e < 0).to(e.dtype)  # 0 at e = 0, as L1


def _check_quantile(quantile) -> float:
    tau = check_number(quantile, "quantile", minimum=0, strict_minimum=True)
    if tau >= 1:
        raise ValueError(f"quantile must be in (0, 1); got {quantile!r}")
    return tau


def quantile_loss(
    input: torch.Tensor, target: torch.Tensor, reduction: str = "mean", quantile: float = 0.5
) -> torch.Tensor:
    r"""Quantile (pinball) loss of the error :math:`e_i = x_i - y_i`, for a quantile
    :math:`\tau \in (0, 1)`:

    .. math::
        \ell_i = \max\big((1 - \tau)\, e_i,\ -\tau\, e_i\big),\qquad
        \frac{\partial \ell_i}{\partial x_i} = \begin{cases} 1 - \tau & e_i > 0 \\
        -\tau & e_i < 0 \\ 0 & e_i = 0 \end{cases}

    A prediction above the target costs :math:`1 - \tau` per unit, one below it :math:`\tau`,
    so the constant that minimises the expected loss is the :math:`\tau`-quantile of the
    targets: :math:`\tau = 0.5` is half the L1 loss, whose minimiser is the median. At
    :math:`e_i = 0` the derivative is taken as 0 (inside the subgradient
    :math:`[-\tau, 1 - \tau]`), as L1's. Not in PyTorch. Shape as :func:`l1_loss`.
    """
    tau = _check_quantile(quantile)
    return _error_loss(
        input,
        target,
        reduction,
        lambda e: _quantile(e, tau),
        lambda e: _quantile_prime(e, tau),
    )


class _GaussianNLL(Function):
    """l_i = (log v_i + e_i^2 / v_i) / 2, e = x - y, v = var clamped to eps from below;
    dl/dx = e / v, dl/dy = -e / v, dl/dv = (1 / v - e^2 / v^2) / 2."""

    @staticmethod
    def forward(ctx, input, target, var, eps, full, reduction):
        v = var.clamp(min=eps)
        e = input - target
        loss = 0.5 * (torch.log(v) + e * e / v)
        if full:
            loss = loss + 0.5 * math.log(2 * math.pi)
        ctx.save_for_backward(input, target, var)
        ctx.eps, ctx.reduction = eps, reduction
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad_out):
        input, target, var = ctx.saved_tensors
        v = var.clamp(min=ctx.eps)
        e = input - target
        g = _unreduce(grad_out, e * v, ctx.reduction)  # the loss has the broadcast shape
        grad_x = g * e / v
        # As torch, the clamp does not stop the gradient: dl/dvar uses the clamped value.
        grad_var = (g * 0.5 * (1 / v - e * e / (v * v))).sum_to_size(var.shape)
        grad_y = -grad_x.sum_to_size(target.shape)
        return grad_x.sum_to_size(input.shape), grad_y, grad_var, None, None, None


def _gaussian_var(var, input: torch.Tensor) -> torch.Tensor:
    """torch's var forms: a number; input's shape; input's shape without its last dim; or
    input's shape with exactly one dim of size 1 (shared along that dim)."""
    if isinstance(var, numbers.Real) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"var must be >= 0; got {var!r}")
        return torch.full_like(input, float(var))
    check_floating(var, "var")
    check_same_device(input, var, "input", "var")
    if var.shape == input.shape:
        pass
    elif var.shape == input.shape[:-1]:
        var = var.unsqueeze(-1)
    elif (
        var.dim() != input.dim()
        or sum(b for a, b in zip(input.shape, var.shape, strict=True) if a != b) != 1
    ):
        raise ValueError(
            f"var must have the input's shape {tuple(input.shape)}, that shape without its "
            "last dim, or that shape with one dim of size 1; got "
            f"{tuple(var.shape)}"
        )
    if bool((var < 0).any()):
        raise ValueError(f"var must be >= 0 everywhere; got a minimum of {var.min().item():g}")
    return var


def gaussian_nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    var: torch.Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Negative log-likelihood of ``target`` under a Gaussian with mean ``input`` and variance
    ``var``, as :func:`torch.nn.functional.gaussian_nll_loss`:

    .. math::
        \ell_i = \tfrac12\Big(\log v_i + \frac{(x_i - y_i)^2}{v_i}\Big)
        \ \big(+\ \tfrac12 \log 2\pi \text{ if } \texttt{full}\big),
        \qquad v_i = \max(\text{var}_i, \epsilon)

    With one fixed variance it is MSE scaled by :math:`1/(2v)` plus a constant; predicting
    ``var`` too (heteroscedastic regression) lets the network say where it is unsure, at
    the price :math:`\tfrac12 \log v` per example. Gradients:
    :math:`\partial\ell/\partial x = (x - y)/v`, :math:`\partial\ell/\partial v =
    \tfrac12 (1/v - (x - y)^2/v^2)`, zero where :math:`v` equals the squared error. As in
    torch, the clamp at ``eps`` does not stop the gradient reaching ``var``.

    Shape: input :math:`(*)`; target the same shape or one that broadcasts to it; ``var`` a
    number, the input's shape, that shape without its last dim, or that shape with one dim of
    size 1 (a variance shared along it). Every entry of ``var`` must be >= 0.
    """
    check_floating(input, "input")
    check_floating(target, "target")
    _check_weight(target, "target", input)  # as torch, it may broadcast to the input's shape
    check_reduction(reduction)
    if not isinstance(full, bool):
        raise TypeError(f"full must be a bool; got {full!r}")
    eps = check_number(eps, "eps", minimum=0, strict_minimum=True)
    var = _gaussian_var(var, input)
    dtype = torch.promote_types(torch.promote_types(input.dtype, target.dtype), var.dtype)
    input, target, var = input.to(dtype), target.to(dtype), var.to(dtype)
    return _GaussianNLL.apply(input, target, var, eps, full, reduction)


def l1_loss_derivative(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Element-wise :math:`\partial \ell_i / \partial x_i = \operatorname{sign}(x_i - y_i)`."""
    return _error_derivative(input, target, _l1_prime)


def mse_loss_derivative(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Element-wise :math:`\partial \ell_i / \partial x_i = 2 (x_i - y_i)`."""
    return _error_derivative(input, target, _mse_prime)


def huber_loss_derivative(
    input: torch.Tensor, target: torch.Tensor, delta: float = 1.0
) -> torch.Tensor:
    r"""Element-wise :math:`\operatorname{clamp}(x_i - y_i, -\delta, \delta)`."""
    delta = check_number(delta, "delta", minimum=0, strict_minimum=True)
    return _error_derivative(input, target, lambda e: _huber_prime(e, delta))


def smooth_l1_loss_derivative(
    input: torch.Tensor, target: torch.Tensor, beta: float = 1.0
) -> torch.Tensor:
    r"""Element-wise :math:`\operatorname{clamp}((x_i - y_i)/\beta, -1, 1)`."""
    beta = check_number(beta, "beta", minimum=0)
    return _error_derivative(input, target, lambda e: _smooth_l1_prime(e, beta))


def pseudo_huber_loss_derivative(
    input: torch.Tensor, target: torch.Tensor, delta: float = 1.0
) -> torch.Tensor:
    r"""Element-wise :math:`e_i / \sqrt{1 + (e_i/\delta)^2}`."""
    delta = check_number(delta, "delta", minimum=0, strict_minimum=True)
    return _error_derivative(input, target, lambda e: _pseudo_huber_prime(e, delta))


def quantile_loss_derivative(
    input: torch.Tensor, target: torch.Tensor, quantile: float = 0.5
) -> torch.Tensor:
    r"""Element-wise :math:`1 - \tau` where :math:`e_i > 0`, :math:`-\tau` where
    :math:`e_i < 0`, 0 at :math:`e_i = 0`."""
    tau = _check_quantile(quantile)
    return _error_derivative(input, target, lambda e: _quantile_prime(e, tau))


# ---------------------------------------------------------------------------------------------
# Margin losses
# ---------------------------------------------------------------------------------------------
class _Hinge(Function):
    """l_i = max(0, m - y_i x_i);  dl_i/dx_i = -y_i where m - y_i x_i > 0, else 0."""

    @staticmethod
    def forward(ctx, input, target, margin, reduction):
        ctx.save_for_backward(input, target)
        ctx.margin, ctx.reduction = margin, reduction
        return _reduce((margin - target * input).clamp(min=0), reduction)

    @staticmethod
    def backward(ctx, grad_out):
        input, target = ctx.saved_tensors
        active = (ctx.margin - target * input) > 0
        grad = _unreduce(grad_out, input, ctx.reduction) * torch.where(
            active, -target, torch.zeros_like(target)
        )
        return grad, None, None, None


def hinge_loss(
    input: torch.Tensor, target: torch.Tensor, margin: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    r"""Binary hinge loss (the linear SVM's), :math:`\ell_i = \max(0, m - y_i x_i)`.

    ``input`` holds raw scores, ``target`` the labels :math:`-1` or :math:`+1`. Points
    classified correctly with a margin of at least :math:`m` cost nothing and give no
    gradient. (PyTorch has no binary hinge loss; ``hinge_embedding_loss`` is a different one.)

    Shape: input :math:`(*)`, target :math:`(*)` with values in {-1, +1}.
    """
    input, target = _check_pair(input, target, reduction)
    margin = check_number(margin, "margin")
    if not bool(((target == 1) | (target == -1)).all()):
        raise ValueError("target must contain only -1 and +1 (class labels for hinge_loss)")
    return _Hinge.apply(input, target, margin, reduction)


def _check_class_target(target, input, class_dim, name="target", ignore_index=None):
    """Class-index target: integer dtype, shape = input's without the class dim, in range."""
    check_tensor(target, name)
    if target.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(
            f"{name} must be an integer tensor of class indices; got dtype {target.dtype}"
        )
    expected = tuple(input.shape[:class_dim]) + tuple(input.shape[class_dim + 1 :])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"{name} must have shape {expected} (input's shape without the class dim); "
            f"got {tuple(target.shape)}"
        )
    check_same_device(input, target, "input", name)
    classes = input.shape[class_dim]
    valid = target if ignore_index is None else target[target != ignore_index]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= classes):
        bad = int(valid.min()) if int(valid.min()) < 0 else int(valid.max())
        raise ValueError(f"{name} must hold class indices in [0, {classes - 1}]; got {bad}")
    return target.long()


class _MultiMargin(Function):
    """l_n = sum_{i != y} w_y max(0, m - x_y + x_i)^p / C;  gradients +-p w_y h^{p-1} / C."""

    @staticmethod
    def forward(ctx, input, target, p, margin, weight, reduction):
        x_y = input.gather(1, target.unsqueeze(1))
        h = (margin - x_y + input).clamp(min=0)
        h = h.scatter(1, target.unsqueeze(1), 0.0)  # the true class is not summed
        w = 1.0 if weight is None else weight[target].unsqueeze(1)
        per_sample = (w * h**p).sum(dim=1) / input.shape[1]
        ctx.save_for_backward(input, target, h, *(() if weight is None else (weight,)))
        ctx.p, ctx.reduction = p, reduction
        return _reduce(per_sample, reduction)

    @staticmethod
    def backward(ctx, grad_out):
        input, target, h, *weight = ctx.saved_tensors
        w = 1.0 if not weight else weight[0][target].unsqueeze(1)
        g = _unreduce(grad_out, h[:, 0], ctx.reduction).unsqueeze(1)
        slope = (h > 0).to(h.dtype) if ctx.p == 1 else 2 * h
        d = g * w * slope / input.shape[1]  # d l / d x_i for i != y
        d_true = -d.sum(dim=1, keepdim=True)  # x_y appears in every term with a minus sign
        return d.scatter(1, target.unsqueeze(1), d_true), None, None, None, None, None


def multi_margin_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Multi-class hinge loss (Weston-Watkins style, as ``torch.nn.MultiMarginLoss``).

    .. math:: \ell_n = \frac{1}{C}\sum_{i \ne y_n} w_{y_n} \max(0, m - x_{n,y_n} + x_{n,i})^p

    Shape: input :math:`(N, C)` or :math:`(C)`, target :math:`(N)` or :math:`()` class
    indices; ``p`` is 1 or 2; ``weight`` one per class, :math:`(C)`.
    """
    check_floating(input, "input")
    check_reduction(reduction)
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError(f"p must be 1 or 2; got {p!r}")
    margin = check_number(margin, "margin")
    if input.dim() not in (1, 2):
        raise ValueError(f"input must be 1-d (C) or 2-d (N, C); got shape {tuple(input.shape)}")
    squeeze = input.dim() == 1
    x = input.unsqueeze(0) if squeeze else input
    t = _check_class_target(target.unsqueeze(0) if squeeze else target, x, 1)
    weight = check_like(
        weight, "weight", like=x, shape=(x.shape[1],), what=" (one per class)", dtype="cast"
    )
    out = _MultiMargin.apply(x, t, p, margin, weight, reduction)
    return out.squeeze(0) if squeeze and reduction == "none" else out


# ---------------------------------------------------------------------------------------------
# Binary cross-entropy
# ---------------------------------------------------------------------------------------------
class _BCE(Function):
    """l = -w [y log p + (1-y) log(1-p)] (logs clamped at -100, as torch);
    dl/dp = w (p - y) / max(p (1 - p), 1e-12);  dl/dy = w (log(1 - p) - log p)."""

    @staticmethod
    def forward(ctx, p, y, weight, reduction):
        log_p, log_1mp = torch.log(p).clamp(min=-100), torch.log1p(-p).clamp(min=-100)
        loss = -(y * log_p + (1 - y) * log_1mp)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(p, y, *(() if weight is None else (weight,)))
        ctx.reduction = reduction
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad_out):
        p, y, *weight = ctx.saved_tensors
        g = _unreduce(grad_out, p, ctx.reduction)
        if weight:
            g = g * weight[0]
        grad_p = g * (p - y) / (p * (1 - p)).clamp(min=1e-12)  # torch's EPSILON
        grad_y = g * (torch.log1p(-p) - torch.log(p))  # unclamped, exactly as torch
        return grad_p, grad_y, None, None


def binary_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Binary cross-entropy (log loss) between probabilities ``input`` and ``target``.

    .. math:: \ell_i = -w_i\,[\,y_i \log x_i + (1 - y_i) \log(1 - x_i)\,]

    ``input`` must hold probabilities in [0, 1] (apply a sigmoid first, or better use
    :func:`binary_cross_entropy_with_logits` on the logits); ``target`` holds floats in
    [0, 1]. As in PyTorch each log is clamped at -100, so ``input`` 0 or 1 gives a finite
    loss. Shape: input, target :math:`(*)`; ``weight`` broadcastable to them.
    """
    input, target = _check_pair(input, target, reduction)
    if input.numel() and not bool(((input >= 0) & (input <= 1)).all()):
        raise ValueError(
            "input must hold probabilities in [0, 1]; got values outside it "
            "(pass logits to binary_cross_entropy_with_logits instead)"
        )
    weight = _check_weight(weight, "weight", input)
    return _BCE.apply(input, target, weight, reduction)


class _BCEWithLogits(Function):
    """l = w [q y softplus(-x) + (1-y) softplus(x)], with q = pos_weight
    (-log sigma(x) = softplus(-x));
    dl/dx = w [(q y + 1 - y) sigma(x) - q y];
    dl/dy = w [q softplus(-x) - softplus(x)]."""

    @staticmethod
    def forward(ctx, x, y, weight, pos_weight, reduction):
        q = 1.0 if pos_weight is None else pos_weight
        loss = q * y * _log1p_exp(-x) + (1 - y) * _log1p_exp(x)
        if weight is not None:
            loss = loss * weight
        optional = (t for t in (weight, pos_weight) if t is not None)
        ctx.save_for_backward(x, y, *optional)
        ctx.has = (weight is not None, pos_weight is not None)
        ctx.reduction = reduction
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad_out):
        x, y, *rest = ctx.saved_tensors
        weight = rest.pop(0) if ctx.has[0] else None
        q = rest.pop(0) if ctx.has[1] else 1.0
        g = _unreduce(grad_out, x, ctx.reduction)
        if weight is not None:
            g = g * weight
        grad_x = g * ((q * y + 1 - y) * _stable_sigmoid(x) - q * y)
        grad_y = g * (q * _log1p_exp(-x) - _log1p_exp(x))
        return grad_x, grad_y, None, None, None


def binary_cross_entropy_with_logits(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
    pos_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Binary cross-entropy on logits: sigmoid and log loss fused, stable for any logit.

    .. math::
        \ell_i = -w_i\,[\,q\,y_i \log\sigma(x_i) + (1 - y_i)\log(1 - \sigma(x_i))\,]
               = w_i\,[\,q\,y_i\,\operatorname{softplus}(-x_i)
                  + (1 - y_i)\operatorname{softplus}(x_i)\,]

    The softplus form never evaluates :math:`\log 0`, so logits of :math:`\pm 10^4` give the
    exact loss; the gradient is :math:`w(\sigma(x) - y)` when :math:`q = 1`. ``pos_weight``
    :math:`q` multiplies the positive term, one value per class (last dim), to rebalance
    rare positives. Shape: input, target :math:`(*)`; ``weight`` broadcastable;
    ``pos_weight`` broadcastable along the last dim.
    """
    input, target = _check_pair(input, target, reduction)
    weight = _check_weight(weight, "weight", input)
    pos_weight = _check_weight(pos_weight, "pos_weight", input)
    return _BCEWithLogits.apply(input, target, weight, pos_weight, reduction)


# ---------------------------------------------------------------------------------------------
# NLL, cross-entropy, focal loss
# ---------------------------------------------------------------------------------------------
def _kept_targets(target, weight, ignore_index: int, x: torch.Tensor):
    """Whether each prediction is kept, its target class y_n (0 where ignored) and weight
    w_{y_n} =
    weight[y_n] (1 without weight; 0 where ignored), both shaped like target: x's shape
    without dim 1, its classes. x supplies only the class count, dtype and device."""
    keep = target != ignore_index
    safe = torch.where(keep, target, torch.zeros_like(target))
    w = torch.ones(x.shape[1], dtype=x.dtype, device=x.device) if weight is None else weight
    return keep, safe, w[safe] * keep


def _nll_reduce(picked, w_n, reduction: str):
    """Given each prediction's log-probability of its target (picked) and its weight w_n:
    the NLL -w_n picked, reduced (the mean divides by the total weight), and that total
    weight sum_n w_n."""
    loss = -w_n * picked
    total = w_n.sum()
    if reduction == "mean":  # nan when every target is ignored, as torch
        return loss.sum() / total, total
    return _reduce(loss, reduction), total


def _nll_row_grads(grad_out, w_n, total, reduction: str) -> torch.Tensor:
    """Each row's weight times the row's incoming gradient, divided by ``total`` for the
    mean; with the NLL's weights w_n, this is -dL/dx_{n, y_n}."""
    if reduction == "mean":
        return grad_out / total * w_n
    return grad_out * w_n  # "sum" and "none"


class _NLL(Function):
    """l_n = -w_{y_n} x_{n, y_n} (0 if y_n is ignored);  mean divides by sum of w_{y_n};
    dl/dx_{n,c} = -w_{y_n} [c = y_n] (/ total weight for the mean)."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        _, safe, w_n = _kept_targets(target, weight, ignore_index, x)
        picked = x.gather(1, safe.unsqueeze(1)).squeeze(1)
        out, total = _nll_reduce(picked, w_n, reduction)
        ctx.save_for_backward(safe, w_n, total)
        ctx.reduction, ctx.shape = reduction, x.shape
        return out

    @staticmethod
    def backward(ctx, grad_out):
        safe, w_n, total = ctx.saved_tensors
        g = _nll_row_grads(grad_out, w_n, total, ctx.reduction)
        grad = g.new_zeros(ctx.shape).scatter_(1, safe.unsqueeze(1), -g.unsqueeze(1))
        return grad, None, None, None, None


class _CrossEntropy(Function):
    """NLL of log_softmax(x) over dim 1 of x (N, C, d1, ...), with label smoothing eps,
    and the gradient of the composition in one step. With the weighted target
    t_{n,c} = w_c ((1 - eps) [c = y_n] + eps / C) and its mass T_n = sum_c t_{n,c}, the loss
    of a row is -sum_c t_{n,c} log p_{n,c} and

        dl_n/dx_{n,c} = T_n softmax(x_n)_c - t_{n,c}

    (without smoothing, w_{y_n} (softmax(x_n)_c - [c = y_n])). Ignored rows get 0, and the
    mean divides by the total weight of the kept targets in both terms. Passed back through
    log_softmax, the NLL's one-hot gradient would be written out, read back and summed per
    row, only to give the same numbers.

    Besides x itself and the per-prediction targets and weights, the backward keeps only
    each row's max m_n and S_n = log sum_c e^{x_{n,c} - m_n} (both (N, 1, d1, ...)). It
    computes softmax again as e^{(x - m) - S}, bit for bit what log_softmax computes, so
    the input-sized log-probabilities do not live from the forward to the backward (when
    the backward is itself recorded, softmax comes from x through _LogSoftmax)."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, eps):
        m, lse = _log_sum_exp(x, 1)  # (N, 1, d1, ...) each
        keep, safe, w_n = _kept_targets(target, weight, ignore_index, x)
        target_x = x.gather(1, safe.unsqueeze(1))
        picked = _log_softmax_from(target_x, m, lse).squeeze(1)  # log p_{n, y_n}
        out, total = _nll_reduce(picked, w_n, reduction)
        ctx.save_for_backward(x, m, lse, weight, keep, safe, w_n, total)
        ctx.reduction, ctx.eps = reduction, eps
        if eps == 0:
            return out
        log_p = _log_softmax_from(x, m, lse)
        weighted = log_p if weight is None else _broadcast_class_weights(weight, x) * log_p
        smooth = -weighted.sum(dim=1) * keep  # -sum_c w_c log p_c
        if reduction == "mean":  # over the weights of the kept targets (total), as torch
            smooth = smooth.sum() / total
        else:
            smooth = _reduce(smooth, reduction)
        return (1 - eps) * out + eps / x.shape[1] * smooth

    @staticmethod
    def backward(ctx, grad_out):
        x, m, lse, weight, keep, safe, w_n, total = ctx.saved_tensors
        reduction, eps = ctx.reduction, ctx.eps
        # one value per prediction, (N, 1, d1, ...), broadcast over the classes
        # g = w_{y_n} times l_n's incoming gradient (/ total weight for the mean)
        g = _nll_row_grads(grad_out, w_n, total, reduction).unsqueeze(1)
        target = safe.unsqueeze(1)
        # create_graph=True: softmax again from x, through _LogSoftmax, so that autograd
        # records it for double backward
        recorded = torch.is_grad_enabled()
        p = torch.exp(_LogSoftmax.apply(x, 1)) if recorded else _log_softmax_from(x, m, lse).exp_()
        classes = x.shape[1]
        if eps == 0:  # g softmax(x_n), then -g at y_n
            mass, at_target = g, -g
        else:  # softmax times the row's weighted target mass, minus the weighted target
            s = _nll_row_grads(grad_out, keep, total, reduction).unsqueeze(1)
            # s = l_n's incoming gradient (/ total weight for the mean), 0 where ignored;
            # g = w_{y_n} s
            w = _broadcast_class_weights(weight, x)
            mass = (1 - eps) * g + eps / classes * w.sum() * s
            at_target = -(1 - eps) * g
        # out of place when recorded: torch.exp saved p for its own backward
        grad = p * mass if recorded else p.mul_(mass)
        if eps > 0:
            grad.addcmul_(s, w, value=-eps / classes)
        return grad.scatter_add_(1, target, at_target), None, None, None, None, None


def _broadcast_class_weights(weight, x) -> torch.Tensor:
    """The class weights broadcastable over x (N, C, d1, ...): (1, C, 1, ...); ones when
    weight is None."""
    if weight is None:
        return torch.ones((1, x.shape[1]) + (1,) * (x.dim() - 2), dtype=x.dtype, device=x.device)
    return weight.reshape((1, x.shape[1]) + (1,) * (x.dim() - 2))


def _class_dim_input(input: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """(C,) -> (1, C); (N, C, ...) unchanged. Returns the view and whether it was unbatched."""
    check_floating(input, "input")
    if input.dim() == 0:
        raise ValueError("input must have a class dimension: shape (C), (N, C) or (N, C, d1, ...)")
    if input.dim() == 1:
        return input.unsqueeze(0), True
    return input, False


def nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Negative log-likelihood of class indices, given log-probabilities ``input``.

    .. math::
        \ell_n = -w_{y_n} x_{n, y_n}, \qquad
        \text{mean} = \sum_n \ell_n \Big/ \sum_{n: y_n \ne \text{ignore}} w_{y_n}

    Targets equal to ``ignore_index`` contribute nothing and are left out of the mean. With
    ``weight`` the mean is a weighted mean, exactly as in PyTorch.

    Shape: input :math:`(N, C)`, :math:`(C)` or :math:`(N, C, d_1, \dots)`; target
    :math:`(N)`, :math:`()` or :math:`(N, d_1, \dots)` class indices; weight :math:`(C)`.
    """
    x, unbatched = _class_dim_input(input)
    check_reduction(reduction)
    check_int(ignore_index, "ignore_index")
    t = _check_class_target(
        target.unsqueeze(0) if unbatched else target, x, 1, ignore_index=ignore_index
    )
    weight = _class_weight(weight, x)
    out = _nll(x, t, weight, ignore_index, reduction)
    return out.squeeze(0) if unbatched and reduction == "none" else out


def _class_weight(weight, x: torch.Tensor) -> torch.Tensor | None:
    return check_like(
        weight, "weight", like=x, shape=(x.shape[1],), what=" (one per class)", dtype="cast"
    )


def _nll(x, t, weight, ignore_index: int, reduction: str) -> torch.Tensor:
    """nll_loss on checked arguments, x (N, C, d1, ...) and t (N, d1, ...)."""
    # (N, C, d1, ...) -> (N * d1 * ..., C): one row per prediction
    rows = x.movedim(1, -1).reshape(-1, x.shape[1])
    out = _NLL.apply(rows, t.reshape(-1), weight, ignore_index, reduction)
    return out.reshape(t.shape) if reduction == "none" else out


def cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    r"""Cross-entropy between logits ``input`` and class-index or probability ``target``.

    Class indices: ``nll_loss(log_softmax(input, dim=1), target, weight, ignore_index)``;
    with label smoothing :math:`\varepsilon` the loss is
    :math:`(1-\varepsilon)\,\text{NLL} + \frac{\varepsilon}{C}\sum_c -w_c \log p_c`, the mean
    of the smoothing term also taken over the weights of the kept targets (PyTorch's rule).

    Probabilities (``target`` floating, same shape as ``input``):
    :math:`\ell_n = -\sum_c w_c\, \tilde y_{n,c} \log p_{n,c}` with
    :math:`\tilde y = (1-\varepsilon) y + \varepsilon / C`; the mean divides by the number of
    predictions. ``ignore_index`` does not apply.

    The gradient with respect to the logits is :math:`p - y` (softmax minus one-hot) for
    one sample without weights or smoothing.

    Shape: input :math:`(N, C)`, :math:`(C)` or :math:`(N, C, d_1, \dots)`; target as for
    :func:`nll_loss`, or the input's shape for probabilities.
    """
    x, unbatched = _class_dim_input(input)
    check_reduction(reduction)
    eps = check_number(label_smoothing, "label_smoothing", minimum=0)
    if eps > 1:
        raise ValueError(f"label_smoothing must be in [0, 1]; got {eps:g}")
    check_tensor(target, "target")
    t = target.unsqueeze(0) if unbatched else target
    weight = _class_weight(weight, x)

    if t.is_floating_point():  # probability targets: -sum_c w_c y_c log p_c per prediction
        check_same_shape(x, t, "input", "target (probabilities)")
        check_same_device(x, t, "input", "target")
        y = t.to(x.dtype) * (1 - eps) + eps / x.shape[1]
        log_p = _LogSoftmax.apply(x, 1)
        out = _reduce(-(_broadcast_class_weights(weight, x) * y * log_p).sum(dim=1), reduction)
    else:  # class indices: NLL of the log-probabilities, plus the smoothing term
        check_int(ignore_index, "ignore_index")
        t = _check_class_target(t, x, 1, ignore_index=ignore_index)
        out = _CrossEntropy.apply(x, t, weight, ignore_index, reduction, eps)
    return out.squeeze(0) if unbatched and reduction == "none" else out


def sigmoid_focal_loss(
    inputs: torch.Tensor,
    targets: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> torch.Tensor:
    r"""Focal loss (Lin et al., 2017) for binary targets, as ``torchvision.ops.sigmoid_focal_loss``.

    .. math::
        \ell_i = \alpha_t\,(1 - p_t)^\gamma\,\text{BCE}(x_i, y_i), \quad
        p_t = p y + (1-p)(1-y),\ \alpha_t = \alpha y + (1-\alpha)(1-y),\ p = \sigma(x)

    The factor :math:`(1-p_t)^\gamma` shrinks the loss of examples already classified well,
    so the many easy negatives of an imbalanced problem do not swamp the rare positives.
    ``alpha < 0`` disables the class weighting. Note the default ``reduction='none'``, as in
    torchvision. Shape: inputs, targets :math:`(*)`.
    """
    inputs, targets = _check_pair(inputs, targets, reduction)
    alpha = check_number(alpha, "alpha")
    if alpha > 1:
        raise ValueError(f"alpha must be <= 1 (negative disables it); got {alpha:g}")
    gamma = check_number(gamma, "gamma", minimum=0)
    p = sigmoid(inputs)
    ce = binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return _reduce(loss, reduction)


# ---------------------------------------------------------------------------------------------
# Registries
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class LossSpec:
    """One regression loss: the function, its derivative, and facts the chapters tabulate."""

    name: str
    function: Callable[..., torch.Tensor]
    derivative: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    formula: str  # LaTeX of the element-wise loss in terms of the error e = x - y
    torch_name: str | None  # the torch.nn.functional counterpart, if any
    smooth: bool  # continuously differentiable at e = 0
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
        LossSpec(
            name="l1",
            function=l1_loss,
            derivative=l1_loss_derivative,
            formula=r"|e|",
            torch_name="l1_loss",
            smooth=False,
            gradient_bounded=True,
        ),
        LossSpec(
            name="mse",
            function=mse_loss,
            derivative=mse_loss_derivative,
            formula=r"e^2",
            torch_name="mse_loss",
            smooth=True,
            gradient_bounded=False,
        ),
        LossSpec(
            name="huber",
            function=huber_loss,
            derivative=huber_loss_derivative,
            formula=(
                r"\tfrac12 e^2 \text{ if } |e|<\delta"
                r" \text{ else } \delta(|e| - \tfrac12\delta)"
            ),
            torch_name="huber_loss",
            smooth=True,
            gradient_bounded=True,
        ),
        LossSpec(
            name="smooth_l1",
            function=smooth_l1_loss,
            derivative=smooth_l1_loss_derivative,
            formula=(
                r"\tfrac{e^2}{2\beta} \text{ if } |e|<\beta"
                r" \text{ else } |e| - \tfrac{\beta}{2}"
            ),
            torch_name="smooth_l1_loss",
            smooth=True,
            gradient_bounded=True,
        ),
        LossSpec(
            name="pseudo_huber",
            function=pseudo_huber_loss,
            derivative=pseudo_huber_loss_derivative,
            formula=r"\delta^2(\sqrt{1 + (e/\delta)^2} - 1)",
            torch_name=None,
            smooth=True,
            gradient_bounded=True,
        ),
    )
}


@dataclass(frozen=True, kw_only=True)
class ClassificationLossSpec:
    """One classification loss: the function, its PyTorch or torchvision counterpart, its target."""

    function: Callable[..., torch.Tensor]
    torch_name: str | None  # the dotted name of the PyTorch (or torchvision) counterpart
    target: str  # what the target holds (and the input, where it matters)


CLASSIFICATION_LOSSES: dict[str, ClassificationLossSpec] = {
    "hinge": ClassificationLossSpec(
        function=hinge_loss, torch_name=None, target="labels -1/+1, raw scores"
    ),
    "multi_margin": ClassificationLossSpec(
        function=multi_margin_loss,
        torch_name="torch.nn.functional.multi_margin_loss",
        target="class index",
    ),
    "binary_cross_entropy": ClassificationLossSpec(
        function=binary_cross_entropy,
        torch_name="torch.nn.functional.binary_cross_entropy",
        target="probability 0..1",
    ),
    "binary_cross_entropy_with_logits": ClassificationLossSpec(
        function=binary_cross_entropy_with_logits,
        torch_name="torch.nn.functional.binary_cross_entropy_with_logits",
        target="probability 0..1, logits",
    ),
    "nll": ClassificationLossSpec(
        function=nll_loss,
        torch_name="torch.nn.functional.nll_loss",
        target="class index, log-probabilities",
    ),
    "cross_entropy": ClassificationLossSpec(
        function=cross_entropy,
        torch_name="torch.nn.functional.cross_entropy",
        target="class index or probabilities",
    ),
    "sigmoid_focal": ClassificationLossSpec(
        function=sigmoid_focal_loss,
        torch_name="torchvision.ops.sigmoid_focal_loss",
        target="probability 0..1, logits",
    ),
}
