"""nnlib.norm.batch_norm and BatchNorm1d/2d against torch.nn.functional.batch_norm and torch.nn."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd import gradcheck, gradgradcheck

from nnlib.norm import BatchNorm1d, BatchNorm2d, LayerNorm, batch_norm, layer_norm
from tests.nnlib.support import TOL_SUMS


def _run(fn, x, running, weight, bias, upstream, **kwargs):
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, weight, bias) if t is not None]
    stats = [None if r is None else r.clone() for r in running]
    it = iter(leaves)
    args = [next(it)] + stats + [next(it) if weight is not None else None,
                                 next(it) if bias is not None else None]  # fmt: skip
    y = fn(*args, **kwargs)
    grads = torch.autograd.grad((y * upstream).sum(), leaves)
    return [y.detach(), *grads, *[s for s in stats if s is not None]]


@settings(max_examples=60, deadline=None)
@given(
    shape=st.sampled_from([(6, 3), (4, 2, 5), (2, 3, 4, 5), (3, 1, 2, 2, 2)]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    training=st.booleans(),
    has_weight=st.booleans(),
    has_bias=st.booleans(),
    running=st.booleans(),
    momentum=st.sampled_from([0.0, 0.1, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_matches_torch_values_gradients_and_running_statistics(
    shape, dtype, training, has_weight, has_bias, running, momentum, seed
):
    running = running or not training  # evaluation mode needs the running statistics
    g = torch.Generator().manual_seed(seed)
    c = shape[1]
    x = torch.randn(shape, generator=g, dtype=dtype) * 3 + 1
    weight = torch.randn(c, generator=g, dtype=dtype) if has_weight else None
    bias = torch.randn(c, generator=g, dtype=dtype) if has_bias else None
    stats = ((torch.randn(c, generator=g, dtype=dtype), torch.rand(c, generator=g, dtype=dtype) + 0.5)
             if running else (None, None))  # fmt: skip
    upstream = torch.randn(shape, generator=g, dtype=dtype)
    kwargs = dict(training=training, momentum=momentum, eps=1e-5)
    ours = _run(batch_norm, x, stats, weight, bias, upstream, **kwargs)
    theirs = _run(F.batch_norm, x, stats, weight, bias, upstream, **kwargs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a, b, **TOL_SUMS[dtype])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4, 3)])
def test_gradcheck_and_gradgradcheck(training, shape):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    rm, rv = torch.randn(3, dtype=torch.float64), torch.rand(3, dtype=torch.float64) + 0.5

    def f(x, w, b):
        return batch_norm(x, None if training else rm, None if training else rv, w, b, training)

    assert gradcheck(f, (x, w, b)) and gradgradcheck(f, (x, w, b))


def test_training_gradient_has_no_component_along_the_mean_or_x_hat():
    """The derivation's claim: per channel, dL/dx sums to zero, and it is orthogonal to x_hat
    up to a factor eps / (var + eps): sum(x_hat**2) is m var / (var + eps), not m."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    up = torch.randn(8, 3, 4, 4, generator=g, dtype=torch.float64)
    dims = (0, 2, 3)
    for eps, along_x_hat in [(1e-12, 1e-9), (1e-5, 1e-3)]:
        y = batch_norm(x, None, None, training=True, eps=eps)
        (grad,) = torch.autograd.grad((y * up).sum(), x)
        x_hat = y.detach()
        assert grad.sum(dims).abs().max().item() < 1e-12
        ratio = (grad * x_hat).sum(dims).abs() / (grad.abs() * x_hat.abs()).sum(dims)
        assert ratio.max().item() < along_x_hat
        if eps == 1e-5:  # and it is not exactly zero: eps leaves a trace, as derived
            assert ratio.max().item() > 1e-9


def test_modules_match_torch_over_training_steps_and_in_eval():
    torch.manual_seed(0)
    for ours, theirs, shape in [(BatchNorm2d(3), torch.nn.BatchNorm2d(3), (4, 3, 5, 5)),
                                (BatchNorm1d(3, momentum=0.3), torch.nn.BatchNorm1d(3, momentum=0.3),
                                 (6, 3)),
                                (BatchNorm1d(2, affine=False), torch.nn.BatchNorm1d(2, affine=False),
                                 (4, 2, 7))]:  # fmt: skip
        ours, theirs = ours.double(), theirs.double()
        for _ in range(3):
            x = torch.randn(shape, dtype=torch.float64) * 2 + 0.5
            torch.testing.assert_close(ours(x), theirs(x))
        torch.testing.assert_close(ours.running_mean, theirs.running_mean)
        torch.testing.assert_close(ours.running_var, theirs.running_var)
        ours.eval(), theirs.eval()
        x = torch.randn(shape, dtype=torch.float64)
        torch.testing.assert_close(ours(x), theirs(x))
    assert repr(BatchNorm2d(4)) == "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True)"
    assert BatchNorm2d(4).weight.tolist() == [1.0] * 4 and BatchNorm2d(4).bias.tolist() == [0.0] * 4


