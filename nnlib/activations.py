r"""Activation functions written from scratch, each a :class:`torch.autograd.Function`.

Names and signatures follow :mod:`torch.nn.functional` (``nnlib.activations.leaky_relu(x,
negative_slope=0.01)``), so each can be swapped for PyTorch's and compared. Every op's
``forward`` sits next to a ``backward`` that spells out the derivative with the chain rule,
``dL/dx = dL/dy * f'(x)``; the public ``*_derivative`` functions return :math:`f'(x)` for
plots. Backward passes are written with differentiable tensor operations on the saved input
or output, so second derivatives (``gradgradcheck``) work too.

``ACTIVATIONS`` is the family's registry: name -> function, derivative, torch counterpart and
properties (range, zero-centred, saturation, largest derivative, monotone, smooth). Chapters
read it to draw figures and tables; adding an activation is one entry there.

Module wrappers mirroring :mod:`torch.nn` (``Sigmoid()``, ``PReLU(num_parameters, init)``,
``RReLU(lower, upper)``, ``Maxout(in_features, out_features, pieces)``, ...) are at the end.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.autograd import Function

from nnlib._validation import (
    check_choice,
    check_dim,
    check_floating,
    check_int,
    check_like,
    check_not_inplace,
    check_number,
    check_same_device,
    check_tensor,
)

__all__ = [
    "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "rrelu", "elu", "selu", "gelu", "silu",
    "softplus", "mish", "softmax", "log_softmax", "maxout", "identity",
    "sigmoid_derivative", "tanh_derivative", "relu_derivative", "leaky_relu_derivative",
    "prelu_derivative", "rrelu_derivative", "elu_derivative", "selu_derivative",
    "gelu_derivative", "silu_derivative", "softplus_derivative", "mish_derivative",
    "softmax_jacobian", "log_softmax_jacobian", "maxout_derivative", "identity_derivative",
    "ActivationSpec", "ACTIVATIONS", "ELEMENTWISE",
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "GELU", "SiLU",
    "Softplus", "Mish", "Softmax", "LogSoftmax", "Maxout", "Identity",
]  # fmt: skip

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_C = 0.044715
_Fn = Callable[[torch.Tensor], torch.Tensor]


def _step(x: torch.Tensor) -> torch.Tensor:
    """1.0 where x > 0, else 0.0 (0 at x = 0), as arithmetic, so that the ops below blend
    their two branches as ``low + step * (high - low)`` without a mask or ``torch.where``
    (eagerly; see ``_blend``)."""
    return torch.sign(x.detach()).clamp(min=0)  # its slope is 0: no path back through it


def _blend(t: torch.Tensor, high, low):
    """``high`` where t > 0, else ``low`` (``low`` at t = 0, as ``_step``), with high or low a
    tensor. Eagerly it is the arithmetic ``low + step(t) (high - low)``: on the CPU measured,
    eager ``torch.where`` over a mask of mixed signs took about 30 times as long as a
    multiply (1.8 ms against 0.06 ms for 10^6 float32 values). Compiled, ``torch.where`` is
    one select per vector of values where the arithmetic is five operations, so under
    ``torch.compile`` it is ``torch.where``. Where t <= 0 both give low exactly; where t > 0
    the arithmetic is within about one unit in the last place of max(|high|, |low|) of high
    (exact when high - low is exact), and nan if high - low is not finite, so callers blend
    finite branches only."""
    # not mutated: mutmut's trampolines stop torch.compile (tests/nnlib/support.py)
    if torch.compiler.is_compiling():  # pragma: no mutate
        return torch.where(t > 0, high, low)  # pragma: no mutate
    return low + _step(t) * (high - low)


def _minus_abs(x: torch.Tensor) -> torch.Tensor:
    """-|x| whose autograd slope at 0 is +1, the x <= 0 branch that ``_step`` picks there, so
    that a backward built from these helpers differentiates correctly at 0 (torch's abs has
    slope 0 there, which would give ``_stable_sigmoid`` the slope 0 at 0 instead of 1/4, and
    so softplus a second derivative of 0 there). x (1 - 2 step(x)) is -x or x exactly, for
    infinite x too (x - 2 relu(x) gave inf - inf = nan at x = inf). Compiled, a select (see
    ``_blend``)."""
    if torch.compiler.is_compiling():  # pragma: no mutate
        return torch.where(x > 0, -x, x)  # pragma: no mutate
    return x * (1 - 2 * _step(x))


def _stable_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """1 / (1 + e^{-x}) without overflow: only e = e^{-|x|} <= 1 is ever computed.

    sigma(|x|) = 1 / (1 + e); for x < 0, sigma(x) = e / (1 + e) = e sigma(|x|). Both branches
    give 1/2 at x = 0; for the derivative there, the blend takes the x <= 0 branch e sigma(|x|),
    whose -|x| has slope +1 at 0 (``_minus_abs``), so that the slope is 1/4.
    """
    e = torch.exp(_minus_abs(x))
    r = torch.reciprocal(1 + e)
    return r * _blend(x, 1, e)


def _stable_tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) = sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|}); expm1 keeps precision near 0."""
    e = torch.exp(-2 * x.abs())
    return torch.sign(x) * (-torch.expm1(-2 * x.abs())) / (1 + e)


def _log1p_exp_tail(x: torch.Tensor) -> torch.Tensor:
    """log1p(e^{-|x|}), in (0, log 2]: what log(1 + e^x) adds to max(x, 0)."""
    return torch.log1p(torch.exp(_minus_abs(x)))


def _log1p_exp(x: torch.Tensor) -> torch.Tensor:
    """log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}), without overflow for any x."""
    return torch.relu(x) + _log1p_exp_tail(x)


