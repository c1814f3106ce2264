r"""2-D convolution written from scratch, with an explicit backward pass.

Same name, signature and semantics as :func:`torch.nn.functional.conv2d` (which, like every
deep-learning library, computes a cross-correlation: the kernel is not flipped).

Forward, by *im2col*: one strided view of the padded input (no copy) holds, for each of the
:math:`k_h k_w` kernel offsets :math:`(a, b)`, the input value that offset sees at every
output position. Copied out, it is a matrix with one row per output position (the name,
image to columns, is from the transposed layout; below, *the columns* means this matrix), and
the convolution is one matrix product of it with the weight, one column per output channel:

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

The padded input is kept channels last, :math:`(N, H_p, W_p, C)`: a cell's channels lie side
by side in memory, and with groups 1 and dilation 1 so do a kernel row's :math:`k_w` cells,
so each run the copy moves is :math:`k_w C` values long (:math:`C/G` per cell with groups or
dilation), where channels first it is one image row. The forward product is then the tall
matrix of columns times the small weight, and the weight gradient
:math:`(C^\top G)^\top` a product of two tall matrices; on the CPU measured (AMD EPYC, MKL,
32 channels, 3x3 and 5x5 kernels) these ran faster than the channels-first products.

The columns are :math:`k_h k_w` times larger than the input, so they are built for a chunk of
the batch at a time (about ``COLUMN_BUDGET`` values, at least one example), as PyTorch's own
fallback convolution builds them one example at a time: they are still in the cache when the
matrix product reads them. Extra memory at the peak, beyond input, weight and output: the
padded input (a channels-last copy even without padding), one chunk of columns and that
chunk's output rows in the forward pass. In the backward pass, with stride 1: the padded
upstream gradient, a chunk of its columns and their product, then the padded input, a chunk
of its columns and the chunk of upstream gradient as rows for :math:`\partial L/\partial w`;
otherwise the padded input, its gradient, a chunk of columns, the chunk of upstream gradient
as rows and the chunk's column gradient. The columns are built again in the backward pass
rather than kept. Going back to channels first copies the output, and the gradients of input
and weight, once.
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
from nnlib._windows import Geometry, batched, output_size

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


def _padded_last(x: torch.Tensor, g: Geometry) -> torch.Tensor:
    """(N, C, H, W) -> (N, Hp, Wp, C): the input inside its zero padding, channels last, so
    that the channels of a cell, and of a kernel row's neighbouring cells, lie side by side."""
    n, c, h, w = x.shape
    (top, left), (bottom, right) = g.before, g.after
    padded = x.new_zeros(n, top + h + bottom, left + w + right, c)
    g.crop(padded.permute(0, 3, 1, 2), h, w).copy_(x)  # the inside, seen channels first
    return padded


def _windows_last(padded: torch.Tensor, g: Geometry, groups: int) -> torch.Tensor:
    """(N, Hp, Wp, C) -> view (G, N, out_h, out_w, k_h, k_w, C/G) of the same memory: what
    kernel offset (a, b) sees at output position (i, j), one group's channels at a time."""
    s0, s1, s2, s3 = padded.stride()
    view = padded.as_strided(
        (padded.shape[0], *g.out, *g.kernel, padded.shape[3]),
        (s0, s1 * g.stride[0], s2 * g.stride[1], s1 * g.dilation[0], s2 * g.dilation[1], s3),
    )
    return view.unflatten(-1, (groups, -1)).permute(5, 0, 1, 2, 3, 4, 6)


def _im2col(xp: torch.Tensor, g: Geometry, groups: int) -> torch.Tensor:
    """(N, Hp, Wp, C) padded input -> (G, N out_h out_w, k_h k_w C/G): one copy of the
    strided view, one row per output position of every example (the name, image to columns,
    is from the transposed layout). With channels last each copied run is a kernel row's
    k_w C values when dilation is 1 and groups 1 (otherwise C/G per cell)."""
    return _windows_last(xp, g, groups).flatten(-3).flatten(1, 3)


