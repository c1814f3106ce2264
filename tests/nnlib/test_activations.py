"""nnlib.activations against torch: values, gradients, registry facts, modules, errors."""

from __future__ import annotations

import math
import re
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import event, given, settings
from hypothesis import strategies as st
from torch.autograd import gradcheck, gradgradcheck

from nnlib import activations as A
from tests.nnlib.support import (
    TOL_ELEMENTWISE,
    assert_matches_torch,
    compiled_test,
    outputs_and_grads,
    shapes,
)

REG = A.ACTIVATIONS
NAMES = list(REG)
ELEMENTWISE = [n for n in NAMES if REG[n].elementwise]


# (nnlib call, torch call) pairs with non-default parameters
PARAMETRISED = {
    "leaky_relu(0.2)": (lambda x: A.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2)),
    "leaky_relu(-0.5)": (lambda x: A.leaky_relu(x, -0.5), lambda x: F.leaky_relu(x, -0.5)),
    "elu(0.5)": (lambda x: A.elu(x, 0.5), lambda x: F.elu(x, 0.5)),
    "elu(2)": (lambda x: A.elu(x, 2.0), lambda x: F.elu(x, 2.0)),
    "gelu(tanh)": (lambda x: A.gelu(x, "tanh"), lambda x: F.gelu(x, approximate="tanh")),
    "softplus(2, 5)": (lambda x: A.softplus(x, 2.0, 5.0), lambda x: F.softplus(x, 2.0, 5.0)),
    "softplus(0.5)": (lambda x: A.softplus(x, 0.5), lambda x: F.softplus(x, 0.5)),
    "softplus(1, -1)": (lambda x: A.softplus(x, 1.0, -1.0), lambda x: F.softplus(x, 1.0, -1.0)),
    "softplus(3, -2)": (lambda x: A.softplus(x, 3.0, -2.0), lambda x: F.softplus(x, 3.0, -2.0)),
    "softplus(0.5, -1)": (lambda x: A.softplus(x, 0.5, -1.0), lambda x: F.softplus(x, 0.5, -1.0)),
    "softplus(0.3)": (lambda x: A.softplus(x, 0.3), lambda x: F.softplus(x, 0.3)),
    "rrelu eval": (lambda x: A.rrelu(x, 0.1, 0.3), lambda x: F.rrelu(x, 0.1, 0.3, False)),
    "softmax(0)": (lambda x: A.softmax(x, 0), lambda x: F.softmax(x, 0)),
    "log_softmax(-1)": (lambda x: A.log_softmax(x, -1), lambda x: F.log_softmax(x, -1)),
    "log_softmax(0)": (lambda x: A.log_softmax(x, 0), lambda x: F.log_softmax(x, 0)),
}
ALL_PAIRS = {n: (REG[n].function, REG[n].torch_function) for n in NAMES} | PARAMETRISED


@pytest.mark.parametrize("name", list(ALL_PAIRS))
@settings(max_examples=25, deadline=None)
@given(
    shape=shapes(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    scale=st.sampled_from([0.1, 1.0, 10.0, 100.0]),
    seed=st.integers(0, 2**16),
)
def test_matches_torch(name, shape, dtype, scale, seed):
    ours, theirs = ALL_PAIRS[name]
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * scale
    event("empty tensor" if x.numel() == 0 else "tensor with data")
    assert_matches_torch(ours, theirs, x, **TOL_ELEMENTWISE[dtype])


@pytest.mark.parametrize("name", list(ALL_PAIRS))
@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3, 2)])
def test_empty_input_matches_torch(name, shape):
    ours, theirs = ALL_PAIRS[name]
    x = torch.empty(shape, dtype=torch.float64)
    assert_matches_torch(ours, theirs, x, **TOL_ELEMENTWISE[torch.float64])
    assert ours(x).shape == theirs(x).shape


@pytest.mark.parametrize("name", list(ALL_PAIRS))
def test_matches_torch_on_non_contiguous_input(name):
    ours, theirs = ALL_PAIRS[name]
    x = torch.randn(7, 6, dtype=torch.float64).t()[:, ::2]
    assert not x.is_contiguous()
    assert_matches_torch(ours, theirs, x, **TOL_ELEMENTWISE[torch.float64])


@pytest.mark.parametrize("name", list(ALL_PAIRS))
def test_exact_points_match_torch(name):
    """Kinks and special values: 0, +-tiny, +-inf-ish, the thresholds."""
    ours, theirs = ALL_PAIRS[name]
    x = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 2.5, -2.5, 10.0, -10.0, 20.0, 21.0])
    assert_matches_torch(ours, theirs, x, **TOL_ELEMENTWISE[torch.float32])


def _smooth_input(shape, seed=0):
    """float64 input whose entries stay away from every activation's kink at 0."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=torch.float64) * 2 + 0.1
    sign = torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0).double()
    return (x * sign).requires_grad_(True)


@pytest.mark.parametrize("name", list(ALL_PAIRS))
def test_gradcheck_and_gradgradcheck(name):
    fn = ALL_PAIRS[name][0]
    x = _smooth_input((3, 4))
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def _second_derivative(fn, x):
    """d2 f / dx2 element-wise by double backward, or None without a differentiable grad."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
    if not grad.requires_grad:
        return None
    return torch.autograd.grad(grad.sum(), x)[0]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_second_derivative_at_zero_matches_torch(name):
    """gradgradcheck above keeps away from 0; at exactly 0 the double backward must agree
    with torch's too (a slope-0 abs inside the stable sigmoid once made silu's, softplus's
    and BCE's second derivatives wrong there)."""
    spec = REG[name]
    x = torch.tensor([0.0, -0.0, 1e-300, -1e-300], dtype=torch.float64)
    ours = _second_derivative(spec.function, x)
    if ours is None:
        pytest.skip(f"{name} has no double backward")
    torch.testing.assert_close(ours, _second_derivative(spec.torch_function, x))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_function_equals_autograd(name):
    spec = REG[name]
    x = _smooth_input((200,), seed=3)
    (grad,) = torch.autograd.grad(spec.function(x).sum(), x)
    torch.testing.assert_close(spec.derivative(x.detach()), grad)


