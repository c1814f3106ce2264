"""The sliding windows that convolution and pooling share: one strided view, no copy."""

from __future__ import annotations

import torch


def windows(
    padded: torch.Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out: tuple[int, int],
) -> torch.Tensor:
    """(N, C, Hp, Wp) -> view (N, C, k_h, k_w, out_h, out_w) of the same memory: element
    ``[n, c, a, b, i, j]`` is ``padded[n, c, s_h i + d_h a, s_w j + d_w b]``, what kernel offset
    (a, b) sees at output position (i, j)."""
    s0, s1, s2, s3 = padded.stride()
    return padded.as_strided(
        (padded.shape[0], padded.shape[1], kernel[0], kernel[1], out[0], out[1]),
        (s0, s1, s2 * dilation[0], s3 * dilation[1], s2 * stride[0], s3 * stride[1]),
    )
