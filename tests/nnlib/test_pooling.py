"""nnlib.pooling against torch: values, indices, gradients, ties, conservation, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd import gradcheck, gradgradcheck

from nnlib import pooling as P


@st.composite
def max_geometries(draw, dilation=True):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    eff = [d[i] * (k[i] - 1) + 1 for i in (0, 1)]
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    s = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    h = draw(st.integers(max(1, eff[0] - 2 * p[0]), 9))
    w = draw(st.integers(max(1, eff[1] - 2 * p[1]), 9))
    return dict(k=k, s=s, p=p, d=d, ceil=draw(st.booleans()), hw=(h, w))


def _has_empty_window(geo) -> bool:
    """Whether some window covers no input cell, computed independently of nnlib."""
    for a in (0, 1):
        size, k, p, d = geo["hw"][a], geo["k"][a], geo["p"][a], geo["d"][a]
        s = k if geo["s"] is None else geo["s"][a]
        out = F.max_pool2d(torch.zeros(1, 1, *geo["hw"]), geo["k"], geo["s"], geo["p"],
                           geo["d"], geo["ceil"]).shape[-2:][a]  # fmt: skip
        if any(all(not 0 <= o * s + j * d - p < size for j in range(k)) for o in range(out)):
            return True
    return False


def _grads(fn, x, g):
    x = x.detach().clone().requires_grad_(True)
    out = fn(x)
    y = out[0] if isinstance(out, tuple) else out
    (grad,) = torch.autograd.grad(y, x, g)
    return out, grad


@settings(max_examples=150, deadline=None)
@given(geo=max_geometries(), dtype=st.sampled_from([torch.float32, torch.float64]),
       batched=st.booleans(), seed=st.integers(0, 2**16))  # fmt: skip
def test_max_pool_matches_torch(geo, dtype, batched, seed):
    gen = torch.Generator().manual_seed(seed)
    shape = ((2,) if batched else ()) + (3,) + geo["hw"]
    x = torch.randn(shape, generator=gen, dtype=dtype)
    args = (geo["k"], geo["s"], geo["p"], geo["d"], geo["ceil"], True)
    yb, ib = F.max_pool2d(x, *args)
    if _has_empty_window(geo):
        # torch reports an index outside the window (or the input) for a window that holds
        # only padding; nnlib refuses such a geometry
        with pytest.raises(ValueError, match="must cover at least one input cell"):
            P.max_pool2d(x, *args)
        return
    ya, ia = P.max_pool2d(x, *args)
    assert torch.equal(ya, yb) and torch.equal(ia, ib)
    g = torch.randn(ya.shape, generator=gen, dtype=dtype)
    _, grad_a = _grads(lambda v: P.max_pool2d(v, *args), x, g)
    _, grad_b = _grads(lambda v: F.max_pool2d(v, *args), x, g)
    torch.testing.assert_close(grad_a, grad_b)
    torch.testing.assert_close(grad_a.sum(), g.sum())  # every output gradient lands once


@settings(max_examples=150, deadline=None)
@given(geo=max_geometries(dilation=False), dtype=st.sampled_from([torch.float32, torch.float64]),
       include_pad=st.booleans(), override=st.sampled_from([None, 1, 3]),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_avg_pool_matches_torch(geo, dtype, include_pad, override, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((2, 3) + geo["hw"], generator=gen, dtype=dtype)
    args = (geo["k"], geo["s"], geo["p"], geo["ceil"], include_pad, override)
    ya, yb = P.avg_pool2d(x, *args), F.avg_pool2d(x, *args)
    torch.testing.assert_close(ya, yb)
    g = torch.randn(ya.shape, generator=gen, dtype=dtype)
    _, grad_a = _grads(lambda v: P.avg_pool2d(v, *args), x, g)
    _, grad_b = _grads(lambda v: F.avg_pool2d(v, *args), x, g)
    torch.testing.assert_close(grad_a, grad_b)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_avg_pool_conserves_the_gradient_sum_when_windows_tile_the_input(k):
    x = torch.randn(2, 3, 3 * k, 2 * k, dtype=torch.float64, requires_grad=True)
    y = P.avg_pool2d(x, k)
    g = torch.randn_like(y)
    y.backward(g)
    torch.testing.assert_close(x.grad.sum(), g.sum())
    # each cell gets exactly its window's gradient / k^2
    torch.testing.assert_close(x.grad, g.repeat_interleave(k, -2).repeat_interleave(k, -1) / k**2)


def test_max_pool_ties_go_to_the_first_position_like_torch():
    x = torch.zeros(1, 1, 4, 4, requires_grad=True)
    y, idx = P.max_pool2d(x, 2, return_indices=True)
    assert idx.flatten().tolist() == [0, 2, 8, 10]
    assert torch.equal(idx, F.max_pool2d(x, 2, return_indices=True)[1])
    y.sum().backward()
    expected = torch.zeros(4, 4)
    expected[0, 0] = expected[0, 2] = expected[2, 0] = expected[2, 2] = 1
    assert torch.equal(x.grad[0, 0], expected)


def test_overlapping_windows_add_their_gradients():
    x = torch.tensor([[[[0.0, 1.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 0.0]]]], requires_grad=True)
    y = P.max_pool2d(x, 2, stride=1)  # the 5 wins all four windows
    y.sum().backward()
    assert x.grad[0, 0, 1, 1].item() == 4.0 and x.grad.sum().item() == 4.0


@pytest.mark.parametrize("fill", [float("-inf"), float("nan")])
def test_special_values_match_torch(fill):
    x = torch.randn(1, 2, 5, 5)
    x[0, 0, 1:3, 1:3] = fill
    x[0, 1] = float("-inf")
    for args in [(3, 1, 1), (2, 2, 1, 1, True), (3, 2, 1, 2)]:
        a, ia = P.max_pool2d(x, *args, return_indices=True)
        b, ib = F.max_pool2d(x, *args, return_indices=True)
        torch.testing.assert_close(a, b, equal_nan=True)
        assert torch.equal(ia, ib), args


def test_gradcheck_and_gradgradcheck():
    x = torch.randperm(2 * 3 * 6 * 5).reshape(2, 3, 6, 5).double().div(7).requires_grad_(True)
    assert gradcheck(lambda v: P.max_pool2d(v, 3, 2, 1), (x,))
    assert gradgradcheck(lambda v: P.max_pool2d(v, 3, 2, 1), (x,))
    assert gradcheck(lambda v: P.avg_pool2d(v, 3, 2, 1, True, False), (x,))
    assert gradgradcheck(lambda v: P.avg_pool2d(v, 3, 2, 1, True, False), (x,))


def test_non_contiguous_and_channels_last_input():
    x = torch.randn(2, 8, 9, 3).permute(0, 3, 1, 2)
    assert not x.is_contiguous()
    torch.testing.assert_close(P.max_pool2d(x, 2), F.max_pool2d(x, 2))
    x = torch.randn(2, 3, 8, 8).to(memory_format=torch.channels_last)
    torch.testing.assert_close(P.avg_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1))


def test_output_size_formula():
    for size, k, s, p, d, ceil in [(7, 2, 2, 0, 1, False), (7, 2, 2, 0, 1, True),
                                   (5, 3, 2, 1, 1, True), (6, 3, 3, 1, 2, True)]:  # fmt: skip
        x = torch.zeros(1, 1, size, size)
        expected = F.max_pool2d(x, k, s, p, d, ceil).shape[-1]
        assert P.output_size(size, k, s, p, d, ceil) == expected


def test_modules():
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(P.MaxPool2d(2)(x), torch.nn.MaxPool2d(2)(x))
    torch.testing.assert_close(P.AvgPool2d(3, 1, 1)(x), torch.nn.AvgPool2d(3, 1, 1)(x))
    assert "kernel_size=2" in repr(P.MaxPool2d(2))


# Each argument a module passes on, and each default, changes this input's result (7 is odd,
# so ceil_mode adds a window; found by mutation testing, which flipped them one at a time).
MODULE_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=2, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, divisor_override=5),
]  # fmt: skip


@pytest.mark.parametrize("kwargs", MODULE_CASES)
def test_avg_pool_module_matches_torch_with_every_argument(kwargs):
    x = torch.randn(2, 3, 7, 7, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(P.AvgPool2d(**kwargs)(x), torch.nn.AvgPool2d(**kwargs)(x))


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=3, stride=1), dict(kernel_size=3, padding=1),
    dict(kernel_size=2, dilation=2), dict(kernel_size=2, ceil_mode=True),
])  # fmt: skip
def test_max_pool_module_matches_torch_with_every_argument(kwargs):
    x = torch.randn(2, 3, 7, 7, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(P.MaxPool2d(**kwargs)(x), torch.nn.MaxPool2d(**kwargs)(x))
    values, indices = P.MaxPool2d(**kwargs, return_indices=True)(x)
    torch_values, torch_indices = torch.nn.MaxPool2d(**kwargs, return_indices=True)(x)
    assert torch.equal(values, torch_values) and torch.equal(indices, torch_indices)


def test_module_reprs_list_every_argument():
    assert repr(P.MaxPool2d(2)) == ("MaxPool2d(kernel_size=2, stride=None, padding=0, dilation=1, "
                                    "ceil_mode=False, return_indices=False)")  # fmt: skip
    assert repr(P.AvgPool2d(3, 1)) == ("AvgPool2d(kernel_size=3, stride=1, padding=0, "
                                       "ceil_mode=False, count_include_pad=True, "
                                       "divisor_override=None)")  # fmt: skip


@pytest.mark.parametrize("stride", [None, [], ()])
def test_an_empty_stride_means_the_kernel_size_like_torch(stride):
    x = torch.randn(1, 2, 6, 6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(P.max_pool2d(x, 2, stride), F.max_pool2d(x, 2, stride or None))
    torch.testing.assert_close(P.avg_pool2d(x, 2, stride), F.avg_pool2d(x, 2, stride or None))
    assert P.max_pool2d(x, 2, stride).shape == (1, 2, 3, 3)


def test_unbatched_input_keeps_its_channels_like_torch():
    x = torch.randn(3, 6, 6, generator=torch.Generator().manual_seed(0))
    for ours, theirs in [(P.max_pool2d, F.max_pool2d), (P.avg_pool2d, F.avg_pool2d)]:
        got, want = ours(x, 2), theirs(x, 2)
        assert got.shape == want.shape == (3, 3, 3)
        torch.testing.assert_close(got, want)


def test_runs_on_the_inputs_device(device):
    x = torch.randn(2, 3, 6, 6, device=device, requires_grad=True)
    y = P.max_pool2d(x, 2) + P.avg_pool2d(x, 2)
    y.sum().backward()
    assert y.device == x.grad.device == x.device


def _assert_within_eps(got, exact, k, eps):
    """``got`` (half precision) is within k eps of ``exact`` (float64), relative to max(|exact|, 1)."""
    error = ((got.double() - exact).abs() / (exact.abs().clamp(min=1.0) * eps)).max().item()
    assert error <= k, f"{error:.2f} eps from the exact result (allowed {k})"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_on_cpu_is_as_exact_as_the_format_allows(dtype):
    """float16 and bfloat16 on the CPU, against the float64 result on the same rounded inputs.

    Max pooling selects, so its values are exact and equal to torch's; its gradient routes to
    the same cells as torch's, where up to four overlapping windows add their rounded terms
    (measured: 2 eps from exact; torch's own 4). Average pooling sums nine rounded terms and
    divides (measured: 0.7 eps; torch's 0.5). Allowed: 4 eps and 2 eps, eps the format's.
    """
    eps = torch.finfo(dtype).eps
    x = torch.randn(4, 8, 17, 16, generator=torch.Generator().manual_seed(0)).to(dtype)
    for fn, k in [(P.max_pool2d, 4), (P.avg_pool2d, 2)]:
        torch_fn = getattr(F, fn.__name__)
        xa = x.clone().requires_grad_(True)
        a = fn(xa, 3, 2, 1, ceil_mode=True)
        assert a.dtype == dtype
        weights = torch.randn(a.shape, generator=torch.Generator().manual_seed(1)).to(dtype)
        (ga,) = torch.autograd.grad((a * weights).sum(), xa)
        x64 = x.double().requires_grad_(True)
        exact = torch_fn(x64, 3, 2, 1, ceil_mode=True)
        (g64,) = torch.autograd.grad((exact * weights.double()).sum(), x64)
        _assert_within_eps(a, exact, k, eps)
        _assert_within_eps(ga, g64, k, eps)
        if fn is P.max_pool2d:
            assert torch.equal(a, torch_fn(x, 3, 2, 1, ceil_mode=True))
            assert torch.equal(ga != 0, g64 != 0)  # routed to the same cells


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_cuda_matches_torch(dtype):
    x = torch.randn(4, 8, 17, 16, device="cuda", dtype=dtype, requires_grad=True)
    for fn_a, fn_b in [(P.max_pool2d, F.max_pool2d), (P.avg_pool2d, F.avg_pool2d)]:
        a = fn_a(x, 3, 2, 1, ceil_mode=True)
        b = fn_b(x, 3, 2, 1, ceil_mode=True)
        torch.testing.assert_close(a, b)
        (ga,) = torch.autograd.grad(a.float().sum(), x)
        (gb,) = torch.autograd.grad(b.float().sum(), x)
        torch.testing.assert_close(ga, gb)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda x: P.max_pool2d(x, 7), ValueError,
         r"^kernel_size must fit in the padded input: the height window spans 7 but the padded height is 5$"),
        (lambda x: P.max_pool2d(x, 3, 1, 1, 4), ValueError,
         r"^kernel_size must fit in the padded input: the height window spans 9"),
        (lambda x: P.max_pool2d(x, 2, padding=2), ValueError,
         r"^padding must be at most half of kernel_size \(2\) along the height; got padding=2$"),
        (lambda x: P.avg_pool2d(x, 3, padding=(1, 2)), ValueError,
         r"^padding must be at most half of kernel_size \(3\) along the width; got padding=2$"),
        (lambda x: P.max_pool2d(x[:, :, :1], (2, 1), padding=(1, 0), dilation=(2, 1)), ValueError,
         r"^every pooling window must cover at least one input cell; along the height, window 0 covers only padding"),
        (lambda x: P.max_pool2d(x[:, :, :1], (4, 1), padding=(1, 0)), ValueError,
         r"^kernel_size must fit in the padded input: the height window spans 4 but the padded height is 3$"),
        (lambda x: P.max_pool2d(x, 0), ValueError, r"^kernel_size must be in \[1, inf\]; got 0$"),
        (lambda x: P.max_pool2d(x, (0, 2)), ValueError, r"^kernel_size must be in \[1, inf\]; got 0$"),
        (lambda x: P.max_pool2d(x, (2, 0)), ValueError, r"^kernel_size must be in \[1, inf\]; got 0$"),
        (lambda x: P.max_pool2d(x, 2, padding=-1), ValueError, r"^padding must be in \[0, inf\]; got -1$"),
        (lambda x: P.max_pool2d(x, 2, padding=(-1, 0)), ValueError,
         r"^padding must be in \[0, inf\]; got -1$"),
        (lambda x: P.max_pool2d(x, 2, padding=(0, -1)), ValueError,
         r"^padding must be in \[0, inf\]; got -1$"),
        (lambda x: P.max_pool2d(x, 2, dilation=0), ValueError, r"^dilation must be in \[1, inf\]; got 0$"),
        (lambda x: P.max_pool2d(x, 2, stride=(1, 0)), ValueError, r"^stride must be in \[1, inf\]; got 0$"),
        (lambda x: P.avg_pool2d(x, 2, count_include_pad=1), TypeError,
         r"^count_include_pad must be a bool; got 1$"),
        (lambda x: P.max_pool2d(x, 2, stride=0), ValueError, r"^stride must be in \[1, inf\]; got 0$"),
        (lambda x: P.max_pool2d(x, (2, 2, 2)), ValueError, r"^kernel_size must be an int or a pair"),
        (lambda x: P.max_pool2d(x, 2.5), TypeError, r"^kernel_size must be an integer; got 2.5"),
        (lambda x: P.max_pool2d(x, 2, ceil_mode=1), TypeError, r"^ceil_mode must be a bool; got 1$"),
        (lambda x: P.avg_pool2d(x, 2, divisor_override=0), ValueError,
         r"^divisor_override must be in \[1, inf\]; got 0$"),
        (lambda x: P.max_pool2d(x[0, 0], 2), ValueError,
         r"^input must be 3-d \(C, H, W\) or 4-d \(N, C, H, W\); got shape \(5, 5\)$"),
        (lambda x: P.avg_pool2d(x.long(), 2), TypeError,
         r"^input must be a floating-point tensor .*got dtype torch.int64$"),
    ],
)  # fmt: skip
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call(torch.randn(1, 1, 5, 5))