def test_softmax_diagonal_derivative_and_jacobians():
    x = torch.randn(3, 5, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: A.softmax(v, -1), x[0])
    torch.testing.assert_close(A.softmax_jacobian(x)[0], jac)
    torch.testing.assert_close(REG["softmax"].derivative(x)[0], torch.diagonal(jac))
    jac = torch.autograd.functional.jacobian(lambda v: A.log_softmax(v, -1), x[1])
    torch.testing.assert_close(A.log_softmax_jacobian(x)[1], jac)


# --- registry facts, checked numerically -----------------------------------------------------
GRID = torch.linspace(-50, 50, 200_001, dtype=torch.float64)


def _parse_range(text):
    m = re.match(r"([\[(])(-?[\d.]+|-inf), (-?[\d.]+|inf)([\])])", text)
    return m and (float(m.group(2)), float(m.group(3)))


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
def test_registry_output_range(name):
    spec = REG[name]
    bounds = _parse_range(spec.output_range)
    if bounds is None:
        assert name == "maxout"
        return
    lo, hi = bounds
    y = spec.function(GRID.unsqueeze(-1) if name == "softmax" else GRID)
    if name == "softmax":
        y = spec.function(torch.stack([GRID, torch.zeros_like(GRID)], -1))[:, 0]
    _check_range(name, spec.function, y, lo, hi)


def _check_range(name, function, y, lo, hi):
    """y (the function on GRID) stays inside [lo, hi] and reaches each finite bound; an
    infinite bound must really be unbounded: far outside GRID the function goes beyond
    everything it reached on GRID."""
    assert y.min() >= lo - 1e-4 and y.max() <= hi + 1e-4
    if math.isfinite(lo):
        assert y.min() <= lo + 1e-4, f"{name}: min {y.min().item()} not near {lo}"
    else:
        far = function(torch.tensor([-1e6], dtype=torch.float64))
        assert far.item() < y.min().item() - 1, f"{name}: bounded below, not -inf"
    if math.isfinite(hi):
        assert y.max() >= hi - 1e-4
    else:
        far = function(torch.tensor([1e6], dtype=torch.float64))
        assert far.item() > y.max().item() + 1, f"{name}: bounded above, not inf"


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu", "softplus"])
def test_the_range_check_catches_a_bound_claimed_infinite(name):
    spec = REG[name]
    y = spec.function(GRID)
    with pytest.raises(AssertionError):
        _check_range(name, spec.function, y, -math.inf, math.inf)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_registry_max_derivative_monotone_zero_centred_smooth(name):
    spec = REG[name]
    x = GRID[(GRID > -10) & (GRID < 10)]
    d = spec.derivative(x)
    if spec.max_derivative is not None:
        assert d.max().item() == pytest.approx(spec.max_derivative, abs=1e-4)
    if spec.monotonic is not None:
        assert spec.monotonic == bool((d >= 0).all())
    odd = torch.allclose(spec.function(-x), -spec.function(x), atol=1e-12)
    assert spec.zero_centred == odd
    jumps = (d[1:] - d[:-1]).abs().max().item()
    assert spec.smooth == (jumps < 1e-2), f"{name}: largest step of f' {jumps}"


def test_sigmoid_facts():
    x = torch.arange(-10_000, 10_001, dtype=torch.float64) / 1000  # holds an exact 0
    d = A.sigmoid_derivative(x)
    assert d.max().item() == 0.25 and x[d.argmax()].item() == 0.0
    torch.testing.assert_close(A.tanh(x), 2 * A.sigmoid(2 * x) - 1)


# --- extreme inputs ------------------------------------------------------------------------
EXTREME = {
    "sigmoid": (A.sigmoid, torch.sigmoid),
    "tanh": (A.tanh, torch.tanh),
    "softplus": (A.softplus, F.softplus),
    "softmax": (lambda x: A.softmax(x, -1), lambda x: F.softmax(x, -1)),
    "log_softmax": (lambda x: A.log_softmax(x, -1), lambda x: F.log_softmax(x, -1)),
    "silu": (A.silu, F.silu),
    "mish": (A.mish, F.mish),
    "gelu": (A.gelu, F.gelu),
    "elu": (A.elu, F.elu),
}