def _softplus(x: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
    """(1/b) log(1 + e^{bx});  x where bx > threshold. With log(1 + e^{bx}) = max(bx, 0) +
    log1p(e^{-|bx|}), this is max(x, 0) plus either log1p(e^{-|bx|}) / b (at most log 2 / b)
    or, beyond the threshold, min(x, 0) (0 for a threshold >= 0). The blend sees only finite
    branches: min(x, 0) is clamped from below at threshold / b, which changes it only where
    the blend does not choose it. So x = +-inf gives inf and 0, not inf - inf."""
    bx = beta * x
    tail = _log1p_exp_tail(bx) / beta
    return torch.relu(x) + _blend(bx - threshold, x.clamp(min=threshold / beta, max=0), tail)


# ---------------------------------------------------------------------------------------------
# Sigmoid and tanh
# ---------------------------------------------------------------------------------------------
class _Sigmoid(Function):
    """sigma(x) = 1 / (1 + e^{-x});  sigma'(x) = sigma(x) (1 - sigma(x))."""

    @staticmethod
    def forward(ctx, x):
        s = _stable_sigmoid(x)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_out):
        (s,) = ctx.saved_tensors
        return grad_out * s * (1 - s)  # dL/dx = dL/ds * ds/dx


def sigmoid(input: torch.Tensor) -> torch.Tensor:
    r"""Logistic sigmoid, :math:`\sigma(x) = 1 / (1 + e^{-x})`, element-wise.

    Range :math:`(0, 1)`; :math:`\sigma'(x) = \sigma(x)(1-\sigma(x)) \le 1/4`, with the maximum
    at 0. Computed without overflow for any input. Use it for a probability output (binary
    classification, gates); in hidden layers it saturates and is not zero-centred.

    Shape: input :math:`(*)`, output :math:`(*)`, same dtype and device.
    """
    check_floating(input, "input")
    return _Sigmoid.apply(input)


def sigmoid_derivative(input: torch.Tensor) -> torch.Tensor:
    r""":math:`\sigma'(x) = \sigma(x)(1 - \sigma(x))`."""
    s = _stable_sigmoid(check_floating(input, "input"))
    return s * (1 - s)


class _Tanh(Function):
    """tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x});  tanh'(x) = 1 - tanh(x)^2."""

    @staticmethod
    def forward(ctx, x):
        t = _stable_tanh(x)
        ctx.save_for_backward(t)
        return t

    @staticmethod
    def backward(ctx, grad_out):
        (t,) = ctx.saved_tensors
        return grad_out * (1 - t * t)


def tanh(input: torch.Tensor) -> torch.Tensor:
    r"""Hyperbolic tangent, :math:`\tanh(x) = 2\sigma(2x) - 1`, element-wise.

    Range :math:`(-1, 1)`, zero-centred; :math:`\tanh'(x) = 1 - \tanh^2(x) \le 1`. Saturates
    for large :math:`|x|` like the sigmoid. Use it where a bounded, zero-centred output helps
    (recurrent cells).

    Shape: input :math:`(*)`, output :math:`(*)`.
    """
    check_floating(input, "input")
    return _Tanh.apply(input)


def tanh_derivative(input: torch.Tensor) -> torch.Tensor:
    r""":math:`\tanh'(x) = 1 - \tanh^2(x)`."""
    t = _stable_tanh(check_floating(input, "input"))
    return 1 - t * t


# ---------------------------------------------------------------------------------------------
# The ReLU family
# ---------------------------------------------------------------------------------------------
class _LeakyReLU(Function):
    """f(x) = x if x > 0 else a x;  f'(x) = 1 if x > 0 else a (a at 0, as torch; ReLU: a = 0)."""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        if slope == 0:
            return x.clamp(min=0)  # ReLU: max(0, x)
        return x.clamp(min=0) + slope * x.clamp(max=0)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        step = _step(x)  # f'(x) = 1 for x > 0, a otherwise
        if ctx.slope == 0:
            return grad_out * step, None
        return grad_out * (ctx.slope + (1 - ctx.slope) * step), None