def test_modules_count_batches_and_share_torchs_state_dict():
    """num_batches_tracked counts training-mode batches only, momentum=None is the cumulative
    average, and a torch module's state_dict loads into nnlib's (and back) unchanged."""
    torch.manual_seed(0)
    for momentum in (None, 0.1):
        ours = BatchNorm1d(3, momentum=momentum).double()
        theirs = torch.nn.BatchNorm1d(3, momentum=momentum).double()
        assert set(ours.state_dict()) == set(theirs.state_dict())
        for _ in range(4):
            x = torch.randn(5, 3, dtype=torch.float64) * 3 - 1
            torch.testing.assert_close(ours(x), theirs(x))
        ours.eval(), theirs.eval()
        x = torch.randn(5, 3, dtype=torch.float64)
        torch.testing.assert_close(ours(x), theirs(x))  # evaluation counts nothing
        assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 4
        torch.testing.assert_close(ours.running_mean, theirs.running_mean)
        torch.testing.assert_close(ours.running_var, theirs.running_var)
        copy = BatchNorm1d(3, momentum=momentum).double()
        copy.load_state_dict(theirs.state_dict())
        assert copy.num_batches_tracked.item() == 4
        theirs.load_state_dict(ours.state_dict())
    batches = [torch.randn(6, 2, dtype=torch.float64) for _ in range(3)]
    cumulative = BatchNorm1d(2, momentum=None).double()
    for x in batches:
        cumulative(x)
    torch.testing.assert_close(
        cumulative.running_mean, torch.stack([x.mean(0) for x in batches]).mean(0)
    )
    torch.testing.assert_close(cumulative.running_var,
                               torch.stack([x.var(0) for x in batches]).mean(0))  # fmt: skip


def test_eval_mode_gradient_is_gamma_over_the_running_std():
    x = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    rm, rv = (
        torch.tensor([0.5, -1.0], dtype=torch.float64),
        torch.tensor([4.0, 0.25], dtype=torch.float64),
    )
    w = torch.tensor([3.0, -2.0], dtype=torch.float64)
    batch_norm(x, rm, rv, w, eps=0.0 + 1e-12).sum().backward()
    expected = (w / torch.sqrt(rv + 1e-12)).expand(4, 2)
    torch.testing.assert_close(x.grad, expected)


