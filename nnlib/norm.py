r"""Batch normalisation written from scratch, with an explicit backward pass.

Same name, signature and semantics as :func:`torch.nn.functional.batch_norm`. Each channel
(dim 1) is normalised over every other dim, :math:`m` values per channel:

.. math::
    \mu = \frac{1}{m}\sum_k x_k,\quad \sigma^2 = \frac{1}{m}\sum_k (x_k - \mu)^2,\quad
    \hat x_k = \frac{x_k - \mu}{\sqrt{\sigma^2 + \epsilon}},\quad y_k = \gamma \hat x_k + \beta

in training mode (the batch's own statistics; the running averages move by ``momentum``
towards the batch mean and the *unbiased* batch variance), or with the running averages in
evaluation mode.

Backward in training mode. Every :math:`x_k` enters :math:`\mu` and :math:`\sigma^2`, so its
gradient has three parts, which sum to (with :math:`g_k = \partial L/\partial y_k`,
:math:`\hat g_k = \gamma g_k`, :math:`s = \sqrt{\sigma^2 + \epsilon}`):

.. math::
    \frac{\partial L}{\partial x_k} = \frac{1}{s}\Big(\hat g_k - \overline{\hat g}
        - \hat x_k\, \overline{\hat g \hat x}\Big),\qquad
    \frac{\partial L}{\partial \gamma} = \sum_k g_k \hat x_k,\qquad
    \frac{\partial L}{\partial \beta} = \sum_k g_k

where a bar is the mean over the channel's :math:`m` values: the gradient is the upstream
one, scaled, with its mean removed (normalisation cannot change the mean) and, up to a factor
:math:`\epsilon / (\sigma^2 + \epsilon)`, its component along :math:`\hat x` (nor the
scale). In evaluation mode the statistics are constants: :math:`\partial L/\partial x_k =
\gamma g_k / s`.

Layer normalisation (:func:`layer_norm`, as :func:`torch.nn.functional.layer_norm`) applies
the same normalisation to each *example* over its last dims (``normalized_shape``), with
:math:`\gamma` and :math:`\beta` of that shape (one per normalised position). Its statistics
never come from other examples, so training and evaluation are the same, and its backward
pass is the same three-term formula with the bars now means over the normalised dims of one
example; :math:`\partial L/\partial \gamma` and :math:`\partial L/\partial \beta` sum over the
leading (batch) dims.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.autograd import Function

from nnlib._validation import (
    LOW_PRECISION,
    check_floating,
    check_int,
    check_like,
    check_number,
)

# Gradients are returned in the precision they were computed in: autograd casts each one to
# its input's dtype (float16 input, float32 arithmetic, float16 gradient).

__all__ = ["batch_norm", "BatchNorm1d", "BatchNorm2d", "layer_norm", "LayerNorm"]


def _channel_shape(x: torch.Tensor) -> tuple[int, ...]:
    return (1, -1) + (1,) * (x.dim() - 2)


def _reduce_dims(x: torch.Tensor) -> tuple[int, ...]:
    return (0, *range(2, x.dim()))


class _BatchNormEval(Function):
    """Evaluation mode: normalise with given (running) statistics, a per-channel affine map."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean, var, eps):
        shape = _channel_shape(x)
        xc = _in_compute_dtype(x)
        inv_std = torch.rsqrt(var.to(xc.dtype) + eps)
        y = (xc - mean.to(xc.dtype).view(shape)) * inv_std.view(shape)
        if weight is not None:
            y = y * weight.view(shape)
        if bias is not None:
            y = y + bias.view(shape)
        ctx.save_for_backward(x, weight, mean, var)
        ctx.eps, ctx.has_bias = eps, bias is not None
        return y.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, mean, var = ctx.saved_tensors
        shape, dims = _channel_shape(x), _reduce_dims(x)
        xc = _in_compute_dtype(x)
        g = grad_out.to(xc.dtype)  # float32 arithmetic for half inputs, as in the forward pass
        inv_std = torch.rsqrt(var.to(xc.dtype) + ctx.eps).view(shape)
        x_hat = (xc - mean.to(xc.dtype).view(shape)) * inv_std
        g_hat = g if weight is None else g * weight.view(shape)
        grad_x = grad_w = grad_b = grad_mean = grad_var = None
        if ctx.needs_input_grad[0]:
            grad_x = g_hat * inv_std  # the direct path; statistics separately
        if weight is not None and ctx.needs_input_grad[1]:
            grad_w = (g * x_hat).sum(dims)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g.sum(dims)
        if ctx.needs_input_grad[3]:
            grad_mean = -(g_hat * inv_std).sum(dims)
        if ctx.needs_input_grad[4]:
            grad_var = -0.5 * (g_hat * x_hat * inv_std * inv_std).sum(dims)
        return grad_x, grad_w, grad_b, grad_mean, grad_var, None


