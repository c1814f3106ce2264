"""The window geometry that conv and pooling share (nnlib/_windows.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nnlib._windows import Geometry, batched, output_size, windows


def test_output_size_defaults_are_torchs():
    x = torch.zeros(1, 1, 9, 9)
    assert output_size(9, 3) == F.conv2d(x, torch.zeros(1, 1, 3, 3)).shape[-1] == 7
    assert output_size(9, 3, 2) == F.max_pool2d(x, 3, 2).shape[-1] == 4


@pytest.mark.parametrize(
    ("before", "after"),
    [((1, 0), (0, 0)), ((0, 1), (0, 0)), ((0, 0), (1, 0)), ((0, 0), (0, 1)), ((1, 1), (1, 1))],
)
def test_pad_pads_every_side_it_is_given_and_crop_undoes_it(before, after):
    g = Geometry((1, 1), (1, 1), (1, 1), before, after, (0, 0))
    x = torch.arange(6.0).reshape(1, 1, 2, 3)
    padded = g.pad(x, fill=-1.0)
    expected = F.pad(x, (before[1], after[1], before[0], after[0]), value=-1.0)
    torch.testing.assert_close(padded, expected)
    torch.testing.assert_close(g.crop(padded, 2, 3), x)


def test_pad_returns_a_contiguous_input_itself_and_copies_another():
    g = Geometry((1, 1), (1, 1), (1, 1), (0, 0), (0, 0), (0, 0))
    x = torch.randn(1, 2, 3, 4)
    assert g.pad(x) is x
    transposed = x.transpose(2, 3)
    padded = g.pad(transposed)
    assert padded.is_contiguous()
    torch.testing.assert_close(padded, transposed)


def test_windows_are_what_each_kernel_offset_sees():
    x = torch.arange(30.0).reshape(1, 1, 5, 6)
    g = Geometry((2, 3), (2, 1), (1, 2), (0, 0), (0, 0), (2, 2))
    view = windows(x, g)
    assert view.shape == (1, 1, 2, 3, 2, 2)
    for a in range(2):
        for b in range(3):
            for i in range(2):
                for j in range(2):
                    assert view[0, 0, a, b, i, j] == x[0, 0, 2 * i + a, j + 2 * b]


def test_batched_adds_and_reports_the_batch_dim():
    x = torch.zeros(2, 3, 4)
    y, unbatched = batched(x)
    assert y.shape == (1, 2, 3, 4) and unbatched
    assert batched(y) == (y, False)
    with pytest.raises(ValueError, match=r"^input must be 3-d \(C, H, W\) or 4-d"):
        batched(torch.zeros(3, 4))
    with pytest.raises(TypeError, match=r"^input must be a floating-point tensor"):
        batched(torch.zeros(2, 3, 4, dtype=torch.long))
