r"""2-D max and average pooling written from scratch, with explicit backward passes.

Same names and signatures as :func:`torch.nn.functional.max_pool2d` and
:func:`~torch.nn.functional.avg_pool2d`. Both are vectorised: the input is padded once, a
strided view (``as_strided``) exposes every pooling window as two extra dimensions; max
pooling reduces over them, and average pooling adds up their k_h k_w slices, one per kernel
offset. Nothing loops over pixels.

* Max pooling routes each output gradient to the position of its window's maximum (the
  first one in row-major window order on ties, as PyTorch), by ``scatter_add``: windows
  that overlap add up.
* Average pooling spreads each output gradient equally, ``g / divisor``, over its window.

Either way the gradient sum is conserved: :math:`\sum \partial L/\partial x =
\sum \partial L/\partial y` for max pooling, and for average pooling when every window's
divisor counts exactly its elements.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.autograd import Function

from nnlib._validation import Size2, check_int, check_pair
from nnlib._windows import Geometry, batched, output_size, windows

__all__ = ["max_pool2d", "avg_pool2d", "output_size", "MaxPool2d", "AvgPool2d"]


def _geometry(x, kernel_size, stride, padding, dilation, ceil_mode) -> Geometry:
    kernel = check_pair(kernel_size, "kernel_size", 1)
    stride = (
        kernel
        if stride is None or stride == [] or stride == ()
        else check_pair(stride, "stride", 1)
    )
    padding = check_pair(padding, "padding", 0)
    dilation = check_pair(dilation, "dilation", 1)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be a bool; got {ceil_mode!r}")
    out, after = [], []
    for axis, size in zip(("height", "width"), x.shape[-2:], strict=True):
        a = 0 if axis == "height" else 1
        k, s, p, d = kernel[a], stride[a], padding[a], dilation[a]
        effective = d * (k - 1) + 1
        if 2 * p > k:
            raise ValueError(
                f"padding must be at most half of kernel_size ({k}) along the {axis}; "
                f"got padding={p}"
            )
        if effective > size + 2 * p:
            raise ValueError(
                f"kernel_size must fit in the padded input: the {axis} window spans "
                f"{effective} but the padded {axis} is {size + 2 * p}"
            )
        o = output_size(size, k, s, p, d, ceil_mode)
        empty = [i for i in range(o) if not any(0 <= i * s + j * d - p < size for j in range(k))]
        if empty:
            raise ValueError(
                f"every pooling window must cover at least one input cell; along the {axis}, "
                f"window {empty[0]} covers only padding (kernel_size={k}, dilation={d}, "
                f"padding={p}, input size {size})"
            )
        out.append(o)
        after.append(max(p, (o - 1) * s + effective - size - p))  # ceil_mode may need more
    return Geometry(kernel, stride, dilation, padding, (after[0], after[1]), (out[0], out[1]))


def _windows(x: torch.Tensor, g: Geometry, fill: float) -> torch.Tensor:
    """(N, C, H, W) -> strided view (N, C, out_h, out_w, k_h, k_w) of the padded input."""
    return windows(g.pad(x, fill), g).permute(0, 1, 4, 5, 2, 3)


def _offset_views(padded: torch.Tensor, g: Geometry) -> Iterator[torch.Tensor]:
    """The k_h k_w views (N, C, out_h, out_w) of a padded plane, one per kernel offset (a, b):
    the cell that offset sees in every window, ``padded[..., s_h i + a, s_w j + b]``. Plain
    slices, each made when it is reached: a backward recorded for double backward adds into
    them in place, which autograd refuses on ``as_strided`` and ``unbind`` views and on views
    made before an earlier one was written."""
    (sh, sw), (oh, ow) = g.stride, g.out
    for a in range(g.kernel[0]):
        for b in range(g.kernel[1]):
            yield padded[:, :, a : a + sh * (oh - 1) + 1 : sh, b : b + sw * (ow - 1) + 1 : sw]


def _axis_positions(g: Geometry, axis: int, size: int, device):
    """Input coordinate of every (output index, kernel offset) along one axis, and the first
    in-bounds coordinate of each window."""
    o = torch.arange(g.out[axis], device=device).unsqueeze(1)
    k = torch.arange(g.kernel[axis], device=device).unsqueeze(0)
    pos = o * g.stride[axis] + k * g.dilation[axis] - g.before[axis]  # (out, k)
    first = torch.where(pos >= 0, pos, pos + g.dilation[axis] * g.kernel[axis] * size)
    return pos, first.amin(dim=1)  # may lie past the input when a window holds no real cell


def _window_cells(g: Geometry, h: int, w: int, device) -> torch.Tensor:
    """(out_h, out_w, k_h k_w): for each window and each of its cells in row-major order,
    that cell's flat index into the (H, W) plane, the same for every example and channel. A
    cell in the padding (or past the input under ceil_mode) maps to the window's first real
    cell in row-major order: a window whose max is -inf may pick padding, and torch then
    reports that first real cell."""
    rows, first_row = _axis_positions(g, 0, h, device)  # (out_h, k_h)
    cols, first_col = _axis_positions(g, 1, w, device)  # (out_w, k_w)
    r, q = rows[:, None, :, None], cols[None, :, None, :]  # (out_h, out_w, k_h, k_w)
    outside = (r < 0) | (r >= h) | (q < 0) | (q >= w)
    r = torch.where(outside, first_row.view(-1, 1, 1, 1), r)
    q = torch.where(outside, first_col.view(1, -1, 1, 1), q)
    return (r * w + q).flatten(2)


class _MaxPool2d(Function):
    """y = max over the window;  dL/dx[argmax] += dL/dy (0 elsewhere)."""

    @staticmethod
    def forward(ctx, x, g):
        n, c, h, w = x.shape
        win = _windows(x, g, float("-inf")).reshape(n, c, g.out[0], g.out[1], -1)
        y, local = win.max(dim=-1)  # the first maximum on ties, as torch
        if torch.isnan(y).any():  # torch keeps the *last* NaN of a window: match it
            nan = win.isnan()
            last_nan = nan.shape[-1] - 1 - nan.flip(-1).to(torch.uint8).argmax(dim=-1)
            local = torch.where(nan.any(dim=-1), last_nan, local)
        cells = _window_cells(g, h, w, x.device).expand(n, c, -1, -1, -1)
        indices = cells.gather(-1, local.unsqueeze(-1)).squeeze(-1)  # the winners' cells
        ctx.save_for_backward(indices)
        ctx.input_shape = x.shape
        ctx.mark_non_differentiable(indices)
        return y, indices

    @staticmethod
    def backward(ctx, grad_out, _grad_indices):
        (indices,) = ctx.saved_tensors
        n, c, h, w = ctx.input_shape
        grad = grad_out.new_zeros(n, c, h * w)
        winners = indices.reshape(n, c, -1)  # each output's input position
        grad.scatter_add_(2, winners, grad_out.reshape(n, c, -1))
        return grad.reshape(n, c, h, w), None


def _avg_divisor(g: Geometry, size_hw, count_include_pad: bool, override, device, dtype):
    """Divisor of every output position, torch's rule: windows clipped to the padded input
    (count_include_pad) or to the input itself."""
    if override is not None:
        return torch.tensor(float(override), dtype=dtype, device=device)
    counts = []
    for a in (0, 1):
        start = torch.arange(g.out[a], device=device) * g.stride[a] - g.before[a]
        end = torch.clamp(start + g.kernel[a], max=size_hw[a] + g.before[a])
        pool = end - start
        inside = torch.clamp(end, max=size_hw[a]) - torch.clamp(start, min=0)
        counts.append(pool if count_include_pad else inside)
    return (counts[0].view(-1, 1) * counts[1].view(1, -1)).to(dtype)


class _AvgPool2d(Function):
    """y = sum over the window / divisor;  dL/dx += dL/dy / divisor for every cell of the window."""

    @staticmethod
    def forward(ctx, x, g, divisor):
        # the window sums as the k_h k_w shifted, strided views added up, a loop over kernel
        # offsets like the backward's for overlapping windows: a sum over the tiny, strided
        # window dims made forward + backward 1.6-2.7x slower on the CPU (kernels 3 and 2)
        cells = _offset_views(g.pad(x), g)
        total = next(cells).clone()
        for cell in cells:
            total += cell
        y = total.div_(divisor)
        ctx.save_for_backward(divisor)
        ctx.geometry, ctx.input_shape = g, x.shape
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (divisor,) = ctx.saved_tensors
        g, (n, c, h, w) = ctx.geometry, ctx.input_shape
        share = grad_out / divisor
        (top, left), (bottom, right) = g.before, g.after
        (sh, sw), (kh, kw) = g.stride, g.kernel
        grad = grad_out.new_zeros(n, c, top + h + bottom, left + w + right)
        oh, ow = g.out
        if (sh, sw) == (kh, kw):  # the windows do not overlap: each cell of the padded
            # plane's top-left out_h k_h x out_w k_w block gets its window's share, written in
            # one pass through a (N, C, out_h, k_h, out_w, k_w) view of grad; cells outside
            # the block keep 0
            tiles = grad[:, :, : oh * kh, : ow * kw].unflatten(3, (ow, kw)).unflatten(2, (oh, kh))
            tiles.copy_(share[:, :, :, None, :, None])
            return g.crop(grad, h, w), None, None
        for cell in _offset_views(grad, g):  # a loop over kernel offsets, not over pixels
            cell += share
        return g.crop(grad, h, w), None, None


def max_pool2d(
    input: torch.Tensor,
    kernel_size: Size2,
    stride: Size2 | None = None,
    padding: Size2 = 0,
    dilation: Size2 = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""2-D max pooling: each output is the maximum of a ``kernel_size`` window.

    .. math::
        y_{n,c,i,j} = \max_{a < k_h,\ b < k_w}
            x_{n,c,\ s_h i + d_h a - p_h,\ s_w j + d_w b - p_w}

    Padding counts as :math:`-\infty`. The backward pass sends each output's gradient to
    the input position of its maximum only (ties: the first in row-major window order, as
    PyTorch); overlapping windows add their gradients. ``return_indices`` also returns
    those positions as flat indices into each :math:`H \times W` plane.

    Shape: input :math:`(N, C, H, W)` or :math:`(C, H, W)`; output :math:`(N, C, H_{out},
    W_{out})` with :math:`H_{out} = \lfloor (H + 2p - d(k-1) - 1)/s \rfloor + 1` (ceil with
    ``ceil_mode``). ``stride`` defaults to ``kernel_size``; ``padding`` at most half of
    ``kernel_size``.
    """
    x, unbatched = batched(input)
    g = _geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    y, indices = _MaxPool2d.apply(x, g)
    if unbatched:
        y, indices = y.squeeze(0), indices.squeeze(0)
    return (y, indices) if return_indices else y


