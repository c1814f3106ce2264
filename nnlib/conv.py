r"""2-D convolution written from scratch, with an explicit backward pass.

Same name, signature and semantics as :func:`torch.nn.functional.conv2d` (which, like every
deep-learning library, computes a cross-correlation: the kernel is not flipped).

Forward, by *im2col*: one strided view of the padded input (no copy) holds, for each of the
:math:`k_h k_w` kernel offsets :math:`(a, b)`, the input value that offset sees at every
output position. Copied out, it is a matrix of "columns", one column per output position, and
the convolution is one matrix product of the weight with it:

.. math::
    y_{n,o,i,j} = b_o + \sum_{c,a,b} w_{o,c,a,b}\;
        x_{n,c,\ s_h i + d_h a - p_h,\ s_w j + d_w b - p_w}

Backward, from the same columns:

* :math:`\partial L/\partial w_{o,c,a,b} = \sum_{n,i,j} g_{n,o,i,j}\, x_{n,c,s_h i + d_h a - p_h,
  s_w j + d_w b - p_w}`: the correlation of the input with the upstream gradient
  :math:`g = \partial L/\partial y`;
* :math:`\partial L/\partial x`: every output position sends :math:`\sum_o g_{n,o,i,j} w_{o,c,a,b}`
  back to the input cell offset :math:`(a, b)` saw (*col2im*, the adjoint of im2col). For
  stride 1 this is the "full" convolution of :math:`g` with the kernel flipped in both axes;
  in general it is the *transposed* convolution;
* :math:`\partial L/\partial b_o = \sum_{n,i,j} g_{n,o,i,j}`.

``groups`` splits the channels into independent convolutions, each seeing
``in_channels / groups`` input channels.

With stride 1 the backward pass computes :math:`\partial L/\partial x` as that full
convolution: the same im2col and one matrix product, applied to :math:`g` padded by
:math:`d(k - 1) - p` on each side (:math:`p` that side's own padding), with the kernel flipped
and its in and out channels swapped within each group. With a larger stride (or a padding
wider than the kernel's reach) it adds the column gradient back by col2im, one kernel offset
at a time.

The columns are :math:`k_h k_w` times larger than the input, so they are built for a chunk of
the batch at a time (about ``COLUMN_BUDGET`` values, at least one example), as PyTorch's own
fallback convolution builds them one example at a time: they are still in the cache when the
matrix product reads them. Extra memory at the peak, beyond input, weight and output: the
padded input and one chunk of columns in the forward pass. In the backward pass, with stride
1: the padded upstream gradient and a chunk of its columns, then the padded input and a chunk
of its columns for :math:`\partial L/\partial w`; otherwise the padded input, its gradient, a
chunk of columns and the chunk's column gradient. The columns are built again in the backward
pass rather than kept.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd import Function

from nnlib._validation import (
    Size2,
    check_floating,
    check_int,
    check_like,
    check_pair,
    check_same_device,
    check_same_dtype,
)
from nnlib._windows import Geometry, batched, output_size, windows

__all__ = ["conv2d", "output_size", "Conv2d"]


def _same_padding(kernel: tuple[int, int], dilation: tuple[int, int]):
    """``padding='same'``: total padding d (k - 1) per axis, the odd cell on the bottom/right."""
    total = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)


#: Floats of columns built at a time: the batch is taken in chunks of about this many, so that
#: the columns stay in the CPU's cache between being written and being multiplied.
COLUMN_BUDGET = 1 << 18


def _chunks(g: Geometry, n: int, c: int) -> list[slice]:
    """Slices of the batch whose columns hold about COLUMN_BUDGET floats (one at least)."""
    per_example = c * g.kernel[0] * g.kernel[1] * g.out[0] * g.out[1]
    step = max(1, COLUMN_BUDGET // per_example)
    return [slice(i, i + step) for i in range(0, n, step)]


def _im2col(xp: torch.Tensor, g: Geometry, groups: int) -> torch.Tensor:
    """(N, C, Hp, Wp) padded input -> (G, C/G * k_h k_w, N out_h out_w) columns: one copy of
    the strided view in which each kernel offset sees its input cell at every output position
    of every example, so that one matrix product serves the whole chunk of the batch."""
    n, c = xp.shape[:2]
    cols = windows(xp, g)  # (N, C, kh, kw, oh, ow), a view
    k = c // groups * g.kernel[0] * g.kernel[1]
    return cols.permute(1, 2, 3, 0, 4, 5).reshape(groups, k, n * g.out[0] * g.out[1])


def _col2im_add_(xp: torch.Tensor, cols: torch.Tensor, g: Geometry) -> None:
    """The adjoint of :func:`_im2col`: add each kernel offset's column back onto the input
    cells it was read from (windows overlap, so cells collect several)."""
    n, c = xp.shape[:2]
    cols = cols.reshape(c, g.kernel[0], g.kernel[1], n, *g.out)
    view = windows(xp, g).permute(1, 2, 3, 0, 4, 5)
    for a in range(g.kernel[0]):
        for b in range(g.kernel[1]):
            view[:, a, b] += cols[:, a, b]  # one offset's cells never overlap


def _correlate(x: torch.Tensor, weight: torch.Tensor, g: Geometry, groups: int) -> torch.Tensor:
    """The convolution without its bias: y = w @ columns, a chunk of the batch at a time."""
    n, c_in = x.shape[:2]
    c_out, length = weight.shape[0], g.out[0] * g.out[1]
    xp = g.pad(x)
    wg = weight.reshape(groups, c_out // groups, -1)  # (G, C_out/G, C/G * K)
    y = x.new_empty(n, c_out, length)
    for part in _chunks(g, n, c_in):
        yc = torch.matmul(wg, _im2col(xp[part], g, groups))  # (G, C_out/G, chunk * L)
        y[part] = yc.reshape(c_out, -1, length).transpose(0, 1)
    return y.view(n, c_out, *g.out)


def _full_geometry(g: Geometry, h: int, w: int) -> Geometry | None:
    """The geometry of dL/dx as a stride-1 correlation of the upstream gradient, padded by
    d (k - 1) - p on each side, with the flipped kernel (module docstring). None when either
    stride exceeds 1 or either side's padding exceeds d (k - 1)."""
    if g.stride != (1, 1):
        return None
    reach = [d * (k - 1) for k, d in zip(g.kernel, g.dilation, strict=True)]
    before = (reach[0] - g.before[0], reach[1] - g.before[1])
    after = (reach[0] - g.after[0], reach[1] - g.after[1])
    if min(before + after) < 0:
        return None
    return Geometry(g.kernel, g.stride, g.dilation, before, after, (h, w))


