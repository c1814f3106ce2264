"""nnlib.losses against torch.nn.functional: values, gradients, errors, devices."""

from __future__ import annotations

import importlib
import math
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from hypothesis import event, given, settings
from hypothesis import strategies as st
from torch.autograd import gradcheck, gradgradcheck

from nnlib import activations as A
from nnlib import losses
from tests.nnlib.support import TOL_ELEMENTWISE, assert_matches_torch, compiled_test, shapes

PAIRS = [(losses.l1_loss, F.l1_loss), (losses.mse_loss, F.mse_loss)]
IDS = ["l1_loss", "mse_loss"]
REDUCTIONS = ["none", "mean", "sum"]


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


# Sides from 1: with 0 allowed, a third to a half of the examples were empty tensors, which
# compare nothing. Empty tensors have their own test, test_empty_and_single_element.
LOSS_SHAPES = shapes(min_dims=0, max_dims=4, max_side=4)


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=40, deadline=None)
@given(
    shape=LOSS_SHAPES,
    dtype=st.sampled_from([torch.float32, torch.float64]),
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
    seed=st.integers(0, 2**16),
)
def test_matches_torch_on_random_shapes(ours, theirs, reduction, shape, dtype, scale, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype) * scale
    event("empty tensor" if x.numel() == 0 else "tensor with data")
    y = torch.randn(shape, generator=g, dtype=dtype) * scale
    assert_matches_torch(ours, theirs, x, y, reduction=reduction, **TOL_ELEMENTWISE[dtype])


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_torch_on_non_contiguous_input(ours, theirs, reduction):
    base = torch.randn(6, 8, dtype=torch.float64)
    x = base.t()[::2]  # transposed and strided
    y = torch.randn(8, 6, dtype=torch.float64)[::2]
    assert not x.is_contiguous()
    assert_matches_torch(ours, theirs, x, y, reduction=reduction, **TOL_ELEMENTWISE[torch.float64])


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
def test_empty_and_single_element(ours, theirs):
    empty = torch.empty(0, 3)
    out = assert_matches_torch(ours, theirs, empty, empty, reduction="mean")
    assert torch.isnan(out)  # mean of nothing is nan, as in torch
    for shape in [(0,), (2, 0), (3, 0, 2)]:
        for reduction in REDUCTIONS:
            assert_matches_torch(
                ours, theirs, torch.empty(shape), torch.empty(shape), reduction=reduction
            )
    one = torch.tensor([2.5])
    assert_matches_torch(ours, theirs, one, torch.tensor([-1.0]), reduction="sum")


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
def test_mixed_dtypes_promote_like_torch(ours, theirs):
    x = torch.tensor([1.0, 2.0, 3.0])
    y = torch.tensor([1.0, 2.5, 5.0], dtype=torch.float64)
    got, want = ours(x, y), theirs(x, y)
    assert got.dtype == want.dtype == torch.float64
    for reduction in REDUCTIONS:  # values and both gradients, each in its input's dtype
        assert_matches_torch(ours, theirs, x, y, reduction=reduction)


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
@pytest.mark.parametrize("value", [1e4, 1e30, -1e30])
def test_extreme_values_match_torch(ours, theirs, value):
    x = torch.tensor([value, 0.0, -value])
    y = torch.zeros(3)
    for reduction in REDUCTIONS:  # values and gradients (inf where torch has inf)
        assert_matches_torch(ours, theirs, x, y, reduction=reduction)


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


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_on_cpu_matches_torch(ours, theirs, reduction, dtype):
    """float16 and bfloat16 on the CPU: values and both gradients as torch's, in the format.

    Tolerance in units of the format's epsilon: the elementwise terms and gradients round a
    few times (eps/2 each); the reductions accumulate in float32 inside torch, so a mean or
    sum of 1000 terms is rounded once at the end. Allowed: 4 eps relative and absolute.
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, generator=g).to(dtype)
    y = torch.randn(1000, generator=g).to(dtype)
    eps = torch.finfo(dtype).eps
    out = assert_matches_torch(ours, theirs, x, y, reduction=reduction, rtol=4 * eps, atol=4 * eps)
    assert out.dtype == dtype


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


# =============================================================================================
# Huber, SmoothL1, pseudo-Huber
# =============================================================================================
ROBUST = {
    "huber(0.5)": (lambda x, y, r: losses.huber_loss(x, y, r, delta=0.5),
                   lambda x, y, r: F.huber_loss(x, y, r, delta=0.5)),
    "huber(2)": (lambda x, y, r: losses.huber_loss(x, y, r, delta=2.0),
                 lambda x, y, r: F.huber_loss(x, y, r, delta=2.0)),
    "smooth_l1(1)": (lambda x, y, r: losses.smooth_l1_loss(x, y, r),
                     lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r)),
    "smooth_l1(0.3)": (lambda x, y, r: losses.smooth_l1_loss(x, y, r, beta=0.3),
                       lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.3)),
    "smooth_l1(0)": (lambda x, y, r: losses.smooth_l1_loss(x, y, r, beta=0.0),
                     lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.0)),
    "pseudo_huber(1.5)": (
        lambda x, y, r: losses.pseudo_huber_loss(x, y, r, delta=1.5),
        lambda x, y, r: losses._reduce(2.25 * (torch.sqrt(1 + ((x - y) / 1.5) ** 2) - 1), r)),
}  # fmt: skip


@pytest.mark.parametrize("name", list(ROBUST))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=25, deadline=None)
@given(shape=LOSS_SHAPES, dtype=st.sampled_from([torch.float32, torch.float64]),
       scale=st.sampled_from([0.1, 1.0, 100.0]), seed=st.integers(0, 2**16))  # fmt: skip
def test_robust_losses_match_torch(name, reduction, shape, dtype, scale, seed):
    ours, theirs = ROBUST[name]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype) * scale
    y = torch.randn(shape, generator=g, dtype=dtype) * scale
    assert_matches_torch(lambda a, b, reduction: ours(a, b, reduction),
             lambda a, b, reduction: theirs(a, b, reduction), x, y, reduction=reduction, **TOL_ELEMENTWISE[dtype])  # fmt: skip


@pytest.mark.parametrize("name", ["huber", "smooth_l1", "pseudo_huber", "l1", "mse"])
def test_regression_registry_derivatives_and_gradchecks(name):
    spec = losses.REGRESSION_LOSSES[name]
    e = torch.tensor([-30.0, -1.7, -0.4, 0.3, 0.9, 1.2, 25.0], dtype=torch.float64)
    e.requires_grad_(True)
    (grad,) = torch.autograd.grad(spec.elementwise(e).sum(), e)
    torch.testing.assert_close(spec.elementwise_derivative(e.detach()), grad)
    y = torch.zeros(7, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a, b: spec.function(a, b), (e, y))
    assert gradgradcheck(lambda a, b: spec.function(a, b), (e, y))
    bounded = spec.elementwise_derivative(torch.tensor([1e6], dtype=torch.float64)).abs() < 10
    assert bool(bounded) == spec.gradient_bounded


def test_pseudo_huber_limits():
    e = torch.tensor([1e-4, 1e4], dtype=torch.float64)
    z = torch.zeros(2, dtype=torch.float64)
    loss = losses.pseudo_huber_loss(e, z, "none", delta=2.0)
    assert loss[0].item() == pytest.approx(0.5 * 1e-8, rel=1e-6)  # ~ e^2 / 2 near 0
    assert loss[1].item() == pytest.approx(2.0 * 1e4, rel=1e-3)  # ~ delta |e| far out


# =============================================================================================
# Classification
# =============================================================================================
def _grad_pair(ours, theirs, inputs, wrt):
    """Values and gradients of ours(*inputs) and theirs(*inputs) w.r.t. inputs[i] for i in wrt."""
    out = []
    for fn in (ours, theirs):
        args = [a.detach().clone().requires_grad_(i in wrt) if torch.is_tensor(a) else a
                for i, a in enumerate(inputs)]  # fmt: skip
        value = fn(*args)
        scale = torch.linspace(0.5, 1.5, value.numel(), dtype=value.dtype).reshape(value.shape)
        grads = torch.autograd.grad((value * scale).sum(), [args[i] for i in wrt])
        out.append((value.detach(), *grads))
    return out


@st.composite
def class_problems(draw):
    n = draw(st.integers(1, 5))
    c = draw(st.integers(1, 5))
    extra = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    unbatched = draw(st.booleans()) and not extra
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    x = torch.randn((c,) if unbatched else (n, c) + extra, generator=g, dtype=dtype) * 3
    t = torch.randint(0, c, () if unbatched else (n,) + extra, generator=g)
    if draw(st.booleans()) and t.numel() > 1:
        t.view(-1)[0] = -100  # one ignored target
    w = torch.rand(c, generator=g, dtype=dtype) + 0.1 if draw(st.booleans()) else None
    eps = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    return x, t, w, eps


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=60, deadline=None)
@given(problem=class_problems())
def test_cross_entropy_and_nll_match_torch(reduction, problem):
    x, t, w, eps = problem
    tol = TOL_ELEMENTWISE[x.dtype]
    a, b = _grad_pair(lambda v: losses.cross_entropy(v, t, w, -100, reduction, eps),
                      lambda v: F.cross_entropy(v, t, w, ignore_index=-100, reduction=reduction,
                                                label_smoothing=eps), [x], [0])  # fmt: skip
    torch.testing.assert_close(a, b, equal_nan=True, **tol)
    logp = torch.log_softmax(x, dim=0 if x.dim() == 1 else 1)
    a, b = _grad_pair(lambda v: losses.nll_loss(v, t, w, -100, reduction),
                      lambda v: F.nll_loss(v, t, w, ignore_index=-100, reduction=reduction),
                      [logp], [0])  # fmt: skip
    torch.testing.assert_close(a, b, equal_nan=True, **tol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=40, deadline=None)
@given(problem=class_problems())
def test_cross_entropy_with_probability_targets_matches_torch(reduction, problem):
    x, _, w, eps = problem
    p = torch.softmax(torch.randn_like(x), dim=0 if x.dim() == 1 else 1)
    a, b = _grad_pair(lambda v, q: losses.cross_entropy(v, q, w, reduction=reduction, label_smoothing=eps),
                      lambda v, q: F.cross_entropy(v, q, w, reduction=reduction, label_smoothing=eps),
                      [x, p], [0, 1])  # fmt: skip
    torch.testing.assert_close(a, b, **TOL_ELEMENTWISE[x.dtype])


def test_cross_entropy_is_nll_of_log_softmax_and_its_gradient_is_softmax_minus_one_hot():
    x = torch.randn(1, 6, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([4])
    ce = losses.cross_entropy(x, t)
    torch.testing.assert_close(ce, F.nll_loss(F.log_softmax(x, 1), t))
    (grad,) = torch.autograd.grad(ce, x)
    torch.testing.assert_close(grad, torch.softmax(x, 1) - F.one_hot(t, 6).double())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=30, deadline=None)
@given(problem=class_problems())
def test_cross_entropy_gradient_in_one_step_equals_nll_through_log_softmax(reduction, problem):
    """cross_entropy's backward computes w (softmax - one-hot) at once; nnlib's own chain,
    nll_loss's one-hot gradient passed back through log_softmax, gives the same bits."""
    x, t, w, _ = problem
    a, b = _grad_pair(lambda v: losses.cross_entropy(v, t, w, -100, reduction),
                      lambda v: losses.nll_loss(A.log_softmax(v, 0 if v.dim() == 1 else 1),
                                                t, w, -100, reduction), [x], [0])  # fmt: skip
    for ours, chain in zip(a, b, strict=True):  # signed zeros aside (ignored rows)
        assert torch.equal(ours, chain) or (ours.isnan().all() and chain.isnan().all())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 4, 3)])