def avg_pool2d(
    input: torch.Tensor,
    kernel_size: Size2,
    stride: Size2 | None = None,
    padding: Size2 = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> torch.Tensor:
    r"""2-D average pooling: each output is the mean of a ``kernel_size`` window.

    Padding counts as 0. The divisor is the window's size clipped to the padded input
    (``count_include_pad=True``) or the number of real input cells in it (``False``), or
    ``divisor_override``. The backward pass gives every cell of a window an equal share,
    :math:`\partial L/\partial y / \text{divisor}`.

    Shape: as :func:`max_pool2d` (no dilation).
    """
    x, unbatched = batched(input)
    g = _geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    if not isinstance(count_include_pad, bool):
        raise TypeError(f"count_include_pad must be a bool; got {count_include_pad!r}")
    if divisor_override is not None:
        check_int(divisor_override, "divisor_override", minimum=1)
    divisor = _avg_divisor(g, x.shape[-2:], count_include_pad, divisor_override, x.device, x.dtype)
    y = _AvgPool2d.apply(x, g, divisor)
    return y.squeeze(0) if unbatched else y


class MaxPool2d(nn.Module):
    """Module form of :func:`max_pool2d`."""

    def __init__(
        self,
        kernel_size: Size2,
        stride: Size2 | None = None,
        padding: Size2 = 0,
        dilation: Size2 = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kwargs: dict[str, Any] = dict(
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            ceil_mode=ceil_mode,
            return_indices=return_indices,
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        return max_pool2d(input, **self.kwargs)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())


class AvgPool2d(nn.Module):
    """Module form of :func:`avg_pool2d`."""

    def __init__(
        self,
        kernel_size: Size2,
        stride: Size2 | None = None,
        padding: Size2 = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kwargs: dict[str, Any] = dict(
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
            ceil_mode=ceil_mode,
            count_include_pad=count_include_pad,
            divisor_override=divisor_override,
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return avg_pool2d(input, **self.kwargs)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
