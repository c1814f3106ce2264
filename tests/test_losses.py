"""nnlib.losses against torch.nn.functional: values, gradients, errors, devices."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd import gradcheck, gradgradcheck

from nnlib import losses

PAIRS = [(losses.l1_loss, F.l1_loss), (losses.mse_loss, F.mse_loss)]
IDS = ["l1_loss", "mse_loss"]
REDUCTIONS = ["none", "mean", "sum"]
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-6), torch.float64: dict(rtol=1e-12, atol=1e-12)}


def _compare(ours, theirs, x, y, reduction, **tol):
    """Values and gradients (for input and target) of `ours` equal those of `theirs`."""
    results = []
    for fn in (ours, theirs):
        xi = x.detach().clone().requires_grad_(True)
        yi = y.detach().clone().requires_grad_(True)
        out = fn(xi, yi, reduction=reduction)
        weights = torch.linspace(-1.0, 2.0, out.numel(), dtype=out.dtype).reshape(out.shape)
        (out * weights.to(out.device)).sum().backward()
        results.append((out.detach(), xi.grad, yi.grad))
    for ours_t, theirs_t in zip(*results, strict=True):
        torch.testing.assert_close(ours_t, theirs_t, equal_nan=True, **tol)
    return results[0][0]


def test_source_article_example():
    """The L1Loss example: input [1, 2, 3], target [1, 2, 5], dtype=float."""
    x = torch.tensor([1, 2, 3], dtype=float)
    y = torch.tensor([1, 2, 5], dtype=float)
    assert repr(losses.l1_loss(x, y)) == "tensor(0.6667, dtype=torch.float64)"
    assert repr(losses.l1_loss(x, y, reduction="sum")) == "tensor(2., dtype=torch.float64)"
    assert losses.l1_loss(x, y).item() == pytest.approx(2 / 3, rel=1e-15)
    assert losses.mse_loss(x, y).item() == pytest.approx(4 / 3, rel=1e-15)
    assert losses.mse_loss(x, y, reduction="sum").item() == 4.0
    assert losses.l1_loss(x, y, reduction="none").tolist() == [0.0, 0.0, 2.0]


shapes = st.lists(st.integers(min_value=0, max_value=4), min_size=0, max_size=4).map(tuple)


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=40, deadline=None)
@given(
    shape=shapes,
    dtype=st.sampled_from([torch.float32, torch.float64]),
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
    seed=st.integers(0, 2**16),
)
def test_matches_torch_on_random_shapes(ours, theirs, reduction, shape, dtype, scale, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype) * scale
    y = torch.randn(shape, generator=g, dtype=dtype) * scale
    _compare(ours, theirs, x, y, reduction, **TOL[dtype])


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_torch_on_non_contiguous_input(ours, theirs, reduction):
    base = torch.randn(6, 8, dtype=torch.float64)
    x = base.t()[::2]  # transposed and strided
    y = torch.randn(8, 6, dtype=torch.float64)[::2]
    assert not x.is_contiguous()
    _compare(ours, theirs, x, y, reduction, **TOL[torch.float64])


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
def test_empty_and_single_element(ours, theirs):
    empty = torch.empty(0, 3)
    out = _compare(ours, theirs, empty, empty, "mean")
    assert torch.isnan(out)  # mean of nothing is nan, as in torch
    one = torch.tensor([2.5])
    _compare(ours, theirs, one, torch.tensor([-1.0]), "sum")


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
def test_mixed_dtypes_promote_like_torch(ours, theirs):
    x = torch.tensor([1.0, 2.0, 3.0])
    y = torch.tensor([1.0, 2.5, 5.0], dtype=torch.float64)
    got, want = ours(x, y), theirs(x, y)
    assert got.dtype == want.dtype == torch.float64
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
@pytest.mark.parametrize("value", [1e4, 1e30, -1e30])
def test_extreme_values_match_torch(ours, theirs, value):
    x = torch.tensor([value, 0.0, -value])
    y = torch.zeros(3)
    for reduction in REDUCTIONS:
        torch.testing.assert_close(
            ours(x, y, reduction=reduction), theirs(x, y, reduction=reduction)
        )


def test_l1_gradient_at_zero_error_is_zero_like_torch():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    losses.l1_loss(x, torch.tensor([1.0, 0.0]), reduction="sum").backward()
    assert x.grad.tolist() == [0.0, 1.0]


@pytest.mark.parametrize("fn", [losses.l1_loss, losses.mse_loss], ids=IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck(fn, reduction):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True)
    # keep |x - y| away from 0, where |.| has no derivative
    y = x.detach() + 0.5 * torch.sign(torch.randn(3, 4, dtype=torch.float64, generator=g))
    y.requires_grad_(True)
    assert gradcheck(lambda a, b: fn(a, b, reduction=reduction), (x, y))
    assert gradgradcheck(lambda a, b: fn(a, b, reduction=reduction), (x, y))


def test_mse_second_derivative_is_two_over_n():
    x = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    y = torch.zeros(3, dtype=torch.float64)
    (grad,) = torch.autograd.grad(losses.mse_loss(x, y), x, create_graph=True)
    (hess_diag,) = torch.autograd.grad(grad.sum(), x)
    torch.testing.assert_close(hess_diag, torch.full((3,), 2 / 3, dtype=torch.float64))


@pytest.mark.parametrize("name", ["l1", "mse"])
def test_registry_derivative_equals_autograd(name):
    spec = losses.REGRESSION_LOSSES[name]
    e = torch.tensor([-3.0, -0.5, 0.25, 2.0], dtype=torch.float64, requires_grad=True)
    spec.elementwise(e).sum().backward()
    torch.testing.assert_close(spec.elementwise_derivative(e.detach()), e.grad)
    torch_fn = getattr(F, spec.torch_name)
    torch.testing.assert_close(
        spec.elementwise(e.detach()),
        torch_fn(e.detach(), torch.zeros(4, dtype=torch.float64), reduction="none"),
    )


def test_registry_facts():
    reg = losses.REGRESSION_LOSSES
    assert not reg["l1"].smooth and reg["l1"].gradient_bounded
    assert reg["mse"].smooth and not reg["mse"].gradient_bounded


@pytest.mark.parametrize("fn", [losses.l1_loss, losses.mse_loss], ids=IDS)
def test_runs_on_each_device_and_keeps_dtype(fn, device):
    for dtype in (torch.float32, torch.float64):
        if device.type == "mps" and dtype == torch.float64:
            continue
        x = torch.tensor([1.0, 2.0, 3.0], dtype=dtype, device=device, requires_grad=True)
        y = torch.tensor([1.0, 2.0, 5.0], dtype=dtype, device=device)
        out = fn(x, y)
        out.backward()
        assert out.device == x.grad.device == x.device and out.dtype == dtype


@pytest.mark.gpu
@pytest.mark.parametrize("fn", [losses.l1_loss, losses.mse_loss], ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_cuda_matches_cpu(fn, dtype):
    torch_fn = getattr(F, fn.__name__)
    x = torch.randn(1000, dtype=dtype, device="cuda")
    y = torch.randn(1000, dtype=dtype, device="cuda")
    torch.testing.assert_close(fn(x, y), torch_fn(x, y))
    torch.testing.assert_close(
        fn(x, y).cpu().double(), fn(x.cpu().double(), y.cpu().double()), rtol=1e-2, atol=1e-2
    )


@pytest.mark.parametrize("fn", [losses.l1_loss, losses.mse_loss], ids=IDS)
class TestErrors:
    def test_bad_reduction(self, fn):
        x = torch.zeros(3)
        with pytest.raises(ValueError) as info:
            fn(x, x, reduction="avg")
        assert str(info.value) == "reduction must be one of 'none', 'mean', 'sum'; got 'avg'"

    def test_mismatched_shapes(self, fn):
        with pytest.raises(ValueError) as info:
            fn(torch.zeros(3), torch.zeros(3, 1))
        assert str(info.value) == "target must have the same shape as input (3,); got (3, 1)"

    def test_integer_input(self, fn):
        with pytest.raises(
            TypeError, match=r"^input must be a floating-point tensor .*got dtype torch.int64$"
        ):
            fn(torch.tensor([1, 2, 3]), torch.tensor([1.0, 2.0, 5.0]))

    def test_integer_target(self, fn):
        with pytest.raises(
            TypeError, match=r"^target must be a floating-point tensor .*got dtype torch.int64$"
        ):
            fn(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1, 2, 5]))

    def test_not_a_tensor(self, fn):
        with pytest.raises(
            TypeError, match=r"^input must be a torch.Tensor; got \[1.0\] \(list\)$"
        ):
            fn([1.0], torch.zeros(1))

    def test_different_devices(self, fn):
        with pytest.raises(
            ValueError, match=r"^target must be on the same device as input \(cpu\); got meta$"
        ):
            fn(torch.zeros(2), torch.zeros(2, device="meta"))