def test_cross_entropy_gradgradcheck(reduction, eps, shape):
    """The one-step backward records softmax again when create_graph=True."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(shape, dtype=torch.float64, generator=g, requires_grad=True)
    classes = shape[0] if len(shape) == 1 else shape[1]
    t = torch.randint(0, classes, () if len(shape) == 1 else shape[:1] + shape[2:], generator=g)
    w = torch.rand(classes, dtype=torch.float64, generator=g) + 0.1
    fn = partial(losses.cross_entropy, target=t, weight=w, reduction=reduction, label_smoothing=eps)
    assert gradcheck(fn, (x,)) and gradgradcheck(fn, (x,))
    # gradgradcheck checks the recorded gradient's own derivative, not its value: compare it
    # with the gradient computed without create_graph
    upstream = torch.linspace(0.5, 1.5, fn(x).numel(), dtype=x.dtype).reshape(fn(x).shape)
    (plain,) = torch.autograd.grad((fn(x) * upstream).sum(), x)
    (recorded,) = torch.autograd.grad((fn(x) * upstream).sum(), x, create_graph=True)
    assert recorded.grad_fn is not None
    torch.testing.assert_close(recorded, plain, rtol=1e-12, atol=1e-15)


def test_nll_weighted_mean_and_all_ignored():
    logp = torch.log_softmax(torch.randn(4, 3, dtype=torch.float64), 1)
    t = torch.tensor([0, 2, -100, 2])
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    expected = -(1 * logp[0, 0] + 3 * logp[1, 2] + 3 * logp[3, 2]) / (1 + 3 + 3)
    torch.testing.assert_close(losses.nll_loss(logp, t, w), expected)
    a, b = _grad_pair(
        lambda v: losses.nll_loss(v, t, w), lambda v: F.nll_loss(v, t, w), [logp], [0]
    )
    for ours_t, theirs_t in zip(a, b, strict=True):  # the gradient too, ignored rows zero
        torch.testing.assert_close(ours_t, theirs_t)
    all_ignored = torch.full((4,), -100)
    assert torch.isnan(losses.nll_loss(logp, all_ignored)) and torch.isnan(
        F.nll_loss(logp, all_ignored)
    )


@pytest.mark.parametrize("logit", [1e4, -1e4, 1000.0, -1000.0])
def test_extreme_logits_are_exact_and_silent(logit):
    import warnings

    x = torch.tensor([logit, -logit, 0.0], dtype=torch.float32)
    y = torch.tensor([1.0, 0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = _grad_pair(losses.binary_cross_entropy_with_logits,
                       F.binary_cross_entropy_with_logits, [x, y], [0])  # fmt: skip
        rows = torch.tensor([[logit, 0.0, -logit]])
        b = _grad_pair(lambda v: losses.cross_entropy(v, torch.tensor([2])),
                       lambda v: F.cross_entropy(v, torch.tensor([2])), [rows], [0])  # fmt: skip
    for ours, _theirs in (a, b):
        assert torch.isfinite(ours[0]).all() and torch.isfinite(ours[1]).all()
    torch.testing.assert_close(a[0], a[1])
    torch.testing.assert_close(b[0], b[1])


@compiled_test
def test_compiled_bce_with_logits_matches_torch_at_extreme_logits():
    """Under torch.compile its log(1 + e^x) and sigmoid take selects (activations._blend)."""
    x = torch.tensor([1e4, -1e4, 1000.0, -1000.0, 88.0, -88.0, 0.0, -0.0, 2.5, -2.5])
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 1.0, 0.0, 0.3, 0.7])
    q = torch.full((10,), 3.0)
    compiled = torch.compile(losses.binary_cross_entropy_with_logits, fullgraph=True)
    a, b = _grad_pair(lambda u, v: compiled(u, v, None, "sum", q),
                      lambda u, v: F.binary_cross_entropy_with_logits(u, v, reduction="sum",
                                                                       pos_weight=q),
                      [x, y], [0, 1])  # fmt: skip
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(reduction):
    g = torch.Generator().manual_seed(0)
    p = torch.rand(5, 4, generator=g, dtype=torch.float64).clamp(1e-3, 1 - 1e-3)
    p[0, 0], p[0, 1] = 0.0, 1.0  # log 0 clamped at -100, as torch
    y = torch.rand(5, 4, generator=g, dtype=torch.float64)
    w = torch.rand(4, generator=g, dtype=torch.float64)
    a, b = _grad_pair(lambda u, v: losses.binary_cross_entropy(u, v, w, reduction),
                      lambda u, v: F.binary_cross_entropy(u, v, w, reduction=reduction),
                      [p, y], [0, 1])  # fmt: skip
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])  # d/d input
    torch.testing.assert_close(a[2], b[2])  # d/d target (PyTorch's is defined too)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_weight_and_pos_weight_match_torch(reduction):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64) * 5
    y = torch.rand(6, 3, generator=g, dtype=torch.float64)
    w = torch.rand(6, 1, generator=g, dtype=torch.float64)
    q = torch.rand(3, generator=g, dtype=torch.float64) * 4
    a, b = _grad_pair(lambda u, v: losses.binary_cross_entropy_with_logits(u, v, w, reduction, q),
                      lambda u, v: F.binary_cross_entropy_with_logits(u, v, w, reduction=reduction,
                                                                       pos_weight=q),
                      [x, y], [0, 1])  # fmt: skip
    torch.testing.assert_close(a, b)
    assert gradcheck(lambda u, v: losses.binary_cross_entropy_with_logits(u, v, w, reduction, q),
                     (x.requires_grad_(), y.requires_grad_()))  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_matches_torch(reduction, p):
    g = torch.Generator().manual_seed(p)
    x = torch.randn(7, 4, generator=g, dtype=torch.float64)
    t = torch.randint(0, 4, (7,), generator=g)
    w = torch.rand(4, generator=g, dtype=torch.float64)
    for weight in (None, w):
        a, b = _grad_pair(lambda v, w=weight: losses.multi_margin_loss(v, t, p, 0.8, w, reduction),
                          lambda v, w=weight: F.multi_margin_loss(v, t, p, 0.8, w, reduction=reduction),
                          [x], [0])  # fmt: skip
        torch.testing.assert_close(a, b)
    a, b = _grad_pair(
        lambda v: losses.multi_margin_loss(v, t[0], p, reduction=reduction),
        lambda v: F.multi_margin_loss(v, t[0], p, reduction=reduction),
        [x[0]],
        [0],
    )
    torch.testing.assert_close(a, b)


def test_hinge_loss_formula_and_gradient():
    x = torch.tensor([2.0, 0.5, -0.3, -3.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 1.0, -1.0, 1.0], dtype=torch.float64)
    loss = losses.hinge_loss(x, y, reduction="none")
    assert loss.tolist() == pytest.approx([0.0, 0.5, 0.7, 4.0])
    loss.sum().backward()
    assert x.grad.tolist() == [0.0, -1.0, 1.0, -1.0]
    torch.testing.assert_close(losses.hinge_loss(x, y, margin=2.0),
                               torch.clamp(2.0 - y * x, min=0).mean())  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (-1.0, 0.0), (0.9, 0.5)])
def test_sigmoid_focal_loss_matches_torchvision(reduction, alpha, gamma):
    from torchvision.ops import sigmoid_focal_loss

    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, generator=g, dtype=torch.float64) * 4
    y = (torch.rand(8, 3, generator=g) < 0.2).double()
    a, b = _grad_pair(lambda v: losses.sigmoid_focal_loss(v, y, alpha, gamma, reduction),
                      lambda v: sigmoid_focal_loss(v, y, alpha, gamma, reduction), [x], [0])  # fmt: skip
    torch.testing.assert_close(a, b)


def test_classification_registry_names_counterparts_that_exist():
    """Each entry's counterpart is importable under its dotted name and is the op of the
    same name (nll's is nll_loss); every entry says what its target holds."""
    for name, spec in losses.CLASSIFICATION_LOSSES.items():
        assert spec.target, name
        if spec.torch_name is None:
            continue
        module, _, attribute = spec.torch_name.rpartition(".")
        counterpart = getattr(importlib.import_module(module), attribute)
        assert callable(counterpart), name
        assert attribute == spec.function.__name__, name


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: losses.huber_loss(torch.zeros(2), torch.zeros(2), delta=0), ValueError,
         r"^delta must be > 0; got 0$"),
        (lambda: losses.huber_loss(torch.zeros(2), torch.zeros(2), delta=-1), ValueError,
         r"^delta must be > 0; got -1$"),
        (lambda: losses.smooth_l1_loss(torch.zeros(2), torch.zeros(2), beta=-0.5), ValueError,
         r"^beta must be >= 0; got -0.5$"),
        (lambda: losses.pseudo_huber_loss(torch.zeros(2), torch.zeros(2), delta=-2), ValueError,
         r"^delta must be > 0; got -2$"),
        (lambda: losses.hinge_loss(torch.zeros(2), torch.tensor([0.0, 1.0])), ValueError,
         r"^target must contain only -1 and \+1"),
        (lambda: losses.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3])), ValueError,
         r"^target must hold class indices in \[0, 2\]; got 3$"),
        (lambda: losses.cross_entropy(torch.zeros(2, 3), torch.tensor([0, -5])), ValueError,
         r"^target must hold class indices in \[0, 2\]; got -5$"),
        (lambda: losses.nll_loss(torch.zeros(2, 3), torch.tensor([0, 1, 2])), ValueError,
         r"^target must have shape \(2,\) \(input's shape without the class dim\); got \(3,\)$"),
        (lambda: losses.nll_loss(torch.zeros(2, 3), torch.tensor([0.0, 1.0])), TypeError,
         r"^target must be an integer tensor of class indices; got dtype torch.float32$"),
        (lambda: losses.cross_entropy(torch.zeros(2, 3), torch.zeros(2, 4)), ValueError,
         r"^target \(probabilities\) must have the same shape as input \(2, 3\); got \(2, 4\)$"),
        (lambda: losses.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), label_smoothing=1.5),
         ValueError, r"^label_smoothing must be in \[0, 1\]; got 1.5$"),
        (lambda: losses.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), weight=torch.ones(2)),
         ValueError, r"^weight must have shape \(3,\) \(one per class\); got \(2,\)$"),
        (lambda: losses.cross_entropy(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 1])),
         TypeError, r"^input must be a floating-point tensor"),
        (lambda: losses.binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0])), ValueError,
         r"^input must hold probabilities in \[0, 1\]"),
        (lambda: losses.binary_cross_entropy_with_logits(torch.zeros(2), torch.zeros(3)), ValueError,
         r"^target must have the same shape as input \(2,\); got \(3,\)$"),
        (lambda: losses.binary_cross_entropy_with_logits(torch.zeros(2, 3), torch.zeros(2, 3),
                                                         pos_weight=torch.ones(2)), ValueError,
         r"^pos_weight must broadcast to the input's shape \(2, 3\); got \(2,\)$"),
        (lambda: losses.multi_margin_loss(torch.zeros(2, 3), torch.tensor([0, 1]), p=3), ValueError,
         r"^p must be 1 or 2; got 3$"),
        (lambda: losses.sigmoid_focal_loss(torch.zeros(2), torch.zeros(2), gamma=-1), ValueError,
         r"^gamma must be >= 0; got -1$"),
        (lambda: losses.sigmoid_focal_loss(torch.zeros(2), torch.zeros(2), reduction="avg"),
         ValueError, r"^reduction must be one of 'none', 'mean', 'sum'; got 'avg'$"),
    ],
)  # fmt: skip
def test_classification_and_robust_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.gpu
def test_classification_losses_on_cuda_match_torch():
    x = torch.randn(64, 10, device="cuda", requires_grad=True)
    t = torch.randint(0, 10, (64,), device="cuda")
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        xd = x.detach().to(dtype)
        torch.testing.assert_close(losses.cross_entropy(xd, t, label_smoothing=0.1),
                                   F.cross_entropy(xd, t, label_smoothing=0.1),
                                   rtol=1e-2, atol=1e-2)  # fmt: skip
    a = losses.cross_entropy(x, t)
    (ga,) = torch.autograd.grad(a, x)
    (gb,) = torch.autograd.grad(F.cross_entropy(x, t), x)
    torch.testing.assert_close(ga, gb)