@pytest.mark.parametrize("name", list(EXTREME))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_inputs_are_finite_equal_to_torch_and_silent(name, dtype):
    ours, theirs = EXTREME[name]
    x = torch.tensor([-1e4, -1000.0, -88.0, 0.0, 88.0, 1000.0, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = outputs_and_grads(ours, x)
    b = outputs_and_grads(theirs, x)
    assert all(torch.isfinite(t).all() for t in a)
    torch.testing.assert_close(a, b)


#: Not compared at +-inf: maxout's zero piece is 0 x, nan at infinite x as in any linear layer;
#: gelu(inf) is inf in nnlib (x Phi(x), Phi(inf) = 1); torch's vectorised CPU kernel gives nan
#: (for a tensor of a few elements or more; a one-element tensor gives inf).
NOT_AT_INFINITY = {"maxout", "gelu"}


@pytest.mark.parametrize("name", [n for n in ALL_PAIRS if n not in NOT_AT_INFINITY])
def test_infinite_inputs_match_torch(name):
    """+-inf give torch's values and gradients, nan where torch's are nan (silu's gradient at
    inf, x (1 - 1) inf; mish at -inf, -inf times 0)."""
    ours, theirs = ALL_PAIRS[name]
    x = torch.tensor([-math.inf, math.inf, 0.0, 3.0, -3.0])
    assert_matches_torch(ours, theirs, x, **TOL_ELEMENTWISE[torch.float32])


def test_gelu_of_infinity_is_infinity():
    x = torch.linspace(-5, 5, 32)
    x[7] = math.inf
    y = A.gelu(x)
    assert y[7].item() == math.inf
    assert torch.isfinite(y[x.isfinite()]).all()


def test_sigmoid_saturates_to_exactly_one_like_torch():
    x = torch.arange(10.0, 40.0, 0.25)
    assert torch.equal(A.sigmoid(x) == 1.0, torch.sigmoid(x) == 1.0)


# --- under torch.compile ---------------------------------------------------------------------
#: The ops whose helpers take a select instead of arithmetic when compiled (``_blend``).
COMPILED = {
    "sigmoid": (A.sigmoid, torch.sigmoid),
    "silu": (A.silu, F.silu),
    "softplus": (A.softplus, F.softplus),
    "softplus(2, 5)": PARAMETRISED["softplus(2, 5)"],
    "softplus(3, -2)": PARAMETRISED["softplus(3, -2)"],
    "mish": (A.mish, F.mish),
    "elu": (A.elu, F.elu),
    "selu": (A.selu, F.selu),
    "softplus_derivative(2, 5)": (
        lambda x: A.softplus_derivative(x, 2.0, 5.0),
        lambda x: torch.sigmoid(2 * x).where(2 * x <= 5, 1.0),
    ),
    "elu_derivative": (A.elu_derivative, lambda x: torch.where(x > 0, 1.0, x.clamp(max=0).exp())),
}


@compiled_test
def test_blend_is_a_select_when_compiled_and_arithmetic_eagerly():
    t = torch.tensor([-2.0, -0.0, 0.0, 1e-30, 3.0, math.inf, -math.inf, 1.0])
    high = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, math.inf])
    low = torch.tensor([-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, math.inf])
    compiled = torch.compile(A._blend, fullgraph=True)(t, high, low)
    # inf where both are inf: the select ran (the arithmetic gives inf - inf = nan)
    assert torch.equal(compiled, torch.where(t > 0, high, low))
    eager = A._blend(t, high, low)
    assert torch.equal(eager[:-1], compiled[:-1])
    assert eager[-1].isnan()  # inf - inf: the arithmetic agrees only where high - low is finite
    x = torch.tensor([-3.0, -0.0, 0.0, 2.0, -math.inf, math.inf], requires_grad=True)
    y = torch.compile(A._minus_abs, fullgraph=True)(x)
    assert y.tolist() == (-x.abs()).tolist()
    (slope,) = torch.autograd.grad(y.sum(), x)
    assert slope.tolist() == [1.0, 1.0, 1.0, -1.0, 1.0, -1.0]  # +1 at 0, as eagerly


@compiled_test
@pytest.mark.parametrize("name", list(COMPILED))
def test_compiled_matches_torch_at_exact_and_extreme_points(name):
    ours, theirs = COMPILED[name]
    compiled = torch.compile(ours, fullgraph=True)
    x = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 2.5, -2.5, 10.0, -10.0, 20.0, 21.0, -88.0,
                      88.0, -1e4, 1e4, -math.inf, math.inf])  # fmt: skip
    assert_matches_torch(compiled, theirs, x, **TOL_ELEMENTWISE[torch.float32])
    x = torch.randn(1000, generator=torch.Generator().manual_seed(0)) * 10
    assert_matches_torch(compiled, theirs, x, **TOL_ELEMENTWISE[torch.float32])


# --- PReLU, RReLU, maxout ----------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (6, 3), (5,), ()])
@pytest.mark.parametrize("per_channel", [False, True])
def test_prelu_values_and_weight_gradient_match_torch(shape, per_channel):
    channels = shape[1] if len(shape) >= 2 else 1
    n = channels if per_channel else 1
    x = torch.randn(shape, dtype=torch.float64)
    w = torch.rand(n, dtype=torch.float64)
    results = []
    for fn in (A.prelu, F.prelu):
        xi, wi = x.clone().requires_grad_(), w.clone().requires_grad_()
        y = fn(xi, wi)
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
        results.append((y.detach(), xi.grad, wi.grad))
    torch.testing.assert_close(results[0], results[1])
    assert gradcheck(A.prelu, (_smooth_input(shape), w.clone().requires_grad_()))


def test_prelu_module_learns_its_slope():
    torch.manual_seed(0)
    module = A.PReLU(num_parameters=3, init=0.25)
    x = -torch.rand(16, 3, 4, 4)
    target = -0.5 * x.abs()  # the best slope is 0.5
    opt = torch.optim.SGD(module.parameters(), lr=0.5)
    for _ in range(200):
        opt.zero_grad()
        ((module(x) - target) ** 2).mean().backward()
        opt.step()
    torch.testing.assert_close(module.weight.detach(), torch.full((3,), 0.5), atol=1e-3, rtol=0)
    assert repr(module) == "PReLU(num_parameters=3)"


def test_rrelu_training_draws_uniform_slopes_and_backward_uses_them():
    g = torch.Generator().manual_seed(0)
    x = torch.full((100_000,), -1.0, dtype=torch.float64, requires_grad=True)
    y = A.rrelu(x, 0.1, 0.3, training=True, generator=g)
    slopes = -y.detach()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert slopes.mean().item() == pytest.approx(0.2, abs=2e-3)
    assert slopes.var().item() == pytest.approx(0.2**2 / 12, rel=0.05)  # variance of U(a, b)
    y.sum().backward()
    torch.testing.assert_close(x.grad, slopes)
    positive = torch.rand(10, dtype=torch.float64)
    assert torch.equal(A.rrelu(positive, training=True), positive)