def _flipped(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """The kernel of the input gradient's convolution: (C_out, C/G, kh, kw) -> (C, C_out/G,
    kh, kw), in and out channels swapped within each group, flipped in both spatial axes."""
    c_out, c_g, kh, kw = weight.shape
    per_group = weight.reshape(groups, c_out // groups, c_g, kh, kw).transpose(1, 2)
    return per_group.reshape(groups * c_g, c_out // groups, kh, kw).flip(2, 3)


class _Conv2d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, g: Geometry, groups: int):
        y = _correlate(x, weight, g, groups)
        if bias is not None:
            y = y + bias.view(1, -1, 1, 1)
        ctx.save_for_backward(x, weight)
        ctx.g, ctx.groups, ctx.has_bias = g, groups, bias is not None
        return y

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        g, groups = ctx.g, ctx.groups
        n, c_in, h, w = x.shape
        c_out, length = weight.shape[0], g.out[0] * g.out[1]
        wg = weight.reshape(groups, c_out // groups, -1)
        grad_x = grad_w = grad_b = None
        full = _full_geometry(g, h, w) if ctx.needs_input_grad[0] else None
        if full is not None:  # dL/dx: one more im2col and product
            flipped = _flipped(weight, groups)
            grad_x = _correlate(grad_out, flipped, full, groups)
        col2im = ctx.needs_input_grad[0] and full is None
        xp = g.pad(x) if col2im or ctx.needs_input_grad[1] else x
        grad_xp = torch.zeros_like(xp) if col2im else None
        grad_wg = torch.zeros_like(wg) if ctx.needs_input_grad[1] else None
        for part in _chunks(g, n, c_in):
            go = grad_out[part].reshape(-1, c_out, length).transpose(0, 1)
            # (C_out, chunk, L) -> (G, C_out/G, chunk * L)
            go = go.reshape(groups, c_out // groups, -1)
            if grad_xp is not None:
                # dL/dcolumns = w^T @ g, added back onto the input cells
                _col2im_add_(grad_xp[part], torch.matmul(wg.mT, go), g)
            if grad_wg is not None:
                # dL/dw = g @ columns^T, summed over the chunk
                grad_wg += torch.matmul(go, _im2col(xp[part], g, groups).mT)
        if grad_xp is not None:
            grad_x = g.crop(grad_xp, h, w)
        if grad_wg is not None:
            grad_w = grad_wg.reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum(dim=(0, 2, 3))
        return grad_x, grad_w, grad_b, None, None


def conv2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Size2 = 1,
    padding: Size2 | str = 0,
    dilation: Size2 = 1,
    groups: int = 1,
) -> torch.Tensor:
    r"""2-D convolution (cross-correlation) of ``input`` with ``weight``, as PyTorch's.

    Shapes: input :math:`(N, C_{in}, H, W)` or :math:`(C_{in}, H, W)`; weight
    :math:`(C_{out}, C_{in}/\text{groups}, k_h, k_w)`; bias :math:`(C_{out})`; output
    :math:`(N, C_{out}, H_{out}, W_{out})` with :math:`H_{out} = \lfloor (H + 2p - d(k - 1) -
    1)/s \rfloor + 1`. ``padding`` is an int, a pair, ``'valid'`` (0) or ``'same'`` (the output
    keeps the input's size; stride 1 only). The backward pass is written out (module
    docstring): gradients for input, weight and bias.
    """
    x, unbatched = batched(input)
    check_floating(weight, "weight")
    if weight.dim() != 4:
        raise ValueError(
            "weight must be 4-d (out_channels, in_channels / groups, kH, kW); "
            f"got shape {tuple(weight.shape)}"
        )
    check_same_device(input, weight, "input", "weight")
    check_same_dtype(input, weight, "weight")
    groups = check_int(groups, "groups", minimum=1)
    c_in, c_out = x.shape[1], weight.shape[0]
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"groups must divide in_channels ({c_in}) and out_channels ({c_out}); got {groups}"
        )
    if weight.shape[1] * groups != c_in:
        raise ValueError(
            f"weight must have in_channels / groups = {c_in // groups} input channels "
            f"(dim 1) for an input of {c_in} channels; got {weight.shape[1]}"
        )
    check_like(bias, "bias", like=input, shape=(c_out,))
    kernel = (int(weight.shape[2]), int(weight.shape[3]))
    stride = check_pair(stride, "stride", 1)
    dilation = check_pair(dilation, "dilation", 1)
    if padding == "valid":
        before = after = (0, 0)
    elif padding == "same":
        if stride != (1, 1):
            raise ValueError(f"padding='same' needs stride 1; got stride={stride}")
        before, after = _same_padding(kernel, dilation)
    elif isinstance(padding, str):
        raise ValueError(f"padding must be an int, a pair, 'valid' or 'same'; got {padding!r}")
    else:
        before = after = check_pair(padding, "padding", 0)
    out = []
    for axis, a in (("height", 0), ("width", 1)):
        size, span = x.shape[2 + a], dilation[a] * (kernel[a] - 1) + 1
        padded = size + before[a] + after[a]
        if span > padded:
            raise ValueError(
                f"the kernel must fit in the padded input: along the {axis} it spans {span} "
                f"but the padded {axis} is {padded}"
            )
        out.append(output_size(size, kernel[a], stride[a], (before[a], after[a]), dilation[a]))
    g = Geometry(kernel, stride, dilation, before, after, (out[0], out[1]))
    y = _Conv2d.apply(x, weight, bias, g, groups)
    return y.squeeze(0) if unbatched else y


class Conv2d(nn.Module):
    """Module form of :func:`conv2d`, initialised like :class:`torch.nn.Conv2d`
    (Kaiming-uniform weights with a = sqrt(5), i.e. U(+-1/sqrt(fan_in)); bias likewise)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size2,
        stride: Size2 = 1,
        padding: Size2 | str = 0,
        dilation: Size2 = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.groups = check_int(groups, "groups", minimum=1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups must divide in_channels ({in_channels}) and out_channels "
                f"({out_channels}); got {groups}"
            )
        self.kernel_size = check_pair(kernel_size, "kernel_size", 1)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        fan_in = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
        self.bias = (
            nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"groups={self.groups}, bias={self.bias is not None}"
        )