# --- derivative helpers with parameters: delta/beta must reach the derivative ------------------
ROBUST_DERIVATIVES = {  # name: (derivative helper, loss, parameter name)
    "huber": (losses.huber_loss_derivative, losses.huber_loss, "delta"),
    "smooth_l1": (losses.smooth_l1_loss_derivative, losses.smooth_l1_loss, "beta"),
    "pseudo_huber": (losses.pseudo_huber_loss_derivative, losses.pseudo_huber_loss, "delta"),
}


def _robust_derivative_equals_autograd(derivative, loss, kwargs) -> bool:
    g = torch.Generator().manual_seed(4)
    x = (torch.randn(60, generator=g, dtype=torch.float64) * 4).requires_grad_(True)
    y = torch.randn(60, generator=g, dtype=torch.float64)
    (grad,) = torch.autograd.grad(loss(x, y, reduction="sum", **kwargs), x)
    return torch.allclose(derivative(x.detach(), y, **kwargs), grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ROBUST_DERIVATIVES)
@pytest.mark.parametrize("value", [0.5, 1.0, 3.0])
def test_robust_loss_derivative_equals_autograd_for_its_parameter(name, value):
    derivative, loss, parameter = ROBUST_DERIVATIVES[name]
    assert _robust_derivative_equals_autograd(derivative, loss, {parameter: value})