def relu(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    r"""Rectified linear unit, :math:`\max(0, x)`, element-wise.

    Its derivative is 1 for :math:`x > 0` and 0 for :math:`x < 0`; at :math:`x = 0`, where
    no derivative exists, PyTorch (and nnlib) use 0. Cheap and non-saturating for positive
    inputs; a unit whose input stays negative gets no gradient ("dead").

    Shape: input :math:`(*)`, output :math:`(*)`. ``inplace`` must be False.
    """
    check_floating(input, "input")
    check_not_inplace(inplace)
    return _LeakyReLU.apply(input, 0.0)


def relu_derivative(input: torch.Tensor) -> torch.Tensor:
    """1 where x > 0, else 0 (0 at x = 0, as PyTorch)."""
    return _step(check_floating(input, "input"))


def leaky_relu(
    input: torch.Tensor, negative_slope: float = 0.01, inplace: bool = False
) -> torch.Tensor:
    r"""Leaky ReLU, :math:`x` for :math:`x > 0`, else ``negative_slope`` :math:`\cdot x`.

    The small negative slope keeps a gradient flowing for negative inputs, so units cannot
    die. Shape: input :math:`(*)`, output :math:`(*)`. ``inplace`` must be False.
    """
    check_floating(input, "input")
    slope = check_number(negative_slope, "negative_slope")
    check_not_inplace(inplace)
    return _LeakyReLU.apply(input, slope)


def leaky_relu_derivative(input: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """1 where x > 0, else ``negative_slope`` (the slope at x = 0, as PyTorch)."""
    x = check_floating(input, "input")
    slope = check_number(negative_slope, "negative_slope")
    return slope + (1 - slope) * _step(x)


def _channel_view(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape a PReLU weight of 1 or C elements to broadcast over dim 1 of x."""
    if weight.numel() == 1 or x.dim() < 2:
        return weight.reshape(())
    return weight.reshape((1, -1) + (1,) * (x.dim() - 2))


class _PReLU(Function):
    """f(x) = x if x > 0 else a x;  df/dx = 1 or a;  df/da = 0 or x (summed over non-channels)."""

    @staticmethod
    def forward(ctx, x, weight):
        a = _channel_view(weight, x)
        ctx.save_for_backward(x, weight)
        return x.clamp(min=0) + a * x.clamp(max=0)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        a = _channel_view(weight, x)
        grad_x = grad_out * (a + (1 - a) * _step(x))
        per_element = grad_out * x.clamp(max=0)  # df/da = x where x < 0, else 0
        if weight.numel() == 1 or x.dim() < 2:
            grad_w = per_element.sum().reshape(weight.shape)
        else:
            dims = [d for d in range(x.dim()) if d != 1]
            grad_w = per_element.sum(dim=dims).reshape(weight.shape)
        return grad_x, grad_w


def prelu(input: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    r"""Parametric ReLU, :math:`x` for :math:`x > 0`, else :math:`a x` with a learned :math:`a`.

    ``weight`` holds one slope shared by all channels or one per channel; the channel
    dimension is dim 1 of ``input`` (an input with fewer than 2 dims has one channel). The
    gradient with respect to ``weight`` is :math:`\sum x \cdot \partial L/\partial y` over the
    negative inputs of each channel.

    Shape: input :math:`(N, C, *)` or :math:`(*)`; weight :math:`(1,)` or :math:`(C,)`.
    """
    check_floating(input, "input")
    check_floating(weight, "weight")
    channels = input.shape[1] if input.dim() >= 2 else 1
    if weight.dim() > 1 or weight.numel() not in (1, channels):
        raise ValueError(
            f"weight must be a 1-d tensor of 1 or {channels} (channels, dim 1 of input) "
            f"elements; got shape {tuple(weight.shape)}"
        )
    check_same_device(input, weight, "input", "weight")
    return _PReLU.apply(input, weight)


def prelu_derivative(input: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """df/dx: 1 where x > 0, else the channel's slope."""
    x = check_floating(input, "input")
    a = _channel_view(check_floating(weight, "weight"), x).to(x.dtype)
    return a + (1 - a) * _step(x)


class _RReLU(Function):
    """f(x) = x if x > 0 else a x, a the per-element slope;  f'(x) = 1 or a (a at 0, as torch)."""

    @staticmethod
    def forward(ctx, x, slopes):
        factor = slopes + (1 - slopes) * _step(x)  # 1 where x > 0, else the slope
        ctx.save_for_backward(factor)
        return x * factor

    @staticmethod
    def backward(ctx, grad_out):
        (factor,) = ctx.saved_tensors
        return grad_out * factor, None


def _check_rrelu_bounds(lower: float, upper: float) -> tuple[float, float]:
    lower = check_number(lower, "lower")
    upper = check_number(upper, "upper")
    if lower > upper:
        raise ValueError(f"lower must be <= upper; got lower={lower:g}, upper={upper:g}")
    return lower, upper


def rrelu(
    input: torch.Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Randomized leaky ReLU: :math:`x` for :math:`x > 0`, else :math:`a x`.

    In training each element draws its own slope :math:`a \sim U(\text{lower}, \text{upper})`;
    in evaluation :math:`a = (\text{lower} + \text{upper}) / 2`. Pass a ``generator`` for
    reproducible slopes. The random slope acts as a regulariser.

    Shape: input :math:`(*)`, output :math:`(*)`. ``inplace`` must be False.
    """
    check_floating(input, "input")
    lower, upper = _check_rrelu_bounds(lower, upper)
    check_not_inplace(inplace)
    if training:
        # draw on the generator's device (a CPU generator can drive CUDA inputs), then move
        where = generator.device if generator is not None else input.device
        slopes = torch.rand(input.shape, generator=generator, dtype=input.dtype, device=where)
        slopes = lower + (upper - lower) * slopes.to(input.device)
    else:
        slopes = torch.full((), (lower + upper) / 2, dtype=input.dtype, device=input.device)
    return _RReLU.apply(input, slopes)


def rrelu_derivative(
    input: torch.Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3
) -> torch.Tensor:
    """Evaluation-mode derivative: 1 where x > 0, else (lower + upper) / 2."""
    x = check_floating(input, "input")
    lower, upper = _check_rrelu_bounds(lower, upper)
    slope = (lower + upper) / 2
    return slope + (1 - slope) * _step(x)


# ---------------------------------------------------------------------------------------------
# Exponential units
# ---------------------------------------------------------------------------------------------
class _ELU(Function):
    """f(x) = s x if x > 0 else s a (e^x - 1);  f'(x) = s if x > 0 else s a e^x (s = 1 for ELU)."""

    @staticmethod
    def forward(ctx, x, alpha, scale):
        ctx.save_for_backward(x)
        ctx.alpha, ctx.scale = alpha, scale
        return scale * (x.clamp(min=0) + alpha * torch.expm1(x.clamp(max=0)))

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        # the slope for x <= 0; where() rather than clamp(), whose gradient at its bound
        # differs between PyTorch releases: f''(0) is 0, as in torch's double backward
        low = ctx.alpha * torch.exp(torch.where(x < 0, x, 0.0))
        return grad_out * (ctx.scale * _blend(x, 1, low)), None, None


def elu(input: torch.Tensor, alpha: float = 1.0, inplace: bool = False) -> torch.Tensor:
    r"""Exponential linear unit: :math:`x` for :math:`x > 0`, else :math:`\alpha(e^x - 1)`.

    Negative outputs (down to :math:`-\alpha`) push mean activations towards zero; smooth at
    0 when :math:`\alpha = 1`. Shape: input :math:`(*)`, output :math:`(*)`.
    """
    check_floating(input, "input")
    alpha = check_number(alpha, "alpha")
    check_not_inplace(inplace)
    return _ELU.apply(input, alpha, 1.0)


def elu_derivative(input: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    r"""1 for :math:`x > 0`, else :math:`\alpha e^x`."""
    x = check_floating(input, "input")
    low = check_number(alpha, "alpha") * torch.exp(x.clamp(max=0))
    return _blend(x, 1, low)


def selu(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    r"""Scaled ELU: :math:`\lambda x` for :math:`x > 0`, else :math:`\lambda\alpha(e^x - 1)`.

    With :math:`\alpha \approx 1.6733` and :math:`\lambda \approx 1.0507` (Klambauer et al.,
    2017) activations of a suitably initialised network stay near zero mean and unit
    variance. Shape: input :math:`(*)`, output :math:`(*)`.
    """
    check_floating(input, "input")
    check_not_inplace(inplace)
    return _ELU.apply(input, SELU_ALPHA, SELU_SCALE)


def selu_derivative(input: torch.Tensor) -> torch.Tensor:
    r""":math:`\lambda` for :math:`x > 0`, else :math:`\lambda\alpha e^x`."""
    return SELU_SCALE * elu_derivative(input, SELU_ALPHA)


# ---------------------------------------------------------------------------------------------
# Smooth gated units: GELU, SiLU, softplus, Mish
# ---------------------------------------------------------------------------------------------
def _gelu_value(x: torch.Tensor, approximate: str) -> torch.Tensor:
    if approximate == "tanh":
        return 0.5 * x * (1 + torch.tanh(_SQRT_2_OVER_PI * (x + _GELU_TANH_C * x**3)))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2.0)))


def _gelu_slope(x: torch.Tensor, approximate: str) -> torch.Tensor:
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_C * x**3)
        t = torch.tanh(inner)
        d_inner = _SQRT_2_OVER_PI * (1 + 3 * _GELU_TANH_C * x**2)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2.0)))
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return cdf + x * pdf  # d/dx [x Phi(x)] = Phi(x) + x phi(x)