def test_rrelu_generator_makes_it_reproducible_and_module_modes():
    x = torch.randn(50)
    a = A.rrelu(x, training=True, generator=torch.Generator().manual_seed(3))
    b = A.rrelu(x, training=True, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    module = A.RReLU(0.1, 0.3)
    module.eval()
    torch.testing.assert_close(module(x), F.leaky_relu(x, 0.2))
    module.train()
    assert not torch.equal(module(x), F.leaky_relu(x, 0.2))


def _maxout_weights(pieces_rows, dtype=torch.float64):
    return torch.tensor(pieces_rows, dtype=dtype)


def test_maxout_reproduces_relu_and_leaky_relu_exactly():
    x = torch.linspace(-3, 3, 61, dtype=torch.float64).unsqueeze(-1)
    relu_w = _maxout_weights([[1.0], [0.0]])
    leaky_w = _maxout_weights([[1.0], [0.1]])
    assert torch.equal(A.maxout(x, relu_w, pieces=2), F.relu(x))
    assert torch.equal(A.maxout(x, leaky_w, pieces=2), torch.maximum(x, 0.1 * x))


def test_maxout_gradient_flows_through_the_winning_piece():
    torch.manual_seed(0)
    layer = A.Maxout(4, 3, pieces=5).double()
    x = torch.randn(8, 4, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda v, w, b: A.maxout(v, w, b, 5), (x, layer.weight, layer.bias))
    jac = torch.autograd.functional.jacobian(lambda v: layer(v.unsqueeze(0))[0], x[0].detach())
    torch.testing.assert_close(A.maxout_derivative(x[0].detach(), layer.weight, layer.bias, 5), jac)
    assert layer(x).shape == (8, 3)
    assert repr(layer) == "Maxout(in_features=4, out_features=3, pieces=5, bias=True)"


def test_modules_match_functions():
    x = torch.randn(4, 3)
    pairs = [
        (A.Sigmoid(), torch.nn.Sigmoid()), (A.Tanh(), torch.nn.Tanh()), (A.ReLU(), torch.nn.ReLU()),
        (A.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)), (A.ELU(0.7), torch.nn.ELU(0.7)),
        (A.SELU(), torch.nn.SELU()), (A.GELU("tanh"), torch.nn.GELU("tanh")),
        (A.SiLU(), torch.nn.SiLU()), (A.Softplus(2.0, 10.0), torch.nn.Softplus(2.0, 10.0)),
        (A.Mish(), torch.nn.Mish()), (A.Softmax(1), torch.nn.Softmax(1)),
        (A.LogSoftmax(0), torch.nn.LogSoftmax(0)), (A.Identity(), torch.nn.Identity()),
    ]  # fmt: skip
    for ours, theirs in pairs:
        torch.testing.assert_close(ours(x), theirs(x))
    assert repr(A.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"


def test_identity_is_a_copy_with_unit_gradient():
    x = torch.randn(3, requires_grad=True)
    y = A.identity(x)
    y.sum().backward()
    assert torch.equal(y, x) and y.data_ptr() != x.data_ptr()
    assert torch.equal(x.grad, torch.ones(3))


# --- devices ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(ALL_PAIRS))
def test_runs_on_the_inputs_device_and_dtype(name, device):
    ours, _ = ALL_PAIRS[name]
    x = torch.randn(4, 5, device=device, requires_grad=True)
    y = ours(x)
    y.sum().backward()
    assert y.device == x.grad.device == x.device and y.dtype == torch.float32


def half_tolerance(dtype: torch.dtype) -> dict:
    """Tolerance for comparing two half-precision results, in units of the format's epsilon.

    Each side rounds every intermediate to the format (relative error eps/2 each), and nnlib
    composes an activation from a few such operations where torch rounds once; a gradient
    multiplies a few rounded factors more (tanh's is 1 - y**2 from the rounded output y).
    Measured on inputs of scale 3: values differ by at most 1.2 eps (relative to max(|y|, 1)),
    gradients by at most 4.4 eps. Allowed: 8 eps, relative and absolute (values of order 1).
    """
    eps = torch.finfo(dtype).eps  # 2**-10 for float16, 2**-7 for bfloat16
    return dict(rtol=8 * eps, atol=8 * eps)


@pytest.mark.parametrize("name", list(ALL_PAIRS))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_on_cpu_matches_torch(name, dtype):
    """float16 and bfloat16 run on the CPU too: values, gradients and dtype as torch's."""
    ours, theirs = ALL_PAIRS[name]
    x = (torch.randn(64, 33, generator=torch.Generator().manual_seed(0)) * 3).to(dtype)
    assert_matches_torch(ours, theirs, x, **half_tolerance(dtype))
    assert ours(x).dtype == dtype


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(ALL_PAIRS))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_cuda_forward_matches_torch(name, dtype):
    ours, theirs = ALL_PAIRS[name]
    x = torch.randn(64, 33, device="cuda", dtype=dtype) * 3
    tol = dict(rtol=1e-2, atol=1e-2) if dtype != torch.float32 else dict(rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours(x), theirs(x), **tol)