@pytest.mark.parametrize("name", ROBUST_DERIVATIVES)
def test_the_check_catches_a_derivative_that_ignores_delta_or_beta(name):
    derivative, loss, parameter = ROBUST_DERIVATIVES[name]
    ignoring = lambda x, y, **kw: derivative(x, y)  # noqa: E731  (the default 1.0 used)
    assert not _robust_derivative_equals_autograd(ignoring, loss, {parameter: 3.0})


class _FlipGrad(torch.autograd.Function):
    """Identity forward; the gradient with its sign flipped (a planted bug)."""

    @staticmethod
    def forward(ctx, v):
        return v.view_as(v)

    @staticmethod
    def backward(ctx, grad):
        return -grad


def test_bce_check_catches_a_wrong_target_gradient():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(5, 4, generator=g, dtype=torch.float64).clamp(1e-3, 1 - 1e-3)
    y = torch.rand(5, 4, generator=g, dtype=torch.float64)
    a, b = _grad_pair(lambda u, v: losses.binary_cross_entropy(u, _FlipGrad.apply(v)),
                      lambda u, v: F.binary_cross_entropy(u, v), [p, y], [0, 1])  # fmt: skip
    torch.testing.assert_close(a[1], b[1])  # the input's gradient is right
    with pytest.raises(AssertionError):
        torch.testing.assert_close(a[2], b[2])  # the target's is caught