class _GELU(Function):
    """f(x) = x Phi(x);  f'(x) = Phi(x) + x phi(x)  (or the tanh approximation's derivative)."""

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return _gelu_value(x, approximate)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * _gelu_slope(x, ctx.approximate), None


def gelu(input: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    r"""Gaussian error linear unit, :math:`x\,\Phi(x)` with :math:`\Phi` the normal CDF.

    ``approximate='tanh'`` uses :math:`\tfrac12 x (1 + \tanh(\sqrt{2/\pi}(x + 0.044715x^3)))`.
    Smooth, non-monotone (a small dip near :math:`x \approx -0.75`); the default in
    Transformers. Shape: input :math:`(*)`, output :math:`(*)`.
    """
    check_floating(input, "input")
    check_choice(approximate, "approximate", ("none", "tanh"))
    return _GELU.apply(input, approximate)


def gelu_derivative(input: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    r""":math:`\Phi(x) + x\,\varphi(x)` (or the tanh approximation's derivative)."""
    x = check_floating(input, "input")
    return _gelu_slope(x, check_choice(approximate, "approximate", ("none", "tanh")))


class _SiLU(Function):
    """f(x) = x sigma(x);  f'(x) = sigma(x) (1 + x (1 - sigma(x)))."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * _stable_sigmoid(x)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        s = _stable_sigmoid(x)
        return grad_out * s * (1 + x * (1 - s))


def silu(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    r"""Sigmoid linear unit (Swish with :math:`\beta = 1`), :math:`x\,\sigma(x)`.

    Smooth, non-monotone, unbounded above and bounded below (min :math:`\approx -0.278`).
    Shape: input :math:`(*)`, output :math:`(*)`. ``inplace`` must be False.
    """
    check_floating(input, "input")
    check_not_inplace(inplace)
    return _SiLU.apply(input)


def silu_derivative(input: torch.Tensor) -> torch.Tensor:
    r""":math:`\sigma(x)(1 + x(1 - \sigma(x)))`."""
    x = check_floating(input, "input")
    s = _stable_sigmoid(x)
    return s * (1 + x * (1 - s))


class _Softplus(Function):
    """f(x) = log(1 + e^{bx}) / b;  f'(x) = sigma(bx)  (x and 1 beyond the threshold)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        return _softplus(x, beta, threshold)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        bx = ctx.beta * x
        s = _stable_sigmoid(bx)
        return grad_out * _blend(bx - ctx.threshold, 1, s), None, None


def softplus(input: torch.Tensor, beta: float = 1.0, threshold: float = 20.0) -> torch.Tensor:
    r"""Softplus, :math:`\frac{1}{\beta}\log(1 + e^{\beta x})`, a smooth ReLU.

    Reverts to :math:`x` where :math:`\beta x >` ``threshold``, as PyTorch does. Computed as
    :math:`(\max(\beta x, 0) + \log(1 + e^{-|\beta x|}))/\beta`, which never overflows. Its
    derivative is the sigmoid :math:`\sigma(\beta x)`. ``beta`` must be positive.

    Shape: input :math:`(*)`, output :math:`(*)`.
    """
    check_floating(input, "input")
    beta = check_number(beta, "beta", minimum=0, strict_minimum=True)
    threshold = check_number(threshold, "threshold")
    return _Softplus.apply(input, beta, threshold)


def softplus_derivative(
    input: torch.Tensor, beta: float = 1.0, threshold: float = 20.0
) -> torch.Tensor:
    r""":math:`\sigma(\beta x)`, and 1 where :math:`\beta x >` ``threshold``."""
    x = check_floating(input, "input")
    beta = check_number(beta, "beta", minimum=0, strict_minimum=True)
    threshold = check_number(threshold, "threshold")
    s = _stable_sigmoid(beta * x)
    return _blend(beta * x - threshold, 1, s)


def _mish_slope(x: torch.Tensor) -> torch.Tensor:
    t = torch.tanh(_softplus(x, 1.0, 20.0))
    return t + x * (1 - t * t) * _stable_sigmoid(x)  # tanh(sp) + x sech^2(sp) sigma(x)


class _Mish(Function):
    """f(x) = x tanh(softplus(x));  f'(x) = tanh(sp(x)) + x sech^2(sp(x)) sigma(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * torch.tanh(_softplus(x, 1.0, 20.0))

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * _mish_slope(x)


def mish(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    r"""Mish, :math:`x \tanh(\operatorname{softplus}(x))` (Misra, 2019).

    Smooth and non-monotone like SiLU, bounded below (min :math:`\approx -0.309`).
    Shape: input :math:`(*)`, output :math:`(*)`. ``inplace`` must be False.
    """
    check_floating(input, "input")
    check_not_inplace(inplace)
    return _Mish.apply(input)


def mish_derivative(input: torch.Tensor) -> torch.Tensor:
    r""":math:`\tanh(s) + x\,\operatorname{sech}^2(s)\,\sigma(x)` with
    :math:`s = \operatorname{softplus}(x)`."""
    return _mish_slope(check_floating(input, "input"))


# ---------------------------------------------------------------------------------------------
# Softmax and log-softmax
# ---------------------------------------------------------------------------------------------
def _row_max(x: torch.Tensor, dim: int) -> torch.Tensor:
    """max along dim (keepdim); an empty tensor has nothing to shift."""
    return x.amax(dim=dim, keepdim=True) if x.numel() else x.sum(dim=dim, keepdim=True)


class _Softmax(Function):
    """s_i = e^{x_i} / sum_j e^{x_j};  dL/dx = s * (dL/ds - sum_j dL/ds_j s_j)."""

    @staticmethod
    def forward(ctx, x, dim):
        z = torch.exp(x - _row_max(x, dim))  # shift: e^z <= 1, no overflow
        s = z / z.sum(dim=dim, keepdim=True)
        ctx.save_for_backward(s)
        ctx.dim = dim
        return s

    @staticmethod
    def backward(ctx, grad_out):
        (s,) = ctx.saved_tensors
        # Jacobian-vector product with ds_i/dx_k = s_i (delta_ik - s_k), never forming it
        return s * (grad_out - (grad_out * s).sum(dim=ctx.dim, keepdim=True)), None


def _log_sum_exp(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's max m and S = log sum_j e^{x_j - m} along dim (keepdim), so that
    log sum_j e^{x_j} = m + S and no e^{x_j - m} overflows (each is at most 1)."""
    m = _row_max(x, dim)
    return m, torch.log((x - m).exp_().sum(dim=dim, keepdim=True))


def _log_softmax_from(x: torch.Tensor, m: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """log softmax, x_i - log sum_j e^{x_j} = (x_i - m) - S, from :func:`_log_sum_exp`'s
    statistics (of x, or of the rows that x's values were taken from)."""
    return (x - m).sub_(s)


class _LogSoftmax(Function):
    """y_i = x_i - log sum_j e^{x_j};  dL/dx = dL/dy - softmax(x) * sum_j dL/dy_j."""

    @staticmethod
    def forward(ctx, x, dim):
        y = _log_softmax_from(x, *_log_sum_exp(x, dim))
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return grad_out - torch.exp(y) * grad_out.sum(dim=ctx.dim, keepdim=True), None


def _softmax_args(input, dim, dtype):
    check_floating(input, "input")
    if dim is None:
        raise TypeError("dim must be an integer (the dimension to normalise over); got None")
    dim = check_dim(dim, input.dim())
    if dtype is not None:
        input = input.to(dtype)
        check_floating(input, "dtype")
    return input, dim


def softmax(input: torch.Tensor, dim: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    r"""Softmax over ``dim``: :math:`s_i = e^{x_i} / \sum_j e^{x_j}`.

    Computed as :math:`e^{x_i - m} / \sum_j e^{x_j - m}` with :math:`m = \max_j x_j`, so no
    exponential overflows; the result is unchanged by the shift (softmax is shift-invariant).
    Outputs are positive and sum to 1 along ``dim``: a probability distribution over classes.
    ``dtype``: cast the input first (as in PyTorch).

    Shape: input :math:`(*)`, output the same shape.
    """
    input, dim = _softmax_args(input, dim, dtype)
    return _Softmax.apply(input, dim)


def log_softmax(input: torch.Tensor, dim: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    r"""Log of the softmax over ``dim``: :math:`x_i - \log\sum_j e^{x_j}` (log-sum-exp).

    More accurate than ``softmax(x).log()``, which underflows to :math:`-\infty` for very
    negative logits. Pair it with :func:`nnlib.losses.nll_loss` for cross-entropy.

    Shape: input :math:`(*)`, output the same shape.
    """
    input, dim = _softmax_args(input, dim, dtype)
    return _LogSoftmax.apply(input, dim)


def softmax_jacobian(input: torch.Tensor) -> torch.Tensor:
    r"""Jacobian of softmax over the last dim: :math:`J_{ik} = s_i(\delta_{ik} - s_k)`.

    Shape: input :math:`(*, C)`, output :math:`(*, C, C)`.
    """
    s = softmax(check_floating(input, "input"), dim=-1)
    return torch.diag_embed(s) - s.unsqueeze(-1) * s.unsqueeze(-2)


def log_softmax_jacobian(input: torch.Tensor) -> torch.Tensor:
    r"""Jacobian of log-softmax over the last dim: :math:`J_{ik} = \delta_{ik} - s_k`.

    Shape: input :math:`(*, C)`, output :math:`(*, C, C)`.
    """
    s = softmax(check_floating(input, "input"), dim=-1)
    eye = torch.eye(s.shape[-1], dtype=s.dtype, device=s.device)
    return eye - s.unsqueeze(-2).expand(*s.shape, s.shape[-1])


# ---------------------------------------------------------------------------------------------
# Maxout and identity
# ---------------------------------------------------------------------------------------------
class _MaxOverPieces(Function):
    """y_j = max_k z_jk;  dL/dz_jk = dL/dy_j if k is the argmax (first on ties) else 0."""

    @staticmethod
    def forward(ctx, z):
        y, k = z.max(dim=-1)
        ctx.save_for_backward(k)
        ctx.shape = z.shape
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (k,) = ctx.saved_tensors
        grad_z = grad_out.new_zeros(ctx.shape)
        return grad_z.scatter(-1, k.unsqueeze(-1), grad_out.unsqueeze(-1))


def _maxout_pieces(input, weight, bias, pieces) -> torch.Tensor:
    check_floating(input, "input")
    check_floating(weight, "weight")
    pieces = check_int(pieces, "pieces", minimum=1)
    if weight.dim() != 2 or weight.shape[0] % pieces != 0:
        raise ValueError(
            "weight must have shape (out_features * pieces, in_features) with pieces="
            f"{pieces}; got {tuple(weight.shape)}"
        )
    if input.dim() < 1 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"input must have {weight.shape[1]} features in its last dim (weight's "
            f"in_features); got shape {tuple(input.shape)}"
        )
    z = input @ weight.transpose(0, 1)  # the affine pieces z = x W^T + b
    if check_like(bias, "bias", like=input, shape=(weight.shape[0],)) is not None:
        z = z + bias
    return z.reshape(*z.shape[:-1], weight.shape[0] // pieces, pieces)


def maxout(
    input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, pieces: int = 2
) -> torch.Tensor:
    r"""Maxout (Goodfellow et al., 2013): the max over ``pieces`` affine functions per output.

    .. math:: y_j = \max_{k=1..K} \left( x W_{jk}^\top + b_{jk} \right)

    Row ``j * pieces + k`` of ``weight`` (and entry of ``bias``) holds piece ``k`` of output
    ``j``. The gradient flows only through the winning piece. With pieces :math:`(x, 0)` it
    is ReLU; with :math:`(x, ax)` it is LeakyReLU; with many pieces it approximates any
    convex function.

    Shape: input :math:`(*, H_{in})`, weight :math:`(H_{out} K, H_{in})`, bias
    :math:`(H_{out} K)`, output :math:`(*, H_{out})`.
    """
    return _MaxOverPieces.apply(_maxout_pieces(input, weight, bias, pieces))


def maxout_derivative(
    input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, pieces: int = 2
) -> torch.Tensor:
    """Jacobian dy_j/dx: the weight row of output j's winning piece. Shape (*, H_out, H_in)."""
    z = _maxout_pieces(input, weight, bias, pieces)
    k = z.argmax(dim=-1)  # (*, H_out)
    rows = torch.arange(z.shape[-2], device=k.device) * pieces + k
    return weight[rows]


class _Identity(Function):
    """f(x) = x;  f'(x) = 1."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out


def identity(input: torch.Tensor) -> torch.Tensor:
    """The identity, :math:`f(x) = x`: what a layer computes with no activation."""
    check_tensor(input, "input")
    return _Identity.apply(input)


def identity_derivative(input: torch.Tensor) -> torch.Tensor:
    """1 everywhere."""
    return torch.ones_like(check_floating(input, "input"))


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ActivationSpec:
    """One activation: how to compute it, its torch counterpart, and its properties.

    ``function``/``derivative`` map a tensor to a tensor of the same shape (element-wise ops
    with default parameters; softmax over the last dim, its derivative the diagonal of the
    Jacobian). ``torch_function`` computes the same with PyTorch. ``max_derivative`` is the
    largest value of f' and ``monotonic`` whether f' >= 0 everywhere (None for either: it
    depends on learned parameters; ``function`` then uses one example of them, PReLU's
    initial slope 0.25 and maxout's pieces (0, -x, x)). ``formula`` is TeX math only, with
    no words in it (docs/editions.md says why).
    """

    name: str
    label: str
    formula: str
    function: _Fn
    derivative: _Fn
    torch_function: _Fn
    output_range: str
    zero_centred: bool
    saturates: str
    max_derivative: float | None
    monotonic: bool | None
    smooth: bool
    elementwise: bool = True


def _softmax_last(x):
    return softmax(x, dim=-1)


def _softmax_diag(x):
    s = softmax(x, dim=-1)
    return s * (1 - s)


def _prelu_example(x):
    """PReLU with its initial slope 0.25, the registry's example of it."""
    return prelu(x, torch.tensor([0.25], dtype=x.dtype, device=x.device))


def _prelu_example_derivative(x):
    return prelu_derivative(x, torch.tensor([0.25], dtype=x.dtype, device=x.device))


def _maxout_abs(x):
    """Maxout with the pieces (0, -x, x): |x|, the registry's example of a maxout unit
    (a non-monotone convex function no single ReLU unit can produce)."""
    w = torch.tensor([[0.0], [-1.0], [1.0]], dtype=x.dtype, device=x.device)
    return maxout(x.unsqueeze(-1), w, None, pieces=3).squeeze(-1)


def _maxout_abs_derivative(x):
    w = torch.tensor([[0.0], [-1.0], [1.0]], dtype=x.dtype, device=x.device)
    return maxout_derivative(x.unsqueeze(-1), w, None, pieces=3).reshape(x.shape)


_F = torch.nn.functional
_SELU_MAX_D = SELU_SCALE * SELU_ALPHA  # sup of lambda*alpha*e^x for x <= 0

#: Every element-wise activation, with its default parameters (PReLU and maxout: the
#: registry's examples of them): name -> (f, f').
#: The registry below adds to each its torch counterpart and properties; the backprop
#: module uses only this.
ELEMENTWISE: dict[str, tuple[_Fn, _Fn]] = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "prelu": (_prelu_example, _prelu_example_derivative),
    "rrelu": (rrelu, rrelu_derivative),
    "elu": (elu, elu_derivative),
    "selu": (selu, selu_derivative),
    "gelu": (gelu, gelu_derivative),
    "silu": (silu, silu_derivative),
    "softplus": (softplus, softplus_derivative),
    "mish": (mish, mish_derivative),
    "maxout": (_maxout_abs, _maxout_abs_derivative),
    "identity": (identity, identity_derivative),
}


def _elementwise(*, name: str, **properties) -> ActivationSpec:
    """The registry's entry for the element-wise activation ``name``: f and f' from
    ELEMENTWISE, the rest from ``properties``."""
    function, derivative = ELEMENTWISE[name]
    return ActivationSpec(name=name, function=function, derivative=derivative, **properties)


ACTIVATIONS: dict[str, ActivationSpec] = {
    s.name: s
    for s in (
        _elementwise(
            name="sigmoid",
            label="Sigmoid",
            formula=r"\frac{1}{1+e^{-x}}",
            torch_function=torch.sigmoid,
            output_range="(0, 1)",
            zero_centred=False,
            saturates="both sides",
            max_derivative=0.25,
            monotonic=True,
            smooth=True,
        ),
        _elementwise(
            name="tanh",
            label="Tanh",
            formula=r"\tanh x",
            torch_function=torch.tanh,
            output_range="(-1, 1)",
            zero_centred=True,
            saturates="both sides",
            max_derivative=1.0,
            monotonic=True,
            smooth=True,
        ),
        _elementwise(
            name="relu",
            label="ReLU",
            formula=r"\max(0, x)",
            torch_function=_F.relu,
            output_range="[0, inf)",
            zero_centred=False,
            saturates="x < 0 (zero gradient)",
            max_derivative=1.0,
            monotonic=True,
            smooth=False,
        ),
        _elementwise(
            name="leaky_relu",
            label="LeakyReLU",
            formula=r"\max(0.01x, x)",
            torch_function=_F.leaky_relu,
            output_range="(-inf, inf)",
            zero_centred=False,
            saturates="none",
            max_derivative=1.0,
            monotonic=True,
            smooth=False,
        ),
        _elementwise(
            name="prelu",
            label="PReLU",
            formula=r"\max(0, x) + a \min(0, x)",
            torch_function=lambda x: _F.prelu(
                x, torch.tensor([0.25], dtype=x.dtype, device=x.device)
            ),
            output_range="(-inf, inf) for a > 0",
            zero_centred=False,
            saturates="none",
            max_derivative=None,
            monotonic=None,
            smooth=False,
        ),
        _elementwise(
            name="rrelu",
            label="RReLU",
            formula=r"\max(0, x) + a \min(0, x),\ a \sim U(l, u)",
            torch_function=_F.rrelu,
            output_range="(-inf, inf)",
            zero_centred=False,
            saturates="none",
            max_derivative=1.0,
            monotonic=True,
            smooth=False,
        ),
        _elementwise(
            name="elu",
            label="ELU",
            formula=r"\max(0, x) + \min(0, e^x - 1)",
            torch_function=_F.elu,
            output_range="(-1, inf)",
            zero_centred=False,
            saturates="x -> -inf (towards -1)",
            max_derivative=1.0,
            monotonic=True,
            smooth=True,
        ),
        _elementwise(
            name="selu",
            label="SELU",
            formula=r"\lambda\,(\max(0, x) + \min(0, \alpha(e^x - 1)))",
            torch_function=_F.selu,
            output_range="(-1.7581, inf)",
            zero_centred=False,
            saturates="x -> -inf",
            max_derivative=_SELU_MAX_D,
            monotonic=True,
            smooth=False,
        ),
        _elementwise(
            name="gelu",
            label="GELU",
            formula=r"x\,\Phi(x)",
            torch_function=_F.gelu,
            output_range="[-0.1700, inf)",
            zero_centred=False,
            saturates="x -> -inf (towards 0)",
            max_derivative=1.1289,
            monotonic=False,
            smooth=True,
        ),
        _elementwise(
            name="silu",
            label="SiLU / Swish",
            formula=r"x\,\sigma(x)",
            torch_function=_F.silu,
            output_range="[-0.2785, inf)",
            zero_centred=False,
            saturates="x -> -inf (towards 0)",
            max_derivative=1.0998,
            monotonic=False,
            smooth=True,
        ),
        _elementwise(
            name="softplus",
            label="Softplus",
            formula=r"\log(1 + e^x)",
            torch_function=_F.softplus,
            output_range="(0, inf)",
            zero_centred=False,
            saturates="x -> -inf (towards 0)",
            max_derivative=1.0,
            monotonic=True,
            smooth=True,
        ),
        _elementwise(
            name="mish",
            label="Mish",
            formula=r"x \tanh(\log(1 + e^x))",
            torch_function=_F.mish,
            output_range="[-0.3088, inf)",
            zero_centred=False,
            saturates="x -> -inf (towards 0)",
            max_derivative=1.0885,
            monotonic=False,
            smooth=True,
        ),
        _elementwise(
            name="maxout",
            label="Maxout",
            formula=r"\max_k (w_k x + b_k)",
            torch_function=torch.abs,
            output_range="depends on the pieces",
            zero_centred=False,
            saturates="none (piecewise linear)",
            max_derivative=None,
            monotonic=None,
            smooth=False,
        ),
        ActivationSpec(
            name="softmax",
            label="Softmax",
            formula=r"e^{x_i} / \sum_j e^{x_j}",
            function=_softmax_last,
            derivative=_softmax_diag,
            torch_function=lambda x: torch.softmax(x, dim=-1),
            output_range="(0, 1), sums to 1",
            zero_centred=False,
            saturates="when one logit dominates",
            max_derivative=0.25,
            monotonic=False,
            smooth=True,
            elementwise=False,
        ),
        _elementwise(
            name="identity",
            label="Identity",
            formula=r"x",
            torch_function=lambda x: x.clone(),
            output_range="(-inf, inf)",
            zero_centred=True,
            saturates="none",
            max_derivative=1.0,
            monotonic=True,
            smooth=True,
        ),
    )
}


# ---------------------------------------------------------------------------------------------
# Modules mirroring torch.nn
# ---------------------------------------------------------------------------------------------
class _Elementwise(nn.Module):
    """A parameter-free activation module: ``forward`` calls ``fn(x, **kwargs)``."""

    fn: Callable[..., torch.Tensor]

    def __init__(self, **kwargs):
        super().__init__()
        self.kwargs = kwargs

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return type(self).fn(input, **self.kwargs)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())


class Sigmoid(_Elementwise):
    fn = staticmethod(sigmoid)


class Tanh(_Elementwise):
    fn = staticmethod(tanh)


class ReLU(_Elementwise):
    fn = staticmethod(relu)


class LeakyReLU(_Elementwise):
    fn = staticmethod(leaky_relu)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__(negative_slope=check_number(negative_slope, "negative_slope"))


class ELU(_Elementwise):
    fn = staticmethod(elu)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(alpha=check_number(alpha, "alpha"))


class SELU(_Elementwise):
    fn = staticmethod(selu)


class GELU(_Elementwise):
    fn = staticmethod(gelu)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__(approximate=check_choice(approximate, "approximate", ("none", "tanh")))


class SiLU(_Elementwise):
    fn = staticmethod(silu)


class Softplus(_Elementwise):
    fn = staticmethod(softplus)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        beta = check_number(beta, "beta", minimum=0, strict_minimum=True)
        super().__init__(beta=beta, threshold=check_number(threshold, "threshold"))


class Mish(_Elementwise):
    fn = staticmethod(mish)


class Softmax(_Elementwise):
    fn = staticmethod(softmax)

    def __init__(self, dim: int) -> None:
        super().__init__(dim=check_int(dim, "dim"))


class LogSoftmax(_Elementwise):
    fn = staticmethod(log_softmax)

    def __init__(self, dim: int) -> None:
        super().__init__(dim=check_int(dim, "dim"))


class Identity(_Elementwise):
    fn = staticmethod(identity)


class PReLU(nn.Module):
    """PReLU with ``num_parameters`` learned slopes (1, or one per channel), all ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25) -> None:
        super().__init__()
        self.num_parameters = check_int(num_parameters, "num_parameters", minimum=1)
        self.weight = nn.Parameter(torch.full((num_parameters,), check_number(init, "init")))

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(nn.Module):
    """RReLU: random slopes in [lower, upper] in training mode, their mean in eval mode."""

    def __init__(
        self,
        lower: float = 1.0 / 8,
        upper: float = 1.0 / 3,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.lower, self.upper = _check_rrelu_bounds(lower, upper)
        self.generator = generator

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return rrelu(input, self.lower, self.upper, self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}"


class Maxout(nn.Module):
    """Maxout layer: ``out_features`` outputs, each the max of ``pieces`` affine functions.

    Initialised like :class:`torch.nn.Linear` (uniform in :math:`\\pm 1/\\sqrt{in}`).
    """

    def __init__(
        self, in_features: int, out_features: int, pieces: int = 2, bias: bool = True
    ) -> None:
        super().__init__()
        self.in_features = check_int(in_features, "in_features", minimum=1)
        self.out_features = check_int(out_features, "out_features", minimum=1)
        self.pieces = check_int(pieces, "pieces", minimum=1)
        bound = 1.0 / math.sqrt(in_features)
        rows = out_features * pieces
        self.weight = nn.Parameter(torch.empty(rows, in_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(rows).uniform_(-bound, bound)) if bias else None

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return maxout(input, self.weight, self.bias, self.pieces)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"pieces={self.pieces}, bias={self.bias is not None}"
        )