@pytest.mark.gpu
def test_rrelu_cpu_generator_drives_cuda_input():
    x = -torch.ones(1000, device="cuda")
    a = A.rrelu(x, 0.1, 0.3, training=True, generator=torch.Generator().manual_seed(0))
    b = A.rrelu(x.cpu(), 0.1, 0.3, training=True, generator=torch.Generator().manual_seed(0))
    assert a.device.type == "cuda"
    torch.testing.assert_close(a.cpu(), b)


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(ALL_PAIRS))
def test_cuda_gradients_match_cpu(name):
    ours, _ = ALL_PAIRS[name]
    x = torch.randn(64, 33, dtype=torch.float64) * 3
    cpu = outputs_and_grads(ours, x)
    gpu = outputs_and_grads(ours, x.cuda())
    torch.testing.assert_close(tuple(t.cpu() for t in gpu), cpu)


# --- errors ----------------------------------------------------------------------------------
FLOAT_MSG = r"^input must be a floating-point tensor \(float16, bfloat16, float32 or float64\); got dtype torch.int64$"  # noqa: E501


@pytest.mark.parametrize("name", list(ALL_PAIRS))
def test_integer_input_is_rejected(name):
    if name == "identity":
        return  # the identity accepts any tensor
    with pytest.raises(TypeError, match=FLOAT_MSG):
        ALL_PAIRS[name][0](torch.tensor([1, 2, 3]))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda x: A.relu(x, inplace=True), ValueError, r"^inplace must be False .*got True$"),
        (lambda x: A.rrelu(x, 0.5, 0.1), ValueError,
         r"^lower must be <= upper; got lower=0.5, upper=0.1$"),
        (lambda x: A.gelu(x, "fast"), ValueError,
         r"^approximate must be one of 'none', 'tanh'; got 'fast'$"),
        (lambda x: A.softplus(x, beta=0), ValueError, r"^beta must be > 0; got 0$"),
        (lambda x: A.softplus(x, beta=-1), ValueError, r"^beta must be > 0; got -1$"),
        (lambda x: A.leaky_relu(x, "0.1"), TypeError, r"^negative_slope must be a real number"),
        (lambda x: A.elu(x, float("nan")), ValueError, r"^alpha must be finite; got nan$"),
        (lambda x: A.softmax(x, 2), ValueError, r"^dim must be in \[-2, 1\] for a 2-d input; got 2$"),
        (lambda x: A.softmax(x, None), TypeError, r"^dim must be an integer .*got None$"),
        (lambda x: A.log_softmax(x, 1.0), TypeError, r"^dim must be an integer; got 1.0 \(float\)$"),
        (lambda x: A.prelu(x, torch.ones(2)), ValueError,
         r"^weight must be a 1-d tensor of 1 or 3 \(channels, dim 1 of input\) elements; got shape \(2,\)$"),
        (lambda x: A.maxout(x, torch.ones(5, 3), pieces=2), ValueError,
         r"^weight must have shape \(out_features \* pieces, in_features\) with pieces=2; got \(5, 3\)$"),
        (lambda x: A.maxout(x, torch.ones(4, 2), pieces=2), ValueError,
         r"^input must have 2 features in its last dim \(weight's in_features\); got shape \(4, 3\)$"),
        (lambda x: A.maxout(x, torch.ones(4, 3), pieces=0), ValueError, r"^pieces must be in \[1, inf\]; got 0$"),
        (lambda x: A.maxout(x, torch.ones(4, 3), torch.ones(3)), ValueError,
         r"^bias must have shape \(4,\); got \(3,\)$"),
        (lambda x: A.maxout(x, torch.ones(4, 3), torch.ones(4, dtype=torch.float64)), TypeError,
         r"^bias must have the input's dtype \(torch.float32\); got torch.float64$"),
        (lambda x: A.sigmoid(x.numpy()), TypeError, r"^input must be a torch.Tensor; got array"),
    ],
)  # fmt: skip
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call(torch.randn(4, 3))


def test_module_constructors_validate():
    with pytest.raises(ValueError, match=r"^lower must be <= upper"):
        A.RReLU(0.4, 0.2)
    with pytest.raises(ValueError, match=r"^num_parameters must be in \[1, inf\]; got 0$"):
        A.PReLU(0)
    with pytest.raises(ValueError, match=r"^pieces must be in \[1, inf\]; got 0$"):
        A.Maxout(3, 2, pieces=0)