# --- found by mutation testing (make mutation): each test below kills mutants that survived --
E = torch.tensor([0.3, -2.0])
Z = torch.zeros(2)


MORE_ARGUMENTS_ARE_NAMED = [
    (lambda: losses.binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0])), ValueError,
     r"^input must hold probabilities in \[0, 1\]; got values outside it "
     r"\(pass logits to binary_cross_entropy_with_logits instead\)$"),
    # torch refuses a weight that broadcasts the result beyond the input's shape
    (lambda: losses.binary_cross_entropy(torch.tensor([0.5]), torch.tensor([1.0]),
                                         weight=torch.ones(3)), ValueError,
     r"^weight must broadcast to the input's shape \(1,\); got \(3,\)$"),
    (lambda: losses.binary_cross_entropy_with_logits(torch.tensor([0.5]), torch.tensor([1.0]),
                                                     pos_weight=torch.ones(3)), ValueError,
     r"^pos_weight must broadcast to the input's shape \(1,\); got \(3,\)$"),
    (lambda: losses.hinge_loss(E, torch.tensor([1.0, -1.0]), margin="a"), TypeError,
     r"^margin must be a real number"),
    (lambda: losses.huber_loss_derivative(E, Z, delta=0), ValueError, r"^delta must be > 0; got 0$"),
    (lambda: losses.huber_loss_derivative(E, Z, delta="a"), TypeError, r"^delta must be a real"),
    (lambda: losses.pseudo_huber_loss_derivative(E, Z, delta=0), ValueError,
     r"^delta must be > 0; got 0$"),
    (lambda: losses.pseudo_huber_loss_derivative(E, Z, delta="a"), TypeError,
     r"^delta must be a real"),
    (lambda: losses.smooth_l1_loss_derivative(E, Z, beta=-1), ValueError,
     r"^beta must be >= 0; got -1$"),
    (lambda: losses.smooth_l1_loss_derivative(E, Z, beta="a"), TypeError, r"^beta must be a real"),
    (lambda: losses.multi_margin_loss(torch.tensor([[1, 2]]), torch.tensor([0])), TypeError,
     r"^input must be a floating-point tensor"),
    (lambda: losses.multi_margin_loss(torch.randn(2, 3), torch.tensor([0, 1]), margin="a"),
     TypeError, r"^margin must be a real number"),
    (lambda: losses.multi_margin_loss(torch.randn(2, 2, 2), torch.tensor([0, 1])), ValueError,
     r"^input must be 1-d \(C\) or 2-d \(N, C\); got shape \(2, 2, 2\)$"),
    (lambda: losses.sigmoid_focal_loss(E, Z, alpha="a"), TypeError, r"^alpha must be a real"),
    (lambda: losses.sigmoid_focal_loss(E, Z, alpha=1.5), ValueError,
     r"^alpha must be <= 1 \(negative disables it\); got 1\.5$"),
]  # fmt: skip


def test_focal_loss_alpha_of_one_is_allowed_and_defaults_match_torchvision():
    from torchvision.ops import sigmoid_focal_loss

    x = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(losses.sigmoid_focal_loss(x, y, alpha=1.0),
                               sigmoid_focal_loss(x, y, alpha=1.0))  # fmt: skip
    torch.testing.assert_close(losses.sigmoid_focal_loss(x, y), sigmoid_focal_loss(x, y))


def test_multi_margin_defaults_and_shapes_match_torch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 5, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 3, 4, 1])
    torch.testing.assert_close(losses.multi_margin_loss(x, t), F.multi_margin_loss(x, t))
    for reduction in REDUCTIONS:  # a batch of one keeps its batch axis, unbatched input has none
        one = losses.multi_margin_loss(x[:1], t[:1], reduction=reduction)
        assert one.shape == F.multi_margin_loss(x[:1], t[:1], reduction=reduction).shape
        single = losses.multi_margin_loss(x[0], t[0], reduction=reduction)
        assert single.shape == F.multi_margin_loss(x[0], t[0], reduction=reduction).shape


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_gradient_matches_relu_autograd_for_each_reduction_and_at_the_kink(reduction):
    """The reference is autograd through relu(m - y x), whose slope at the kink is 0."""
    x = torch.tensor([2.0, 0.5, -0.3, -3.0, 1.0], dtype=torch.float64)  # last: y x = m, the kink
    y = torch.tensor([1.0, 1.0, 1.0, -1.0, 1.0], dtype=torch.float64)

    def reference(v):
        loss = F.relu(1.0 - y * v)
        return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]

    a, b = _grad_pair(lambda v: losses.hinge_loss(v, y, reduction=reduction), reference, [x], [0])
    for ours_t, theirs_t in zip(a, b, strict=True):
        torch.testing.assert_close(ours_t, theirs_t)
    assert a[1][-1].item() == 0.0


# Tensors on PyTorch's "meta" device (shapes without data) give a second device on any machine.
XC, TC = torch.randn(3, 4), torch.tensor([0, 1, 2])
SAME_DEVICE = r"must be on the same device as input \(cpu\); got meta$"