X = torch.randn(4, 3, 5)
C3 = torch.ones(3)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: batch_norm(X.long(), C3, C3), TypeError, r"^input must be a floating-point tensor"),
        (lambda: batch_norm(X[0, 0], None, None, training=True), ValueError,
         r"^input must have a channel dim: shape \(N, C, \.\.\.\); got \(5,\)$"),
        (lambda: batch_norm(X, torch.ones(4), C3), ValueError,
         r"^running_mean must have shape \(3,\), one value per channel \(dim 1 of input\); got \(4,\)$"),
        (lambda: batch_norm(X, C3, torch.ones(2)), ValueError, r"^running_var must have shape \(3,\)"),
        (lambda: batch_norm(X, C3, C3, weight=torch.ones(2)), ValueError, r"^weight must have shape"),
        (lambda: batch_norm(X, C3, C3, bias=torch.ones(3, dtype=torch.float64)), TypeError,
         r"^bias must have the input's dtype \(torch.float32\); got torch.float64$"),
        (lambda: batch_norm(X, C3, C3, weight=torch.ones(3, device="meta")), ValueError,
         r"^weight must be on the same device as input \(cpu\); got meta$"),
        (lambda: batch_norm(X, None, None), ValueError,
         r"^evaluation mode \(training=False\) needs running_mean and running_var$"),
        (lambda: batch_norm(X[:1, :, :1], None, None, training=True), ValueError,
         r"^training mode needs more than one value per channel .*got input of shape \(1, 3, 1\)$"),
        (lambda: batch_norm(X, C3, C3, training=1), TypeError, r"^training must be a bool; got 1$"),
        (lambda: batch_norm(X, C3, C3, momentum=1.5), ValueError,
         r"^momentum must be in \[0, 1\]; got 1\.5$"),
        (lambda: batch_norm(X, C3, C3, momentum=-0.1), ValueError, r"^momentum must be >= 0"),
        (lambda: batch_norm(X, C3, C3, eps=0), ValueError, r"^eps must be > 0; got 0$"),
        (lambda: batch_norm(X, C3.long(), C3), TypeError, r"^running_mean must be a floating-point"),
        (lambda: batch_norm(X, C3, C3.double()), TypeError,
         r"^running_var must have the input's dtype \(torch.float32\); got torch.float64$"),
        (lambda: batch_norm(X, C3, C3, weight=C3.double()), TypeError,
         r"^weight must have the input's dtype"),
        (lambda: batch_norm(X.double(), C3.double(), C3.double(), weight=C3), TypeError,
         r"^weight must have the input's dtype \(torch.float64\); got torch.float32$"),
        (lambda: batch_norm(X, C3, None), ValueError,
         r"^evaluation mode \(training=False\) needs running_mean and running_var$"),
        (lambda: batch_norm(X, None, C3), ValueError, r"^evaluation mode"),
        (lambda: BatchNorm2d(3, eps=0), ValueError, r"^eps must be > 0; got 0$"),
        (lambda: BatchNorm2d(3, eps="a"), TypeError, r"^eps must be a real number"),
        (lambda: BatchNorm2d(3, momentum=-0.1), ValueError, r"^momentum must be >= 0"),
        (lambda: BatchNorm2d(3, momentum="a"), TypeError, r"^momentum must be a real number"),
        (lambda: BatchNorm2d(3)(X), ValueError,
         r"^input must be 4-d for BatchNorm2d; got shape \(4, 3, 5\)$"),
        (lambda: BatchNorm1d(3)(X[None]), ValueError, r"^input must be 2-d or 3-d for BatchNorm1d"),
        (lambda: BatchNorm1d(0), ValueError, r"^num_features must be in \[1, inf\]; got 0$"),
    ],
)  # fmt: skip
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.gpu
def test_cuda_matches_cpu():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 5, 5, generator=g, dtype=torch.float64)
    up = torch.randn(4, 3, 5, 5, generator=g, dtype=torch.float64)
    w, b = (
        torch.rand(3, generator=g, dtype=torch.float64),
        torch.randn(3, generator=g, dtype=torch.float64),
    )
    stats = (torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    cpu = _run(batch_norm, x, stats, w, b, up, training=True)
    gpu = _run(batch_norm, x.cuda(), tuple(s.cuda() for s in stats), w.cuda(), b.cuda(), up.cuda(),
               training=True)  # fmt: skip
    for a, c in zip(gpu, cpu, strict=True):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a.cpu(), c)