# --- derivative helpers with parameters: each parameter must reach the derivative -------------
def _channel_input(seed: int = 5) -> torch.Tensor:
    """(N, C=3, L) values spread over [-6, 6], none exactly 0 (no kink to disagree on)."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(4, 3, 25, generator=g, dtype=torch.float64) - 0.5) * 12
    return torch.where(x.abs() < 1e-3, torch.full_like(x, 0.5), x)


PRELU_WEIGHT = torch.tensor([0.1, -0.5, 2.0], dtype=torch.float64)  # one slope per channel

# name: (derivative helper, the function it differentiates, keyword arguments to try, the
# same helper with a plausible bug: a parameter ignored (defaults used) or channel 0's slope
# used for every channel)
PARAMETRISED = {
    "leaky_relu": (A.leaky_relu_derivative, A.leaky_relu,
                   [dict(negative_slope=s) for s in (0.0, 0.2, 1.5)],
                   lambda x, **kw: A.leaky_relu_derivative(x)),
    "elu": (A.elu_derivative, A.elu, [dict(alpha=a) for a in (0.5, 2.0)],
            lambda x, **kw: A.elu_derivative(x)),
    "gelu": (A.gelu_derivative, A.gelu, [dict(approximate=m) for m in ("none", "tanh")],
             lambda x, **kw: A.gelu_derivative(x)),
    "softplus": (A.softplus_derivative, A.softplus,
                 [dict(beta=b, threshold=t) for b in (0.5, 3.0) for t in (20.0, 2.0)],
                 lambda x, **kw: A.softplus_derivative(x)),
    "rrelu": (A.rrelu_derivative, lambda x, **kw: A.rrelu(x, training=False, **kw),
              [dict(lower=0.1, upper=0.3), dict(lower=0.0, upper=0.9)],
              lambda x, **kw: A.rrelu_derivative(x)),
    "prelu": (A.prelu_derivative, A.prelu, [dict(weight=PRELU_WEIGHT)],
              lambda x, weight: A.prelu_derivative(x, weight[:1].expand(3))),
}  # fmt: skip


def _derivative_equals_autograd(derivative, function, kwargs) -> bool:
    x = _channel_input().requires_grad_(True)
    (grad,) = torch.autograd.grad(function(x, **kwargs).sum(), x)
    return torch.allclose(derivative(x.detach(), **kwargs), grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", PARAMETRISED)
def test_parametrised_derivative_equals_autograd_for_every_parameter(name):
    derivative, function, settings_list, _ = PARAMETRISED[name]
    for kwargs in settings_list:
        assert _derivative_equals_autograd(derivative, function, kwargs), (name, kwargs)


@pytest.mark.parametrize("name", PARAMETRISED)
def test_the_check_catches_a_derivative_that_ignores_its_parameter(name):
    _, function, settings_list, ignoring = PARAMETRISED[name]
    assert not all(_derivative_equals_autograd(ignoring, function, kw) for kw in settings_list)


# --- found by mutation testing (make mutation): each test below kills mutants that survived --
DERIVATIVES = [
    A.sigmoid_derivative, A.tanh_derivative, A.relu_derivative, A.leaky_relu_derivative,
    A.elu_derivative, A.selu_derivative, A.gelu_derivative, A.silu_derivative,
    A.softplus_derivative, A.mish_derivative, A.softmax_jacobian, A.log_softmax_jacobian,
    A.identity_derivative, A.rrelu_derivative,
]  # fmt: skip


@pytest.mark.parametrize("fn", DERIVATIVES, ids=lambda f: f.__name__)
def test_every_derivative_names_a_non_float_input(fn):
    with pytest.raises(TypeError, match=FLOAT_MSG):
        fn(torch.tensor([1, 2]))


X = torch.tensor([-1.0, 0.5])


DERIVATIVE_AND_MODULE_ARGUMENTS_ARE_NAMED = [
    (lambda: A.prelu_derivative(torch.tensor([1, 2]), torch.tensor([0.25])), TypeError, FLOAT_MSG),
    (lambda: A.prelu_derivative(X, torch.tensor([1])), TypeError,
     r"^weight must be a floating-point tensor"),
    (lambda: A.leaky_relu_derivative(X, "a"), TypeError, r"^negative_slope must be a real number"),
    (lambda: A.elu_derivative(X, "a"), TypeError, r"^alpha must be a real number"),
    (lambda: A.gelu_derivative(X, "exact"), ValueError, r"^approximate must be one of"),
    (lambda: A.softplus_derivative(X, beta=0), ValueError, r"^beta must be > 0; got 0$"),
    (lambda: A.softplus_derivative(X, beta="a"), TypeError, r"^beta must be a real number"),
    (lambda: A.softplus_derivative(X, threshold="a"), TypeError,
     r"^threshold must be a real number"),
    (lambda: A.LeakyReLU("a"), TypeError, r"^negative_slope must be a real number"),
    (lambda: A.ELU("a"), TypeError, r"^alpha must be a real number"),
    (lambda: A.GELU("exact"), ValueError, r"^approximate must be one of"),
    (lambda: A.Softmax("a"), TypeError, r"^dim must be an integer"),
    (lambda: A.LogSoftmax("a"), TypeError, r"^dim must be an integer"),
    (lambda: A.Softplus(beta=0), ValueError, r"^beta must be > 0; got 0$"),
    (lambda: A.Softplus(beta="a"), TypeError, r"^beta must be a real number"),
    (lambda: A.Softplus(threshold="a"), TypeError, r"^threshold must be a real number"),
]  # fmt: skip


# Built inside the test, not at import: mutmut switches a mutant on only after import, so a
# module constructed at import time would never see a mutated default.
MODULE_PAIRS = {
    "LeakyReLU()": lambda: (A.LeakyReLU(), torch.nn.LeakyReLU()),
    "ELU()": lambda: (A.ELU(), torch.nn.ELU()),
    "GELU()": lambda: (A.GELU(), torch.nn.GELU()),
    "Softplus()": lambda: (A.Softplus(), torch.nn.Softplus()),
    "Softplus(beta=0.5)": lambda: (A.Softplus(beta=0.5), torch.nn.Softplus(beta=0.5)),
    "Softmax(1)": lambda: (A.Softmax(1), torch.nn.Softmax(1)),
    "LogSoftmax(0)": lambda: (A.LogSoftmax(0), torch.nn.LogSoftmax(0)),
}  # fmt: skip


@pytest.mark.parametrize("pair", MODULE_PAIRS)
def test_modules_with_default_arguments_match_torch(pair):
    ours, theirs = MODULE_PAIRS[pair]()
    x = torch.linspace(-6, 6, 24, dtype=torch.float64).reshape(4, 6)
    torch.testing.assert_close(ours(x), theirs(x))


def test_softplus_threshold_default_is_torchs_twenty():
    # Above beta*x = 20 softplus returns x itself and its slope is exactly 1, as in torch;
    # below, log1p(exp(x)) exceeds x by about 2e-9 (visible only in an exact comparison).
    x = torch.tensor([20.5], dtype=torch.float64, requires_grad=True)
    torch.nn.Softplus()(x).backward()
    assert A.Softplus()(x).item() == 20.5 == torch.nn.Softplus()(x).item()
    assert A.softplus_derivative(x.detach()).item() == 1.0 == x.grad.item()
    below = torch.tensor([19.5], dtype=torch.float64)
    assert A.softplus_derivative(below).item() < 1.0


def test_module_reprs_list_their_arguments():
    assert repr(A.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(A.GELU("tanh")) == "GELU(approximate='tanh')"


def test_rrelu_module_uses_its_generator():
    x = -torch.ones(1000)
    module = A.RReLU(0.1, 0.3, generator=torch.Generator().manual_seed(0)).train()
    expected = A.rrelu(x, 0.1, 0.3, training=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(module(x), expected)


@pytest.mark.parametrize("fn", [A.softmax_jacobian, A.log_softmax_jacobian],
                         ids=lambda f: f.__name__)  # fmt: skip
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_jacobians_of_batched_rows_match_autograd(fn, dtype):
    """Rows of a (2, 3, 4) input, each with its own 4x4 Jacobian, in the input's dtype."""
    x = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0)).to(dtype)
    f = F.softmax if fn is A.softmax_jacobian else F.log_softmax
    got = fn(x)
    assert got.shape == (2, 3, 4, 4) and got.dtype == dtype
    for i in range(2):
        for j in range(3):
            row = x[i, j].double()
            expected = torch.autograd.functional.jacobian(lambda r: f(r, -1), row)
            tol = half_tolerance(dtype) if dtype == torch.float16 else {}
            torch.testing.assert_close(got[i, j].double(), expected, **tol)