CLASS_LOSS_ARGUMENTS_AND_DEVICES_ARE_NAMED = [
    (lambda: losses.cross_entropy(XC, TC.to("meta")), ValueError, r"^target " + SAME_DEVICE),
    (lambda: losses.cross_entropy(XC, torch.rand(3, 4, device="meta")), ValueError,
     r"^target " + SAME_DEVICE),
    (lambda: losses.nll_loss(XC, TC.to("meta")), ValueError, r"^target " + SAME_DEVICE),
    (lambda: losses.multi_margin_loss(XC, TC.to("meta")), ValueError, r"^target " + SAME_DEVICE),
    (lambda: losses.cross_entropy(XC, TC, weight=torch.ones(4, device="meta")), ValueError,
     r"^weight " + SAME_DEVICE),
    (lambda: losses.binary_cross_entropy(torch.rand(3), torch.rand(3),
                                         weight=torch.ones(3, device="meta")), ValueError,
     r"^weight " + SAME_DEVICE),
    (lambda: losses.binary_cross_entropy_with_logits(torch.rand(3), torch.rand(3),
                                                     weight=torch.ones(3, device="meta")),
     ValueError, r"^weight " + SAME_DEVICE),
    (lambda: losses.cross_entropy(XC, TC, weight=torch.ones(4, dtype=torch.int64)), TypeError,
     r"^weight must be a floating-point tensor"),
    (lambda: losses.binary_cross_entropy_with_logits(torch.rand(3), torch.rand(3),
                                                     weight=torch.ones(2)), ValueError,
     r"^weight must broadcast to the input's shape \(3,\); got \(2,\)$"),
    (lambda: losses.cross_entropy(torch.tensor(1.0), TC), ValueError,
     r"^input must have a class dimension: shape \(C\), \(N, C\) or \(N, C, d1, \.\.\.\)$"),
    (lambda: losses.cross_entropy(XC, [0, 1, 2]), TypeError, r"^target must be a torch.Tensor"),
    (lambda: losses.nll_loss(XC, [0, 1, 2]), TypeError, r"^target must be a torch.Tensor"),
    (lambda: losses.cross_entropy(XC, TC, label_smoothing=-0.1), ValueError,
     r"^label_smoothing must be >= 0; got -0\.1$"),
    (lambda: losses.nll_loss(XC, TC, ignore_index=1.5), TypeError,
     r"^ignore_index must be an integer"),
]  # fmt: skip


def test_label_smoothing_of_one_is_allowed_like_torch():
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(losses.cross_entropy(x, TC, label_smoothing=1.0),
                               F.cross_entropy(x, TC, label_smoothing=1.0))  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_batch_of_one_and_unbatched_shapes_match_torch(reduction):
    x = torch.randn(1, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t = torch.tensor([2])
    for fn, theirs in [(losses.cross_entropy, F.cross_entropy), (losses.nll_loss, F.nll_loss)]:
        got, want = fn(x, t, reduction=reduction), theirs(x, t, reduction=reduction)
        assert got.shape == want.shape
        torch.testing.assert_close(got, want)
        got, want = fn(x[0], t[0], reduction=reduction), theirs(x[0], t[0], reduction=reduction)
        assert got.shape == want.shape
        torch.testing.assert_close(got, want)


def test_focal_loss_alpha_zero_weights_only_the_negatives_like_torchvision():
    from torchvision.ops import sigmoid_focal_loss

    x = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(losses.sigmoid_focal_loss(x, y, alpha=0.0, reduction="sum"),
                               sigmoid_focal_loss(x, y, alpha=0.0, reduction="sum"))  # fmt: skip


@pytest.mark.parametrize("which", ["weight", "pos_weight"])
def test_bce_with_logits_gradients_with_one_weight_only(which):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    y = (torch.rand(4, 3, generator=g) < 0.5).double()
    w = {which: torch.rand(3, generator=g, dtype=torch.float64) + 0.5}
    a, b = _grad_pair(lambda u, v: losses.binary_cross_entropy_with_logits(u, v, **w),
                      lambda u, v: F.binary_cross_entropy_with_logits(u, v, **w), [x, y], [0, 1])  # fmt: skip
    for ours_t, theirs_t in zip(a, b, strict=True):
        torch.testing.assert_close(ours_t, theirs_t)


def test_edge_cases_where_a_shortcut_matters():
    # Without label smoothing no smoothing term is computed: it would be 0 * inf = nan here.
    x = torch.tensor([[0.0, -math.inf, 1.0]])
    t = torch.tensor([2])
    assert torch.isfinite(losses.cross_entropy(x, t))
    torch.testing.assert_close(losses.cross_entropy(x, t), F.cross_entropy(x, t))
    # SmoothL1 with beta = 0 is L1; at zero error the quadratic branch would divide 0 by 0.
    same = torch.tensor([1.0, -2.0])
    assert losses.smooth_l1_loss(same, same, beta=0.0).item() == 0.0
    # A float32 class weight on half-precision input: the result stays in the input's dtype.
    x16 = torch.randn(3, 4, generator=torch.Generator().manual_seed(0)).half()
    assert (
        losses.cross_entropy(x16, torch.tensor([0, 1, 2]), weight=torch.ones(4)).dtype
        == torch.float16
    )
    p16 = torch.rand(3, generator=torch.Generator().manual_seed(0)).half()
    assert losses.binary_cross_entropy(p16, p16, weight=torch.ones(3)).dtype == torch.float16


def test_bce_weight_type_is_named_and_soft_targets_are_cast_before_smoothing():
    with pytest.raises(TypeError, match=r"^weight must be a floating-point tensor"):
        losses.binary_cross_entropy(
            torch.rand(3), torch.rand(3), weight=torch.ones(3, dtype=torch.int64)
        )
    # Probability targets in float16 are cast to the input's float64 before label smoothing
    # mixes them, so no float16 rounding enters the loss.
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t16 = torch.softmax(torch.randn(3, 4, generator=torch.Generator().manual_seed(1)), 1).half()
    torch.testing.assert_close(losses.cross_entropy(x, t16, label_smoothing=0.1),
                               losses.cross_entropy(x, t16.double(), label_smoothing=0.1),
                               rtol=0, atol=0)  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "message"),
    MORE_ARGUMENTS_ARE_NAMED + CLASS_LOSS_ARGUMENTS_AND_DEVICES_ARE_NAMED,
)
def test_more_arguments_are_named(call, error, message):
    """Arguments whose errors mutation testing found untested, each named in its message."""
    with pytest.raises(error, match=message):
        call()


# =============================================================================================
# Likelihood losses: quantile (pinball) and Gaussian negative log-likelihood
# =============================================================================================
def _pinball(x, y, reduction, tau):
    """The pinball loss written with autograd's ops: the reference nnlib's backward meets."""
    e = x - y
    return losses._reduce(torch.where(e > 0, (1 - tau) * e, -tau * e), reduction)


@pytest.mark.parametrize("tau", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=25, deadline=None)
@given(shape=LOSS_SHAPES, dtype=st.sampled_from([torch.float32, torch.float64]),
       scale=st.sampled_from([1e-3, 1.0, 1e3]), seed=st.integers(0, 2**16))  # fmt: skip