def test_eval_gradients_for_the_running_statistics_pass_gradcheck():
    """Evaluation mode treats the statistics as inputs: dL/dmean = -sum(g gamma / s) and
    dL/dvar = -1/2 sum(g gamma x_hat / s**2), checked numerically."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    rm = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    rv = (torch.rand(3, generator=g, dtype=torch.float64) + 0.5).requires_grad_(True)
    assert gradcheck(lambda x, w, rm, rv: batch_norm(x, rm, rv, w), (x, w, rm, rv))
    assert gradgradcheck(lambda x, w, rm, rv: batch_norm(x, rm, rv, w), (x, w, rm, rv))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("which", ["weight", "bias"])
def test_gradient_of_weight_or_bias_alone_matches_torch(training, which):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, 4, generator=g, dtype=torch.float64)
    params = {k: torch.randn(3, generator=g, dtype=torch.float64) for k in ("weight", "bias")}
    stats = (
        torch.randn(3, generator=g, dtype=torch.float64),
        torch.rand(3, generator=g, dtype=torch.float64) + 0.5,
    )
    up = torch.randn(5, 3, 4, generator=g, dtype=torch.float64)
    grads = []
    for fn in (batch_norm, F.batch_norm):
        leaf = params[which].clone().requires_grad_(True)
        kwargs = {**params, which: leaf}
        y = fn(x, stats[0].clone(), stats[1].clone(), training=training, **kwargs)
        (grad,) = torch.autograd.grad((y * up).sum(), leaf)
        grads.append(grad)
    torch.testing.assert_close(*grads)


def test_defaults_and_edge_sizes_match_torch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, dtype=torch.float64, generator=g) * 0.01  # eps matters at this scale
    torch.testing.assert_close(batch_norm(x, None, None, training=True),
                               F.batch_norm(x, None, None, training=True))  # fmt: skip
    stats = (torch.zeros(3, dtype=torch.float64), torch.full((3,), 1e-4, dtype=torch.float64))
    torch.testing.assert_close(batch_norm(x, *stats), F.batch_norm(x, *stats))  # default eps 1e-5
    no_channels = torch.randn(4, 0, 3)
    assert batch_norm(no_channels, None, None, training=True).shape == (4, 0, 3)


def test_module_forwards_its_parameters_and_eps():
    torch.manual_seed(0)
    ours, theirs = BatchNorm2d(3, eps=0.1).double(), torch.nn.BatchNorm2d(3, eps=0.1).double()
    with torch.no_grad():
        for p in (ours.weight, ours.bias):
            p.normal_()
        theirs.weight.copy_(ours.weight)
        theirs.bias.copy_(ours.bias)
    x = torch.randn(4, 3, 2, 2, dtype=torch.float64) * 0.3
    torch.testing.assert_close(ours(x), theirs(x))
    plain = BatchNorm1d(2, affine=False)
    assert plain.weight is None and plain.bias is None


def test_eval_gradient_for_the_running_mean_alone():
    x = torch.randn(4, 2, dtype=torch.float64)
    rm = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    rv = torch.tensor([4.0, 0.25], dtype=torch.float64)
    w = torch.tensor([3.0, -2.0], dtype=torch.float64)
    (grad,) = torch.autograd.grad(batch_norm(x, rm, rv, w).sum(), rm)
    torch.testing.assert_close(grad, -4 * w / torch.sqrt(rv + 1e-5))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("param_dtype", ["same", "float32"])
@pytest.mark.parametrize("training", [True, False])
def test_half_precision_matches_torch(dtype, param_dtype, training):
    """Low precision: normalised in float32 as torch; float32 statistics and affine
    parameters are allowed with a half input (mixed precision), as in torch."""
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(8, 3, 4, 4, generator=g) * 50 + 200).to(dtype)  # squares beyond float16
    pd = dtype if param_dtype == "same" else torch.float32
    w, b = torch.rand(3, generator=g).to(pd) + 0.5, torch.randn(3, generator=g).to(pd)
    stats = (torch.randn(3, generator=g).to(pd) + 200, (torch.rand(3, generator=g) * 2500).to(pd))
    up = torch.randn(8, 3, 4, 4, generator=g).to(dtype)
    ours = _run(batch_norm, x, stats, w, b, up, training=training)
    theirs = _run(F.batch_norm, x, stats, w, b, up, training=training)
    eps_dtype = torch.finfo(dtype).eps
    for a, c in zip(ours, theirs, strict=True):
        assert a.dtype == c.dtype and torch.isfinite(a).all()
        scale = max(c.float().abs().max().item(), 1.0)
        assert (a.float() - c.float()).abs().max().item() <= 8 * eps_dtype * scale


def _is_float32_rounded_once(result: torch.Tensor, exact: torch.Tensor) -> bool:
    """Low precision done as torch does it: the float32 computation on the same values,
    rounded once to the low-precision format at the end, bit for bit."""
    return torch.equal(result, exact.to(result.dtype))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_half_precision_is_float32_rounded_once(dtype, affine, training):
    """Outputs, gradients and running statistics of a half input equal the float32
    computation on the same (half) values, rounded once."""
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(16, 3, 8, 8, generator=g) * 3 + 300).to(dtype)  # x - mean loses bits in half
    w = (torch.rand(3, generator=g) + 0.5).to(dtype) if affine else None
    b = torch.randn(3, generator=g).to(dtype) if affine else None
    stats = (
        (torch.randn(3, generator=g) + 300).to(dtype),
        (torch.rand(3, generator=g) * 9 + 1).to(dtype),
    )
    up = torch.randn(x.shape, generator=g).to(dtype)
    ours = _run(batch_norm, x, stats, w, b, up, training=training, momentum=0.3)
    as32 = [None if t is None else t.float() for t in (x, w, b, up)]
    exact = _run(batch_norm, as32[0], tuple(t.float() for t in stats), *as32[1:], training=training,
                 momentum=0.3)  # fmt: skip
    for a, e in zip(ours, exact, strict=True):
        assert a.dtype == dtype and _is_float32_rounded_once(a, e)


@pytest.mark.parametrize("affine", [True, False])
def test_half_eval_mode_with_a_tiny_running_variance(affine):
    """var + eps far below float16's normal range keeps few bits in float16 (a subnormal
    step is 6e-8): computed in float32 as torch does, the result is still the float32 one
    rounded once."""
    g = torch.Generator().manual_seed(2)
    x = (torch.randn(4, 3, 2, 2, generator=g) * 0.01).half()
    w = (torch.rand(3, generator=g) + 0.5).half() if affine else None
    b = torch.randn(3, generator=g).half() if affine else None
    stats = (torch.zeros(3).half(), torch.tensor([3e-7, 5e-7, 1e-6]).half())  # subnormal in half
    up = torch.randn(x.shape, generator=g).half()
    ours = _run(batch_norm, x, stats, w, b, up, training=False, eps=1e-7)
    as32 = [None if t is None else t.float() for t in (x, w, b, up)]
    exact = _run(batch_norm, as32[0], tuple(t.float() for t in stats), *as32[1:], training=False,
                 eps=1e-7)  # fmt: skip
    for a, e in zip(ours, exact, strict=True):
        assert _is_float32_rounded_once(a, e)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_half_precision_is_float32_rounded_once(dtype, affine):
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(6, 64, generator=g) * 3 + 300).to(dtype)
    w = (torch.rand(64, generator=g) + 0.5).to(dtype) if affine else None
    b = torch.randn(64, generator=g).to(dtype) if affine else None
    up = torch.randn(x.shape, generator=g).to(dtype)
    ours = _ln_run(layer_norm, x, (64,), w, b, up)
    as32 = [None if t is None else t.float() for t in (x, w, b, up)]
    exact = _ln_run(layer_norm, as32[0], (64,), *as32[1:])
    for a, e in zip(ours, exact, strict=True):
        assert a.dtype == dtype and _is_float32_rounded_once(a, e)


# ---- layer normalisation ---------------------------------------------------------------


def _ln_run(fn, x, shape, weight, bias, upstream, **kwargs):
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, weight, bias) if t is not None]
    it = iter(leaves)
    args = (next(it), shape, next(it) if weight is not None else None,
            next(it) if bias is not None else None)  # fmt: skip
    y = fn(*args, **kwargs)
    return [y.detach(), *torch.autograd.grad((y * upstream).sum(), leaves)]


@settings(max_examples=80, deadline=None)
@given(
    lead=st.sampled_from([(), (4,), (2, 3)]),
    normalized=st.sampled_from([(5,), (3, 4), (2, 2, 3), (2,)]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    has_weight=st.booleans(),
    has_bias=st.booleans(),
    eps=st.sampled_from([1e-5, 1e-2]),
    seed=st.integers(0, 2**16),
)
def test_layer_norm_matches_torch_values_and_gradients(
    lead, normalized, dtype, has_weight, has_bias, eps, seed
):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(lead + normalized, generator=g, dtype=dtype) * 3 + 1
    weight = torch.randn(normalized, generator=g, dtype=dtype) if has_weight else None
    bias = torch.randn(normalized, generator=g, dtype=dtype) if has_bias else None
    up = torch.randn(x.shape, generator=g, dtype=dtype)
    ours = _ln_run(layer_norm, x, normalized, weight, bias, up, eps=eps)
    theirs = _ln_run(F.layer_norm, x, normalized, weight, bias, up, eps=eps)
    double = [None if t is None else t.double() for t in (x, weight, bias, up)]
    exact = _ln_run(F.layer_norm, double[0], normalized, *double[1:], eps=eps)
    for a, b, ref in zip(ours, theirs, exact, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        if dtype == torch.float64:
            torch.testing.assert_close(a, b, **TOL_SUMS[dtype])
        else:  # two close values in an example make the result ill-conditioned in float32:
            # then both round far from each other, so ask for torch's accuracy, not its digits
            err_ours = (a.double() - ref).abs().max().item()
            err_torch = (b.double() - ref).abs().max().item()
            assert err_ours <= 4 * err_torch + 1e-5 * max(ref.abs().max().item(), 1.0)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape,normalized", [((3, 4), (4,)), ((2, 2, 3), (2, 3)), ((4,), (4,))])
def test_layer_norm_gradcheck_and_gradgradcheck(affine, shape, normalized):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
    params = [torch.randn(normalized, generator=g, dtype=torch.float64, requires_grad=True)
              for _ in range(2 if affine else 0)]  # fmt: skip

    def fn(x, *wb):
        return layer_norm(x, normalized, *wb)

    assert gradcheck(fn, (x, *params))
    assert gradgradcheck(fn, (x, *params))


def test_layer_norm_backward_is_the_three_term_formula_per_example():
    """dL/dx = (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat)) / s over each example's own
    values: it sums to zero per example, and examples do not mix."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 6, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, generator=g, dtype=torch.float64)
    up = torch.randn(3, 6, generator=g, dtype=torch.float64)
    (grad,) = torch.autograd.grad((layer_norm(x, 6, w) * up).sum(), x)
    xd = x.detach()
    s = torch.sqrt(xd.var(1, correction=0, keepdim=True) + 1e-5)
    x_hat = (xd - xd.mean(1, keepdim=True)) / s
    g_hat = up * w
    expected = (
        g_hat - g_hat.mean(1, keepdim=True) - x_hat * (g_hat * x_hat).mean(1, keepdim=True)
    ) / s
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-14)
    assert grad.sum(1).abs().max().item() < 1e-13
    up_first_only = torch.zeros_like(up)
    up_first_only[0] = up[0]
    (grad_first,) = torch.autograd.grad((layer_norm(x, 6, w) * up_first_only).sum(), x)
    assert (grad_first[1:] == 0).all() and (grad_first[0] != 0).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("weight_dtype", ["same", "float32"])