def test_maxout_abs_derivative_is_zero_at_zero_and_keeps_the_shape():
    derivative = REG["maxout"].derivative
    got = derivative(torch.tensor([[-1.0, 0.0, 2.0], [3.0, -0.5, 0.0]]))
    assert got.tolist() == [[-1.0, 0.0, 1.0], [1.0, -1.0, 0.0]]


def test_prelu_derivative_has_the_inputs_dtype():
    x = torch.tensor([-1.0, 2.0], dtype=torch.float64)
    got = A.prelu_derivative(x, torch.tensor([0.25]))
    assert got.dtype == torch.float64 and got.tolist() == [0.25, 1.0]


def test_softmax_registry_derivative_is_the_jacobian_diagonal_along_the_last_dim():
    x = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = torch.softmax(x, -1)
    torch.testing.assert_close(REG["softmax"].derivative(x), s * (1 - s))


def _maxout_reference(x, weight, bias, pieces):
    z = x @ weight.T + (0 if bias is None else bias)
    return z.view(*z.shape[:-1], -1, pieces).max(-1).values


@pytest.mark.parametrize("bias", [True, False])
def test_maxout_values_equal_the_max_over_affine_pieces(bias):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, generator=g, dtype=torch.float64)
    w = torch.randn(3 * 2, 4, generator=g, dtype=torch.float64)
    b = torch.randn(3 * 2, generator=g, dtype=torch.float64) if bias else None
    torch.testing.assert_close(A.maxout(x, w, b), _maxout_reference(x, w, b, 2))  # default: 2
    layer = A.Maxout(4, 3, pieces=2, bias=bias).double()
    torch.testing.assert_close(layer(x), _maxout_reference(x, layer.weight, layer.bias, 2))


MAXOUT_AND_IDENTITY_ARGUMENTS_ARE_NAMED = [
    (lambda: A.maxout(torch.randn(2, 3), torch.ones(4, 3, dtype=torch.int64)), TypeError,
     r"^weight must be a floating-point tensor"),
    (lambda: A.maxout(torch.randn(2, 3), torch.ones(4, 3), torch.ones(4, dtype=torch.int64)),
     TypeError, r"^bias must be a floating-point tensor"),
    (lambda: A.maxout(torch.randn(2, 3), torch.ones(4, 3), torch.ones(3)), ValueError,
     r"^bias must have shape \(4,\); got \(3,\)$"),
    (lambda: A.identity("x"), TypeError, r"^input must be a torch.Tensor"),
]  # fmt: skip