def _col2im_add_(xp: torch.Tensor, cols: torch.Tensor, g: Geometry, groups: int) -> None:
    """The adjoint of :func:`_im2col`: add each kernel offset's C/G columns (its values at
    every output position) back onto the input cells they were read from (windows overlap,
    so cells collect several)."""
    view = _windows_last(xp, g, groups)
    cols = cols.view(view.shape)
    for a in range(g.kernel[0]):
        for b in range(g.kernel[1]):
            view[..., a, b, :] += cols[..., a, b, :]  # one offset's cells never overlap


def _weight_rows(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """(C_out, C/G, k_h, k_w) -> (G, C_out/G, k_h k_w C/G): one row per output channel,
    its entries in the order of the columns' matrix columns."""
    return weight.permute(0, 2, 3, 1).reshape(groups, weight.shape[0] // groups, -1)


def _weight_from_rows(rows: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """The inverse of :func:`_weight_rows`: back to (C_out, C/G, k_h, k_w)."""
    c_out, c_g, kh, kw = shape
    return rows.reshape(c_out, kh, kw, c_g).permute(0, 3, 1, 2).contiguous()


def _unpadded_first(padded: torch.Tensor, g: Geometry, h: int, w: int) -> torch.Tensor:
    """The inverse of :func:`_padded_last`: the (H, W) cells, as (N, C, H, W)."""
    return g.crop(padded.permute(0, 3, 1, 2), h, w).contiguous()


def _as_rows(t: torch.Tensor, groups: int) -> torch.Tensor:
    """(N, C, L) -> (G, N L, C/G), one row per example and position: the inverse of
    :func:`_as_channels` (a copy)."""
    n, c, length = t.shape
    rows = t.reshape(n, groups, c // groups, length).permute(1, 0, 3, 2)
    return rows.reshape(groups, n * length, c // groups)


def _as_channels(rows: torch.Tensor, out: torch.Tensor) -> None:
    """Copy (G, N L, C/G) rows, one per example and position, into out, (N, C, L)."""
    groups, (n, c, length) = rows.shape[0], out.shape
    out.view(n, groups, c // groups, length).copy_(
        rows.view(groups, n, length, c // groups).permute(1, 0, 3, 2)
    )


def _correlate(x: torch.Tensor, weight: torch.Tensor, g: Geometry, groups: int) -> torch.Tensor:
    """The convolution without its bias: y = columns @ w^T, a chunk of the batch at a time."""
    n, c_in = x.shape[:2]
    xp, w_rows = _padded_last(x, g), _weight_rows(weight, groups)
    c_out = weight.shape[0]
    y = x.new_empty(n, c_out, g.out[0] * g.out[1])
    for part in _chunks(g, n, c_in):
        _as_channels(torch.matmul(_im2col(xp[part], g, groups), w_rows.mT), y[part])
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
        w_rows = _weight_rows(weight, groups)  # (G, C_out/G, K)
        need_x, need_w = ctx.needs_input_grad[:2]
        grad_x = grad_w = grad_b = None
        full = _full_geometry(g, h, w) if need_x else None
        if full is not None:  # dL/dx: one more im2col and product
            flipped = _flipped(weight, groups)
            grad_x = _correlate(grad_out, flipped, full, groups)
        col2im = need_x and full is None
        xp = _padded_last(x, g) if col2im or need_w else x  # channels last
        grad_xp = torch.zeros_like(xp) if col2im else None
        grad_rows = torch.zeros_like(w_rows) if need_w else None
        for part in _chunks(g, n, c_in):
            go = _as_rows(grad_out[part].reshape(-1, c_out, length), groups)
            if grad_xp is not None:
                # dL/dcolumns = g @ w, added back onto the input cells
                dcols = torch.matmul(go, w_rows)
                _col2im_add_(grad_xp[part], dcols, g, groups)
            if grad_rows is not None:
                # dL/dw = g^T @ columns, summed over the chunk, computed
                # as (columns^T @ g)^T: faster on the CPU measured
                cols = _im2col(xp[part], g, groups)
                grad_rows += torch.matmul(cols.mT, go).mT
        if grad_xp is not None:  # the input's cells, channels first again
            grad_x = _unpadded_first(grad_xp, g, h, w)
        if grad_rows is not None:
            grad_w = _weight_from_rows(grad_rows, weight.shape)
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