def test_layer_norm_half_precision_matches_torch(dtype, weight_dtype):
    """Low precision: statistics in float32 as torch; a float32 weight is allowed (mixed)."""
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(4, 8, generator=g) * 50 + 200).to(dtype)  # sum of squares beyond float16
    wd = dtype if weight_dtype == "same" else torch.float32
    w, b = torch.randn(8, generator=g).to(wd), torch.randn(8, generator=g).to(wd)
    up = torch.randn(4, 8, generator=g).to(dtype)
    ours = _ln_run(layer_norm, x, (8,), w, b, up)
    theirs = _ln_run(F.layer_norm, x, (8,), w, b, up)
    eps_dtype = torch.finfo(dtype).eps
    for a, c in zip(ours, theirs, strict=True):
        assert a.dtype == c.dtype and torch.isfinite(a).all()
        scale = c.float().abs().max().item()
        assert (a.float() - c.float()).abs().max().item() <= 8 * eps_dtype * max(scale, 1.0)


def test_layer_norm_extremes_and_edge_sizes_match_torch():
    cases = [
        torch.tensor([[1e30, -1e30], [3.0, 3.0]]),  # variance overflows; a constant row
        torch.tensor([[1e-30, 2e-30, 3e-30]]),  # below eps: nearly zero output
        torch.tensor([[float("inf"), 1.0], [float("nan"), 1.0], [1.0, 2.0]]),
        torch.randn(2, 0),  # nothing to normalise
        torch.randn(0, 3),  # no examples
    ]
    for x in cases:
        shape = tuple(x.shape[-1:])
        ours, theirs = layer_norm(x, shape), F.layer_norm(x, shape)
        torch.testing.assert_close(ours, theirs, equal_nan=True)
        assert ours.shape == x.shape
    x = torch.randn(2, 3)
    torch.testing.assert_close(layer_norm(x, 3), F.layer_norm(x, (3,)))  # an int shape
    torch.testing.assert_close(layer_norm(x, torch.Size([3])), F.layer_norm(x, (3,)))
    torch.testing.assert_close(layer_norm(x, [2, 3]), F.layer_norm(x, [2, 3]))
    empty = torch.randn(2, 0)
    torch.testing.assert_close(layer_norm(empty, 0), F.layer_norm(empty, (0,)))  # an int 0
    single = torch.tensor([3.0])  # one value in all: normalised to 0
    assert layer_norm(single, 1).tolist() == [0.0]