def test_quantile_loss_matches_its_formula(tau, reduction, shape, dtype, scale, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype) * scale
    y = torch.randn(shape, generator=g, dtype=dtype) * scale
    assert_matches_torch(lambda a, b, reduction: losses.quantile_loss(a, b, reduction, quantile=tau),
             lambda a, b, reduction: _pinball(a, b, reduction, tau), x, y, reduction=reduction,
             **TOL_ELEMENTWISE[dtype])  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_quantile_loss_at_one_half_is_half_of_l1(reduction):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    y = torch.randn(5, 3, generator=g, dtype=torch.float64)
    y[0, 0] = x[0, 0]  # one zero error: both take the derivative 0 there
    assert_matches_torch(lambda a, b, reduction: losses.quantile_loss(a, b, reduction),
             lambda a, b, reduction: 0.5 * F.l1_loss(a, b, reduction=reduction), x, y,
             reduction=reduction, rtol=1e-15, atol=0)  # fmt: skip


@pytest.mark.parametrize("tau", [0.05, 0.25, 0.5, 0.8])
def test_quantile_loss_is_smallest_at_the_quantile_of_the_targets(tau):
    """The constant prediction with the least mean pinball loss is the tau-quantile: here
    every sample quantile ('lower') is a minimiser, and no constant on a fine grid beats it."""
    y = torch.randn(1001, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    q = torch.quantile(y, tau, interpolation="lower")
    best = losses.quantile_loss(q.expand(1001), y, quantile=tau)
    grid = torch.linspace(-3, 3, 6001, dtype=torch.float64)
    on_grid = torch.stack([losses.quantile_loss(c.expand(1001), y, quantile=tau) for c in grid])
    assert best <= on_grid.min() + 1e-15
    assert abs(grid[on_grid.argmin()] - q) < 0.02


def test_quantile_loss_gradients_and_derivative_helper():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = x.detach() + 0.5 * torch.sign(torch.randn(4, 3, generator=g, dtype=torch.float64))
    y.requires_grad_(True)
    for tau in (0.2, 0.7):
        for reduction in REDUCTIONS:
            fn = partial(losses.quantile_loss, reduction=reduction, quantile=tau)
            assert gradcheck(fn, (x, y)) and gradgradcheck(fn, (x, y))
        (grad,) = torch.autograd.grad(losses.quantile_loss(x, y, "sum", quantile=tau), x)
        torch.testing.assert_close(losses.quantile_loss_derivative(x, y, quantile=tau), grad)
        assert set(grad.unique().tolist()) <= {1 - tau, -tau}
    e = torch.tensor([-2.0, 0.0, 3.0])
    assert losses.quantile_loss_derivative(e, torch.zeros(3), 0.3).tolist() == pytest.approx(
        [-0.3, 0.0, 0.7]
    )


VAR_FORMS = {  # name: (input shape, var shape or a number)
    "same shape": ((4, 3), (4, 3)),
    "last dim dropped": ((4, 3), (4,)),
    "one dim of size 1": ((2, 3, 5), (2, 1, 5)),
    "last dim of size 1": ((4, 3), (4, 1)),
    "a number": ((4, 3), 0.7),
    "scalar input": ((), ()),
}


def _gaussian_inputs(form, dtype, seed, below_eps=False):
    shape, var_shape = VAR_FORMS[form]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype)
    y = torch.randn(shape, generator=g, dtype=dtype)
    if isinstance(var_shape, float):
        return x, y, var_shape
    var = torch.rand(var_shape, generator=g, dtype=dtype) * 2 + 0.05
    if below_eps and var.numel() > 1:
        var.view(-1)[0] = 1e-9  # clamped to eps: the gradient still reaches var, as in torch
    return x, y, var