def _normalise(xc: torch.Tensor, dims: tuple[int, ...], eps: float):
    """x_hat = (x - mean) / sqrt(var + eps) over ``dims``, the statistics that
    :func:`_standardise` needs to compute it again (the mean in two parts, m and c, and
    1 / sqrt(var + eps)), and the variance, all keepdim.

    The computed mean m is off by about eps |x|, which would swamp deviations much smaller than
    |x| (values close together); the deviations' own mean c is taken off once more, and the
    variance of the corrected deviations is mean(d^2) - c^2."""
    m = xc.numel() // max(1, math.prod(xc.shape[d] for d in range(xc.dim()) if d not in dims))
    mean = xc.mean(dims, keepdim=True)
    deviation = xc - mean
    c = deviation.mean(dims, keepdim=True)
    var = _sum_of_squares(deviation, dims) / m - c.square()
    inv_std = torch.rsqrt(var + eps)
    if torch.is_grad_enabled():  # double backward records these ops: no in-place change
        x_hat = (deviation - c) * inv_std
    else:
        x_hat = deviation.sub_(c).mul_(inv_std)  # no new tensor to fill
    return x_hat, (mean, c, inv_std), var


def _sum_of_squares(t: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """The sum of t^2 over ``dims`` (up to rounding), keepdim, without a tensor of squares: the
    2-norm's square over the dims that end t (batch norm: the positions of each example and
    channel), then a sum over the rest (the batch). torch's 2-norm over dims with a gap
    (batch norm's (0, 2, 3) skip dim 1) took 2.6 to 7.7 times as long as this two-step sum
    (batch 32, 32 channels, 8 to 64 px; CPU measured)."""
    inner = t.dim()  # the reduced dims from inner on are the ones that end t
    while inner > 0 and inner - 1 in dims:
        inner -= 1
    if inner == t.dim():  # the last dim is not reduced
        return torch.linalg.vector_norm(t, 2, dims, keepdim=True).square()
    squares = torch.linalg.vector_norm(t, 2, tuple(range(inner, t.dim())), keepdim=True).square()
    outer = tuple(d for d in dims if d < inner)
    return squares.sum(outer, keepdim=True) if outer else squares


def _standardise(xc: torch.Tensor, mean: torch.Tensor, c: torch.Tensor, inv_std: torch.Tensor):
    """x_hat again from the statistics :func:`_normalise` returned, in three passes over x."""
    return (xc - mean).sub_(c).mul_(inv_std)


def _three_terms(direct, x_hat, inv_std, mean_g_hat, mean_gx_hat):
    """dL/dx of a normalisation (module docstring),
    ``inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat))``:
    the direct path ``direct = inv_std * g_hat`` (written over), minus
    the path through the mean, minus the path through the standard
    deviation. Given: mean_g_hat = mean(g_hat) and
    mean_gx_hat = mean(g_hat * x_hat), keepdim."""
    through_mean = inv_std * mean_g_hat
    through_std = inv_std * mean_gx_hat
    return direct.sub_(through_mean).addcmul_(x_hat, -through_std)


def _affine(x_hat: torch.Tensor, weight, bias) -> torch.Tensor:
    """gamma x_hat + beta, in place on x_hat (weight and bias already broadcastable)."""
    if weight is not None:
        x_hat = x_hat.mul_(weight)
    return x_hat if bias is None else x_hat.add_(bias)


def _backward(ctx, grad_out, dims, param_dims, weight):
    """dL/dx, dL/dgamma, dL/dbeta of a normalisation over ``dims`` whose gamma and beta are
    shared over ``param_dims``. With ``create_graph=True`` the statistics are computed again
    from x, so that double backward sees how they move; else the forward pass's are used.

    The means of g_hat = gamma g and of g_hat x_hat come from g and g x_hat: for batch norm
    (one gamma per channel) they are gamma / m times the sums that give dL/dbeta and
    dL/dgamma; for layer norm (gamma over the normalised dims) the dot products of g and of
    g x_hat with gamma, over m. No input-sized tensor is made for them beyond g x_hat (and a
    copy of g when dL/dy is not contiguous).

    Without ``create_graph`` it makes two input-sized tensors, x_hat and g x_hat (four for
    half inputs, with float32 copies of x and dL/dy; three when a layer-norm input has no
    batch dims, as dL/dgamma is then a copy of g x_hat), and writes dL/dx over g x_hat. Fewer
    large temporaries matter on the CPU, where a large tensor that the allocator maps afresh
    costs a page fault per page on first touch."""
    x, _, mean, c, inv_std = ctx.saved_tensors
    xc = _in_compute_dtype(x)
    g = grad_out.to(xc.dtype)  # float32 arithmetic for half inputs, as in the forward pass
    recorded = torch.is_grad_enabled()  # double backward: no in-place op on what it saves
    if recorded:
        x_hat, (_, _, inv_std), _ = _normalise(xc, dims, ctx.eps)
    else:
        x_hat = _standardise(xc, mean, c, inv_std)
    gx = g * x_hat
    m = x_hat.numel() // inv_std.numel()  # values per mean
    grad_b = None
    if weight is None:
        mean_g_hat, mean_gx_hat = g.mean(dims, keepdim=True), gx.mean(dims, keepdim=True)
        grad_w, scale = None, inv_std
    elif dims == param_dims:  # batch norm: gamma, one per channel, is a factor of both sums
        sum_g, sum_gx = g.sum(dims, keepdim=True), gx.sum(dims, keepdim=True)
        mean_g_hat, mean_gx_hat = weight * sum_g / m, weight * sum_gx / m
        grad_w, grad_b, scale = sum_gx.view(-1), sum_g.view(-1), weight * inv_std
    else:  # layer norm: gamma varies over the normalised dims
        w = weight.to(g.dtype)
        mean_g_hat, mean_gx_hat = _dot(g, w, dims) / m, _dot(gx, w, dims) / m
        grad_w, scale = _sum_over(gx, param_dims), None
        grad_w = grad_w.clone() if grad_w is gx else grad_w  # no batch dims: gx is written over
    grad_x = None
    if ctx.needs_input_grad[0]:
        # dL/dx over g x_hat; with create_graph a new tensor (autograd keeps g x_hat)
        out = None if recorded else gx
        if scale is None:  # gamma varies over the normalised dims, inv_std over the batch
            # dims: their product would be input-sized, so g is multiplied by each in turn
            direct = torch.mul(g, w, out=out).mul_(inv_std)
        else:
            direct = torch.mul(g, scale, out=out)
        grad_x = _three_terms(direct, x_hat, inv_std, mean_g_hat, mean_gx_hat)
    if grad_b is None and ctx.has_bias:
        grad_b = _sum_over(g, param_dims)
    grad_w = grad_w if ctx.needs_input_grad[1] else None
    grad_b = grad_b if ctx.needs_input_grad[2] else None
    return grad_x, grad_w, grad_b


def _dot(t: torch.Tensor, w: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """The sum over the trailing ``dims`` of t w (w has their shape), as a matrix-vector
    product, keepdim: no product tensor is made."""
    lead = t.shape[: t.dim() - len(dims)]
    return (t.reshape(*lead, -1) @ w.reshape(-1)).view(*lead, *(1,) * len(dims))


class _BatchNormTrain(Function):
    """Training mode: the statistics are the batch's, so the three-part gradient applies."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        dims, shape = _reduce_dims(x), _channel_shape(x)
        xc = _in_compute_dtype(x)
        x_hat, (mean, c, inv_std), var = _normalise(xc, dims, eps)
        y = _affine(x_hat, *(None if p is None else p.view(shape) for p in (weight, bias)))
        ctx.save_for_backward(x, weight, mean, c, inv_std)
        ctx.eps, ctx.has_bias = eps, bias is not None
        mean, var = (mean + c).view(-1), var.view(-1)  # per channel, for the running statistics
        ctx.mark_non_differentiable(mean, var)
        return y.to(x.dtype), mean, var

    @staticmethod
    def backward(ctx, grad_out, _grad_mean, _grad_var):
        x, weight = ctx.saved_tensors[:2]
        dims, shape = _reduce_dims(x), _channel_shape(x)
        weight = None if weight is None else weight.view(shape)
        return (*_backward(ctx, grad_out, dims, dims, weight), None)


def _in_compute_dtype(x: torch.Tensor) -> torch.Tensor:
    """float16/bfloat16 are normalised in float32, as torch does (a sum of squares leaves
    their range); the result is rounded back to the input's dtype."""
    return x.float() if x.dtype in LOW_PRECISION else x


def batch_norm(
    input: torch.Tensor,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor:
    r"""Batch normalisation over dim 1 (the channels), as :func:`torch.nn.functional.batch_norm`.

    Shape: input :math:`(N, C)`, :math:`(N, C, L)` or :math:`(N, C, H, W)` (any rank >= 2);
    ``running_mean``, ``running_var``, ``weight`` (:math:`\gamma`), ``bias`` (:math:`\beta`):
    :math:`(C)`. In training mode the running statistics, when given, are updated in place:
    :math:`r \leftarrow (1 - \text{momentum})\, r + \text{momentum}\cdot` (batch mean, or the
    unbiased batch variance). The backward pass is written out (module docstring).
    """
    x = check_floating(input, "input")
    if x.dim() < 2:
        raise ValueError(f"input must have a channel dim: shape (N, C, ...); got {tuple(x.shape)}")
    if not isinstance(training, bool):
        raise TypeError(f"training must be a bool; got {training!r}")
    momentum = check_number(momentum, "momentum", minimum=0)
    if momentum > 1:
        raise ValueError(f"momentum must be in [0, 1]; got {momentum:g}")
    eps = check_number(eps, "eps", minimum=0, strict_minimum=True)
    per_channel: dict[str, Any] = dict(
        like=x, shape=(x.shape[1],), what=", one value per channel (dim 1 of input)", dtype="mixed"
    )
    running_mean = check_like(running_mean, "running_mean", **per_channel)
    running_var = check_like(running_var, "running_var", **per_channel)
    weight = check_like(weight, "weight", **per_channel)
    bias = check_like(bias, "bias", **per_channel)
    if x.shape[1] == 0:  # no channels: nothing to normalise (torch returns the empty input)
        return x.clone()
    if training:
        m = x.numel() // x.shape[1]  # values per channel
        if m <= 1:
            raise ValueError(
                "training mode needs more than one value per channel to compute a variance; "
                f"got input of shape {tuple(x.shape)}"
            )
        y, mean, var = _BatchNormTrain.apply(x, weight, bias, eps)
        with torch.no_grad():  # in the statistics' precision (float32 for half inputs)
            if running_mean is not None:
                updated = running_mean.to(mean.dtype) * (1 - momentum) + momentum * mean
                running_mean.copy_(updated)
            if running_var is not None:
                unbiased = var * (m / (m - 1))
                updated = running_var.to(var.dtype) * (1 - momentum) + momentum * unbiased
                running_var.copy_(updated)
        return y
    if running_mean is None or running_var is None:
        raise ValueError("evaluation mode (training=False) needs running_mean and running_var")
    return _BatchNormEval.apply(x, weight, bias, running_mean, running_var, eps)


class _BatchNormNd(nn.Module):
    _ranks: tuple[int, ...] = ()
    running_mean: torch.Tensor
    running_var: torch.Tensor
    num_batches_tracked: torch.Tensor

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
    ):
        super().__init__()
        self.num_features = check_int(num_features, "num_features", minimum=1)
        self.eps = check_number(eps, "eps", minimum=0, strict_minimum=True)
        if momentum is not None:
            momentum = check_number(momentum, "momentum", minimum=0)
        self.momentum = momentum
        self.affine = affine
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.dim() not in self._ranks:
            raise ValueError(
                f"input must be {' or '.join(f'{r}-d' for r in self._ranks)} for "
                f"{type(self).__name__}; got shape {tuple(input.shape)}"
            )
        factor = self.momentum
        if self.training:  # as torch: count the batch; momentum=None is the cumulative mean
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        return batch_norm(
            input,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training,
            0.0 if factor is None else factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
        )


class BatchNorm1d(_BatchNormNd):
    """Batch normalisation of (N, C) or (N, C, L) input, as :class:`torch.nn.BatchNorm1d`."""

    _ranks = (2, 3)


class BatchNorm2d(_BatchNormNd):
    """Batch normalisation of (N, C, H, W) input, as :class:`torch.nn.BatchNorm2d`."""

    _ranks = (4,)


def _sum_over(t: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Sum over ``dims``; over none when there are none (``t.sum(())`` would sum over all)."""
    return t.sum(dims) if dims else t


class _LayerNorm(Function):
    """Normalisation over the last ``ndim`` dims of each example; the three-term backward."""

    @staticmethod
    def forward(ctx, x, weight, bias, ndim, eps):
        dims = tuple(range(x.dim() - ndim, x.dim()))
        xc = _in_compute_dtype(x)
        x_hat, statistics, _ = _normalise(xc, dims, eps)
        y = _affine(x_hat, weight, bias)
        ctx.save_for_backward(x, weight, *statistics)
        ctx.dims, ctx.eps, ctx.has_bias = dims, eps, bias is not None
        return y.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors[:2]
        lead = tuple(range(x.dim() - len(ctx.dims)))  # the batch dims: gamma and beta sum over
        return (*_backward(ctx, grad_out, ctx.dims, lead, weight), None, None)


def _check_normalized_shape(normalized_shape) -> tuple[int, ...]:
    if isinstance(normalized_shape, torch.Size):
        normalized_shape = tuple(normalized_shape)
    if isinstance(normalized_shape, (tuple, list)):
        if len(normalized_shape) == 0:
            raise ValueError("normalized_shape must name at least one dim; got ()")
        return tuple(check_int(n, "normalized_shape", minimum=0) for n in normalized_shape)
    return (check_int(normalized_shape, "normalized_shape", minimum=0),)


def layer_norm(
    input: torch.Tensor,
    normalized_shape: int | Sequence[int],
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    r"""Layer normalisation over the last dims, as :func:`torch.nn.functional.layer_norm`.

    .. math::
        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \cdot \gamma + \beta

    with the mean and the (biased) variance over the last ``len(normalized_shape)`` dims of
    each example. Shape: input :math:`(*, \text{normalized\_shape})`; ``weight``
    (:math:`\gamma`) and ``bias`` (:math:`\beta`): ``normalized_shape``. The same in training
    and evaluation: no running statistics. Use it where batch statistics are unreliable
    (small batches, sequences). The backward pass is written out (module docstring).
    """
    x = check_floating(input, "input")
    shape = _check_normalized_shape(normalized_shape)
    if x.dim() < len(shape) or tuple(x.shape[-len(shape) :]) != shape:
        trailing = ", ".join(map(str, shape))
        raise ValueError(
            f"input must end with normalized_shape, shape (*, {trailing}); got {tuple(x.shape)}"
        )
    eps = check_number(eps, "eps", minimum=0, strict_minimum=True)
    affine: dict[str, Any] = dict(like=x, shape=shape, what=" (normalized_shape)", dtype="mixed")
    weight = check_like(weight, "weight", **affine)
    bias = check_like(bias, "bias", **affine)
    if x.numel() == 0:  # nothing to normalise (torch returns the empty input)
        return x.clone()
    return _LayerNorm.apply(x, weight, bias, len(shape), eps)


class LayerNorm(nn.Module):
    """Layer normalisation as :class:`torch.nn.LayerNorm`: ``weight`` ones, ``bias`` zeros, both
    of shape ``normalized_shape`` (``elementwise_affine=False``: neither; ``bias=False``: no
    bias)."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.normalized_shape = _check_normalized_shape(normalized_shape)
        self.eps = check_number(eps, "eps", minimum=0, strict_minimum=True)
        self.elementwise_affine = elementwise_affine
        shape = self.normalized_shape
        self.weight = nn.Parameter(torch.ones(shape)) if elementwise_affine else None
        self.bias = nn.Parameter(torch.zeros(shape)) if elementwise_affine and bias else None

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