def test_layer_norm_of_one_value_is_exactly_the_bias():
    """One normalised value: x - mean is exactly 0, so y = beta and the gradients of x and
    gamma are exactly 0. (PyTorch's CPU kernel returns rounding noise here, amplified by
    1/sqrt(eps): 8.8e-5 for gamma's gradient in float32, which is why the comparison above
    normalises at least two values.)"""
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor([[3.7], [-1.3]], dtype=dtype, requires_grad=True)
        w = torch.tensor([2.0], dtype=dtype, requires_grad=True)
        b = torch.tensor([0.25], dtype=dtype, requires_grad=True)
        y = layer_norm(x, (1,), w, b)
        assert (y == 0.25).all()
        dx, dw, db = torch.autograd.grad(
            (y * torch.tensor([[1.5], [-2.0]], dtype=dtype)).sum(), (x, w, b)
        )
        assert (dx == 0).all() and (dw == 0).all() and db.item() == -0.5


def test_layer_norm_of_close_values_keeps_float32_accuracy():
    """Values close together relative to their size: the mean's rounding error (about eps
    |x|) would swamp the deviations; the corrected deviations keep the result, and its
    gradient, at float32 accuracy (here more accurate than torch's CPU kernel)."""
    x = 1000 + torch.tensor([[0.013, 0.071, 0.029, 0.047], [5.11, 5.13, 5.17, 5.19]])
    up = torch.tensor([[0.3, -1.0, 0.7, 0.2], [1.0, 0.5, -0.25, 2.0]])
    ours = _ln_run(layer_norm, x, (4,), None, None, up, eps=1e-12)
    exact = _ln_run(layer_norm, x.double(), (4,), None, None, up.double(), eps=1e-12)
    for a, e in zip(ours, exact, strict=True):
        assert (a.double() - e).abs().max().item() <= 1e-6 * e.abs().max().item()