@pytest.mark.parametrize("form", list(VAR_FORMS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@settings(max_examples=10, deadline=None)
@given(dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 2**16),
       below_eps=st.booleans())  # fmt: skip
def test_gaussian_nll_loss_matches_torch(form, reduction, full, dtype, seed, below_eps):
    x, y, var = _gaussian_inputs(form, dtype, seed, below_eps)
    results = []
    for fn in (losses.gaussian_nll_loss, F.gaussian_nll_loss):
        leaves = [t.detach().clone().requires_grad_(True) for t in (x, y)]
        v = var if isinstance(var, float) else var.detach().clone().requires_grad_(True)
        out = fn(*leaves, v, full=full, reduction=reduction)
        weights = torch.linspace(-1.0, 2.0, out.numel(), dtype=out.dtype).reshape(out.shape)
        grads = torch.autograd.grad((out * weights).sum(), leaves + ([] if isinstance(v, float)
                                                                   else [v]))  # fmt: skip
        results.append((out.detach(), *grads))
    # log var and (x - y)^2 / var cancel: in float32 the rounding error is relative to the
    # terms (of order 1 here), not to a loss near 0, so the absolute tolerance is 1e-5
    tol = TOL_ELEMENTWISE[dtype] if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(*results, strict=True):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        torch.testing.assert_close(ours, theirs, **tol)


def test_gaussian_nll_loss_gradients():
    for form in ("same shape", "last dim dropped", "one dim of size 1"):
        x, y, var = _gaussian_inputs(form, torch.float64, 4)
        leaves = (x.requires_grad_(), y.requires_grad_(), var.requires_grad_())
        for reduction in REDUCTIONS:
            fn = partial(losses.gaussian_nll_loss, reduction=reduction)
            assert gradcheck(fn, leaves) and gradgradcheck(fn, leaves)


def test_gaussian_nll_with_a_fixed_variance_is_scaled_mse_plus_a_constant():
    """v fixed: l = (log v)/2 + e^2/(2v), so the loss and its gradient are MSE's over 2v."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(50, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(50, generator=g, dtype=torch.float64)
    v = 0.3
    nll = losses.gaussian_nll_loss(x, y, v)
    mse = losses.mse_loss(x, y)
    torch.testing.assert_close(nll, 0.5 * math.log(v) + mse / (2 * v), rtol=1e-14, atol=0)
    (g_nll,) = torch.autograd.grad(nll, x)
    (g_mse,) = torch.autograd.grad(losses.mse_loss(x, y), x)
    torch.testing.assert_close(g_nll, g_mse / (2 * v), rtol=1e-14, atol=0)
    full = losses.gaussian_nll_loss(x, y, v, full=True)
    torch.testing.assert_close(full - nll, torch.tensor(0.5 * math.log(2 * math.pi),
                                                        dtype=torch.float64))  # fmt: skip


def test_gaussian_nll_best_variance_is_the_squared_error():
    """dl/dv = (1/v - e^2/v^2)/2 vanishes at v = e^2: the loss is least there."""
    e2 = torch.tensor([0.25, 4.0], dtype=torch.float64)
    v = e2.clone().requires_grad_(True)
    zero = torch.zeros(2, dtype=torch.float64)
    loss = losses.gaussian_nll_loss(e2.sqrt(), zero, v, reduction="sum")
    (grad,) = torch.autograd.grad(loss, v)
    assert grad.abs().max() < 1e-15
    for factor in (0.5, 2.0):
        assert losses.gaussian_nll_loss(e2.sqrt(), zero, e2 * factor, reduction="sum") > loss


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: losses.quantile_loss(torch.zeros(2), torch.zeros(2), quantile=0), ValueError,
         r"^quantile must be > 0; got 0$"),
        (lambda: losses.quantile_loss(torch.zeros(2), torch.zeros(2), quantile=1.0), ValueError,
         r"^quantile must be in \(0, 1\); got 1.0$"),
        (lambda: losses.quantile_loss(torch.zeros(2), torch.zeros(2), quantile="x"), TypeError,
         r"^quantile must be a"),
        (lambda: losses.quantile_loss(torch.zeros(2), torch.zeros(3)), ValueError,
         r"^target must have the same shape as input \(2,\); got \(3,\)$"),
        (lambda: losses.gaussian_nll_loss(torch.zeros(2), torch.zeros(2), torch.tensor([1.0, -1.0])),
         ValueError, r"^var must be >= 0 everywhere; got a minimum of -1$"),
        (lambda: losses.gaussian_nll_loss(torch.zeros(2), torch.zeros(2), -0.5), ValueError,
         r"^var must be >= 0; got -0.5$"),
        (lambda: losses.gaussian_nll_loss(torch.zeros(4, 3), torch.zeros(4, 3), torch.ones(4, 2)),
         ValueError, r"^var must have the input's shape \(4, 3\), that shape without its last "
         r"dim, or that shape with one dim of size 1; got \(4, 2\)$"),
        (lambda: losses.gaussian_nll_loss(torch.zeros(2), torch.zeros(3), 1.0), ValueError,
         r"^target must broadcast to the input's shape \(2,\); got \(3,\)$"),
        (lambda: losses.gaussian_nll_loss(torch.zeros(2), torch.zeros(2), 1.0, full=1),
         TypeError, r"^full must be a bool; got 1$"),
        (lambda: losses.gaussian_nll_loss(torch.zeros(2), torch.zeros(2), 1.0, eps=0),
         ValueError, r"^eps must be > 0; got 0$"),
        (lambda: losses.gaussian_nll_loss(torch.zeros(2), torch.zeros(2), torch.ones(2, dtype=int)),
         TypeError, r"^var must be a floating-point tensor"),
        (lambda: losses.gaussian_nll_loss(torch.zeros(2), torch.zeros(2), 1.0, reduction="avg"),
         ValueError, r"^reduction must be one of 'none', 'mean', 'sum'; got 'avg'$"),
    ],
)  # fmt: skip
def test_likelihood_loss_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("label", [0.0, 1.0, 0.3])
def test_bce_with_logits_second_derivative_at_zero_matches_torch(label):
    """The Hessian of the logistic loss is sigma (1 - sigma), 1/4 at a logit of exactly 0."""
    x = torch.tensor([0.0, -0.0, 2.0, -2.0], dtype=torch.float64)
    y = torch.full_like(x, label)
    second = []
    for fn in (losses.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits):
        z = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(z, y, reduction="sum"), z, create_graph=True)
        second.append(torch.autograd.grad(grad.sum(), z)[0])
    torch.testing.assert_close(second[0], second[1])
    torch.testing.assert_close(second[0][:2], torch.full((2,), 0.25, dtype=torch.float64))


def test_gaussian_nll_loss_var_forms_and_dtypes_match_torch():
    """The forms of var torch accepts, zeros included (clamped to eps, not refused), and
    mixed dtypes, which promote like torch's."""
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(2, 3, 4, generator=g), torch.randn(2, 3, 4, generator=g)
    var = torch.rand(2, 3, generator=g) + 0.5
    cases = [
        (x, y, var),  # input's shape without its last dim: one variance per row of 4
        (x, y, 0.0),  # a number; zero is clamped to eps
        (x, y, torch.cat([torch.zeros(2, 1), var[:, 1:]], 1).unsqueeze(-1).expand(2, 3, 4)),
        (x, y, var.double()),  # float64 var: the loss is float64
        (x, y.double(), var),
        (x.double(), y, var),
    ]
    for a, b, v in cases:
        for reduction in ("none", "mean", "sum"):
            ours = losses.gaussian_nll_loss(a, b, v, reduction=reduction)
            theirs = F.gaussian_nll_loss(a, b, v, reduction=reduction)
            assert ours.dtype == theirs.dtype
            torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: losses.gaussian_nll_loss(torch.zeros(2, dtype=torch.long), torch.zeros(2), 1.0),
         TypeError, r"^input must be a floating-point tensor"),
        (lambda: losses.gaussian_nll_loss(torch.zeros(2), torch.zeros(2, dtype=torch.long), 1.0),
         TypeError, r"^target must be a floating-point tensor"),
        (lambda: losses.gaussian_nll_loss(torch.zeros(2), torch.zeros(2),
                                          torch.ones(2, device="meta")),
         ValueError, r"^var must be on the same device as input \(cpu\); got meta$"),
        (lambda: losses.cross_entropy(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long),
                                      ignore_index=1.5),
         TypeError, r"^ignore_index must be an integer; got 1.5 \(float\)$"),
        (lambda: losses.multi_margin_loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long),
                                          weight=torch.ones(4)),
         ValueError, r"^weight must have shape \(3,\) \(one per class\); got \(4,\)$"),
    ],
)  # fmt: skip
def test_likelihood_and_margin_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_multi_margin_loss_casts_a_float64_weight_to_a_float32_input():
    """torch refuses a weight of another dtype; nnlib casts it to the input's, so the loss is
    torch's with the weight cast."""
    g = torch.Generator().manual_seed(6)
    x, t = torch.randn(5, 3, generator=g), torch.tensor([0, 2, 1, 1, 0])
    w = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)
    ours, theirs = (
        losses.multi_margin_loss(x, t, weight=w),
        F.multi_margin_loss(x, t, weight=w.float()),
    )
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, theirs)


def test_quantile_loss_derivative_defaults_to_the_median():
    x, y = torch.tensor([-1.0, 0.5, 2.0]), torch.zeros(3)
    torch.testing.assert_close(losses.quantile_loss_derivative(x, y),
                               losses.quantile_loss_derivative(x, y, quantile=0.5))  # fmt: skip
    assert losses.quantile_loss_derivative(x, y).tolist() == [-0.5, 0.5, 0.5]
