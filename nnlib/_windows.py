"""The sliding windows that convolution and pooling share: where they lie (output size,
padding, the geometry record), the batch dim they need, and one strided view, no copy."""

from __future__ import annotations

from typing import NamedTuple

import torch

from nnlib._validation import check_floating


def output_size(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length along one axis, PyTorch's formula for convolution and pooling:

    floor((size + padding - dilation (kernel - 1) - 1) / stride) + 1, ``padding`` the total of
    both sides (an int pads each side by that much; a pair is (before, after)). With
    ``ceil_mode`` (pooling) the division rounds up, but the last window must still start
    inside the input or its padding before it.
    """
    before, after = (padding, padding) if isinstance(padding, int) else padding
    span = size + before + after - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + before:
        out -= 1
    return out


class Geometry(NamedTuple):
    """Where the windows lie, per axis (height, width): each output position (i, j) reads
    the padded input at rows ``stride[0] i + dilation[0] a`` for kernel offsets a."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    before: tuple[int, int]  # padding above and to the left
    after: tuple[int, int]  # padding below and to the right (ceil_mode may need more)
    out: tuple[int, int]

    def pad(self, x: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """(N, C, H, W) -> the input inside its padding, filled with ``fill``; the input
        itself where there is no padding and its memory is contiguous."""
        (top, left), (bottom, right) = self.before, self.after
        if top == left == bottom == right == 0 and x.is_contiguous():
            return x
        n, c, h, w = x.shape
        padded = x.new_full((n, c, top + h + bottom, left + w + right), fill)
        padded[:, :, top : top + h, left : left + w] = x
        return padded

    def crop(self, padded: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """The inverse of :meth:`pad`: the (H, W) input cells of a padded plane."""
        top, left = self.before
        return padded[:, :, top : top + h, left : left + w]


def windows(padded: torch.Tensor, g: Geometry) -> torch.Tensor:
    """(N, C, Hp, Wp) -> view (N, C, k_h, k_w, out_h, out_w) of the same memory: element
    ``[n, c, a, b, i, j]`` is ``padded[n, c, s_h i + d_h a, s_w j + d_w b]``, what kernel offset
    (a, b) sees at output position (i, j)."""
    s0, s1, s2, s3 = padded.stride()
    return padded.as_strided(
        (padded.shape[0], padded.shape[1], *g.kernel, *g.out),
        (s0, s1, s2 * g.dilation[0], s3 * g.dilation[1], s2 * g.stride[0], s3 * g.stride[1]),
    )


def batched(input: object) -> tuple[torch.Tensor, bool]:
    """A floating (C, H, W) or (N, C, H, W) input as (N, C, H, W), and whether it had no
    batch dim (the caller removes it from the result)."""
    x = check_floating(input, "input")
    if x.dim() not in (3, 4):
        raise ValueError(
            f"input must be 3-d (C, H, W) or 4-d (N, C, H, W); got shape {tuple(x.shape)}"
        )
    return (x.unsqueeze(0), True) if x.dim() == 3 else (x, False)