def test_layer_norm_non_contiguous_input():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(5, 4, 6, generator=g, dtype=torch.float64)
    x = base.transpose(0, 2)[::2]  # (3, 4, 5), not contiguous
    assert not x.is_contiguous()
    w = torch.randn(5, generator=g, dtype=torch.float64)
    up = torch.randn(x.shape, generator=g, dtype=torch.float64)
    ours = _ln_run(layer_norm, x, (5,), w, None, up)
    theirs = _ln_run(F.layer_norm, x, (5,), w, None, up)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


def test_layer_norm_module_matches_torch():
    torch.manual_seed(0)
    for kwargs in ({}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-3}):
        ours, theirs = (
            LayerNorm((3, 4), **kwargs).double(),
            torch.nn.LayerNorm((3, 4), **kwargs).double(),
        )
        assert set(ours.state_dict()) == set(theirs.state_dict())
        for name, p in theirs.named_parameters():
            torch.testing.assert_close(dict(ours.named_parameters())[name], p)
            with torch.no_grad():
                p.normal_()
        ours.load_state_dict(theirs.state_dict())
        x = torch.randn(2, 3, 4, dtype=torch.float64)
        leaves = [x.clone().requires_grad_(True) for _ in range(2)]
        for module, leaf in zip((ours, theirs), leaves, strict=True):
            module(leaf).square().mul(torch.arange(4.0, dtype=torch.float64)).sum().backward()
        torch.testing.assert_close(ours(x), theirs(x))
        torch.testing.assert_close(leaves[0].grad, leaves[1].grad)
        for (name, p), (_, q) in zip(
            ours.named_parameters(), theirs.named_parameters(), strict=True
        ):
            torch.testing.assert_close(p.grad, q.grad, msg=name)
    assert repr(LayerNorm(4)) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True)"
    assert LayerNorm(4).normalized_shape == torch.nn.LayerNorm(4).normalized_shape == (4,)
    assert LayerNorm(4, eps=0.5).eps == 0.5


L2 = torch.randn(2, 3)


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: layer_norm([1.0], (1,)), TypeError, r"^input must be a torch.Tensor"),
        (lambda: layer_norm(L2.long(), (3,)), TypeError, r"^input must be a floating-point"),
        (lambda: layer_norm(L2, (4,)), ValueError,
         r"^input must end with normalized_shape, shape \(\*, 4\); got \(2, 3\)$"),
        (lambda: layer_norm(L2, (1, 2, 3)), ValueError,
         r"^input must end with normalized_shape, shape \(\*, 1, 2, 3\); got \(2, 3\)$"),
        (lambda: layer_norm(L2, ()), ValueError, r"^normalized_shape must name at least one dim"),
        (lambda: layer_norm(L2, 3.0), TypeError, r"^normalized_shape must be an integer; got 3.0"),
        (lambda: layer_norm(L2, (-3,)), ValueError, r"^normalized_shape must be in \[0, inf\]"),
        (lambda: layer_norm(L2, (3,), eps=0), ValueError, r"^eps must be > 0; got 0$"),
        (lambda: layer_norm(L2, (3,), torch.ones(2)), ValueError,
         r"^weight must have shape \(3,\) \(normalized_shape\); got \(2,\)$"),
        (lambda: layer_norm(L2, (3,), None, torch.ones(3, 1)), ValueError,
         r"^bias must have shape \(3,\) \(normalized_shape\); got \(3, 1\)$"),
        (lambda: layer_norm(L2, (3,), torch.ones(3).double()), TypeError,
         r"^weight must have the input's dtype \(torch.float32\); got torch.float64$"),
        (lambda: layer_norm(L2, (3,), None, torch.ones(3).half()), TypeError,
         r"^bias must have the input's dtype"),
        (lambda: layer_norm(L2, (3,), torch.ones(3, dtype=torch.long)), TypeError,
         r"^weight must be a floating-point"),
        (lambda: layer_norm(L2, (3,), torch.ones(3, device="meta")), ValueError,
         r"^weight must be on the same device as input \(cpu\); got meta$"),
        (lambda: layer_norm(L2, (3,), None, torch.ones(3, device="meta")), ValueError,
         r"^bias must be on the same device as input \(cpu\); got meta$"),
        (lambda: layer_norm(L2.double(), (3,), torch.ones(3)), TypeError,
         r"^weight must have the input's dtype \(torch.float64\); got torch.float32$"),
        (lambda: layer_norm(L2, -3), ValueError, r"^normalized_shape must be in \[0, inf\]; got -3$"),
        (lambda: LayerNorm(3, eps=-1.0), ValueError, r"^eps must be > 0"),
        (lambda: LayerNorm(()), ValueError, r"^normalized_shape must name at least one dim"),
        (lambda: LayerNorm(3)(torch.randn(3, 2)), ValueError, r"^input must end with normalized_shape"),
    ],
)  # fmt: skip
def test_layer_norm_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.gpu
def test_layer_norm_cuda_matches_cpu():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 5, generator=g, dtype=torch.float64)
    w, b = (
        torch.randn(3, 5, generator=g, dtype=torch.float64),
        torch.randn(3, 5, generator=g, dtype=torch.float64),
    )
    up = torch.randn(4, 3, 5, generator=g, dtype=torch.float64)
    cpu = _ln_run(layer_norm, x, (3, 5), w, b, up)
    gpu = _ln_run(layer_norm, x.cuda(), (3, 5), w.cuda(), b.cuda(), up.cuda())
    for a, c in zip(gpu, cpu, strict=True):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a.cpu(), c)