def test_rrelu_accepts_equal_bounds_like_torch():
    x = -torch.ones(5)
    got = A.rrelu(x, 0.2, 0.2, training=True, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(got, F.rrelu(x, 0.2, 0.2, training=True))


def test_softmax_dtype_argument_casts_first_like_torch():
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    for fn, theirs in [(A.softmax, F.softmax), (A.log_softmax, F.log_softmax)]:
        got = fn(x, 1, dtype=torch.float64)
        assert got.dtype == torch.float64
        torch.testing.assert_close(got, theirs(x, 1, dtype=torch.float64))


def test_softplus_function_threshold_default_is_twenty():
    x = torch.tensor([20.5], dtype=torch.float64)
    assert A.softplus(x).item() == 20.5 == F.softplus(x).item()


def test_prelu_s_largest_derivative_and_monotonicity_depend_on_its_slope():
    x = GRID[(GRID > -10) & (GRID < 10)]
    for a, largest, monotone in ((0.25, 1.0, True), (2.5, 2.5, True), (-1.0, 1.0, False)):
        d = A.prelu_derivative(x, torch.tensor([a], dtype=torch.float64))
        assert d.abs().max().item() == largest and bool((d >= 0).all()) == monotone, a
    torch.testing.assert_close(  # at a = -1 PReLU is |x|, maxout's example
        A.prelu(x, torch.tensor([-1.0], dtype=torch.float64)), REG["maxout"].function(x)
    )


def test_registry_entries_are_complete_and_typed():
    assert {spec.name for spec in REG.values()} == set(REG)
    for name, spec in REG.items():
        assert isinstance(spec.label, str) and spec.label and isinstance(spec.formula, str), name
        # math only: no words inside it, no dollars (the chapter adds them)
        assert "\\text" not in spec.formula and "$" not in spec.formula, name
        assert callable(spec.function) and callable(spec.derivative), name
        assert callable(spec.torch_function) and isinstance(spec.output_range, str), name
        assert isinstance(spec.saturates, str), name
        for flag in (spec.zero_centred, spec.smooth, spec.elementwise):
            assert isinstance(flag, bool), name
        assert spec.max_derivative is None or isinstance(spec.max_derivative, float), name
        assert spec.monotonic is None or isinstance(spec.monotonic, bool), name
    # "learned": what depends on the parameters is left open, and only there
    learned = {name for name, spec in REG.items() if spec.monotonic is None}
    assert learned == {name for name, spec in REG.items() if spec.max_derivative is None}
    assert learned == {"prelu", "maxout"}
    assert REG["relu"].elementwise and not REG["softmax"].elementwise
    assert REG["sigmoid"].label == "Sigmoid" and not REG["relu"].smooth and REG["tanh"].smooth


REMAINING_ARGUMENTS_ARE_NAMED = [
    (lambda: A.rrelu(X, "a"), TypeError, r"^lower must be a real number"),
    (lambda: A.rrelu(X, 0.1, "a"), TypeError, r"^upper must be a real number"),
    (lambda: A.softplus(X, threshold="a"), TypeError, r"^threshold must be a real number"),
    (lambda: A.softmax(X, 0, dtype=torch.int64), TypeError,
     r"^dtype must be a floating-point tensor .*got dtype torch.int64$"),
    (lambda: A.prelu(X, torch.tensor([1])), TypeError, r"^weight must be a floating-point"),
    (lambda: A.prelu(X, torch.ones(2) * 0.25), ValueError,
     r"^weight must be a 1-d tensor of 1 or 1 \(channels, dim 1 of input\) elements"),
    (lambda: A.prelu(X, torch.ones(1, 1) * 0.25), ValueError, r"^weight must be a 1-d tensor"),
    (lambda: A.prelu(torch.randn(2, 3), torch.ones(3, device="meta")), ValueError,
     r"^weight must be on the same device as input \(cpu\); got meta$"),
    (lambda: A.Maxout(0, 3), ValueError, r"^in_features must be in \[1, inf\]; got 0$"),
    (lambda: A.Maxout(3, 0), ValueError, r"^out_features must be in \[1, inf\]; got 0$"),
    (lambda: A.PReLU(init="a"), TypeError, r"^init must be a real number"),
]  # fmt: skip


def test_relu_of_minus_infinity_is_zero_and_leaky_relu_of_slope_one_is_the_identity():
    x = torch.tensor([-math.inf, -2.0, 3.0], requires_grad=True)
    assert A.relu(x).tolist() == [0.0, 0.0, 3.0] == F.relu(x).tolist()  # not 0 * -inf = nan
    y = A.leaky_relu(x, 1.0)
    assert y.tolist() == x.tolist()
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert grad.tolist() == [1.0, 1.0, 1.0]


def test_prelu_with_two_channels_matches_torch():
    x = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w = torch.tensor([0.1, 0.4], dtype=torch.float64)
    torch.testing.assert_close(A.prelu(x, w), F.prelu(x, w))


def test_module_defaults_and_initialisation_match_torch():
    prelu = A.PReLU()
    assert prelu.weight.tolist() == torch.nn.PReLU().weight.tolist() == [0.25]
    torch.manual_seed(0)
    layer = A.Maxout(1, 1)  # the smallest layer is allowed
    assert layer.weight.shape == (2, 1) and layer.pieces == 2  # two pieces by default
    assert A.Maxout(4, 3, bias=False).bias is None
    torch.manual_seed(0)
    wide = A.Maxout(16, 250, pieces=4)  # 4000 weights, uniform in +-1/sqrt(16) = +-0.25
    for p in (wide.weight, wide.bias):
        assert -0.25 <= p.min().item() < -0.24 and 0.24 < p.max().item() <= 0.25


def test_log_softmax_shifts_each_row_by_its_own_max():
    x = torch.tensor([[1000.0, 999.0], [0.0, -1.0]], dtype=torch.float64)
    torch.testing.assert_close(A.log_softmax(x, 1), F.log_softmax(x, 1))  # no -inf in row 2


def test_maxout_derivative_defaults_to_two_pieces_and_uses_the_bias():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, generator=g, dtype=torch.float64)
    w = torch.randn(6, 4, generator=g, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64) * 5
    jac = torch.autograd.functional.jacobian(lambda v: _maxout_reference(v, w, b, 2), x)
    torch.testing.assert_close(A.maxout_derivative(x, w, b), jac)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    DERIVATIVE_AND_MODULE_ARGUMENTS_ARE_NAMED
    + MAXOUT_AND_IDENTITY_ARGUMENTS_ARE_NAMED
    + REMAINING_ARGUMENTS_ARE_NAMED,
)
def test_more_arguments_are_named(call, error, message):
    """Arguments whose errors mutation testing found untested, each named in its message."""
    with pytest.raises(error, match=message):
        call()


def test_softmax_shifts_each_row_by_its_own_maximum():
    """Rows on very different scales: shifted by one maximum for all rows, the small row's
    exponentials would underflow to 0 and its softmax would be 0/0."""
    x = torch.tensor([[0.0, 1.0], [1000.0, 1001.0]])
    for ours, theirs in ((A.softmax, F.softmax), (A.log_softmax, F.log_softmax)):
        torch.testing.assert_close(ours(x, -1), theirs(x, -1))
        torch.testing.assert_close(ours(x.T, 0), theirs(x.T, 0))