NORMALISATIONS = {
    "batch_norm": (lambda x, w: batch_norm(x, None, None, w, None, True),
                   lambda x, w: F.batch_norm(x, None, None, w, None, True), 3),
    "layer_norm": (lambda x, w: layer_norm(x, (4,), w), lambda x, w: F.layer_norm(x, (4,), w), 4),
}  # fmt: skip


def _grads_for_double_backward(fn, x, weight, upstream):
    leaves = [t.clone().requires_grad_(True) for t in (x, weight)]
    return torch.autograd.grad((fn(*leaves) * upstream).sum(), leaves, create_graph=True)


@pytest.mark.parametrize("which", list(NORMALISATIONS))
def test_gradients_recorded_for_double_backward_are_the_gradients(which):
    """With create_graph=True the backward pass records its operations (for gradgradcheck)
    and so takes another branch of _normalise than a plain backward: both give torch's."""
    ours, theirs, c = NORMALISATIONS[which]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 4, generator=g, dtype=torch.float64) * 3 + 1
    weight = torch.randn(c, generator=g, dtype=torch.float64)
    upstream = torch.randn(x.shape, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        _grads_for_double_backward(ours, x, weight, upstream),
        _grads_for_double_backward(theirs, x, weight, upstream),
        **TOL_SUMS[torch.float64],
    )


@pytest.mark.parametrize("which", list(NORMALISATIONS))
def test_double_backward_gradient_of_the_input_alone(which):
    """With create_graph=True and gamma frozen, dL/dx is still computed (and gamma's is not
    asked for)."""
    ours, theirs, c = NORMALISATIONS[which]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, 4, generator=g, dtype=torch.float64) * 3 + 1
    weight = torch.randn(c, generator=g, dtype=torch.float64)
    upstream = torch.randn(x.shape, generator=g, dtype=torch.float64)

    def grad_x(fn):
        leaf = x.clone().requires_grad_(True)
        return torch.autograd.grad((fn(leaf, weight) * upstream).sum(), leaf, create_graph=True)

    torch.testing.assert_close(grad_x(ours), grad_x(theirs), **TOL_SUMS[torch.float64])


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("which", list(NORMALISATIONS))
def test_gradient_of_close_float32_values_keeps_their_accuracy(which, create_graph):
    """Values 1000 +- 0.01 in float32: the computed mean is off by a fraction of a percent
    of the spread, which _normalise corrects (c). Both backward paths (plain, and recorded
    with create_graph) give dL/dx to float32 accuracy, against torch in float64."""
    ours, theirs, c = NORMALISATIONS[which]
    g = torch.Generator().manual_seed(2)
    x = 1000 + 0.01 * torch.randn(6, 3, 4, generator=g)
    weight = torch.randn(c, generator=g)
    upstream = torch.randn(x.shape, generator=g)

    def grad_x(fn, dtype):
        leaf = x.to(dtype).requires_grad_(True)
        y = fn(leaf, weight.to(dtype))
        (grad,) = torch.autograd.grad(y, leaf, upstream.to(dtype), create_graph=create_graph)
        return grad.double()

    exact = grad_x(theirs, torch.float64)
    error = (grad_x(ours, torch.float32) - exact).abs().max() / exact.abs().max()
    assert error < 1e-4
