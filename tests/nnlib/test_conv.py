"""nnlib.conv.conv2d and Conv2d against torch.nn.functional.conv2d and torch.nn.Conv2d."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd import gradcheck, gradgradcheck

from nnlib import conv
from nnlib._windows import Geometry
from nnlib.conv import Conv2d, conv2d
from tests.nnlib.support import TOL_SUMS, assert_matches_torch, outputs_and_grads


@st.composite
def geometries(draw):
    groups = draw(st.sampled_from([1, 2, 3]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.one_of(st.sampled_from(["valid", "same"]),
                             st.tuples(st.integers(0, 2), st.integers(0, 2))))  # fmt: skip
    s = (1, 1) if padding == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pad = (0, 0) if padding in ("valid", "same") else padding
    spans = [d[a] * (k[a] - 1) + 1 for a in range(2)]
    hw = [draw(st.integers(max(1, spans[a] - 2 * pad[a]), spans[a] + 5)) for a in range(2)]
    return dict(n=draw(st.integers(1, 2)), c_in=c_in, c_out=c_out, hw=hw, k=k,
                kwargs=dict(stride=s, padding=padding, dilation=d, groups=groups),
                bias=draw(st.booleans()))  # fmt: skip


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
@settings(max_examples=60, deadline=None)
@given(geo=geometries(), dtype=st.sampled_from([torch.float32, torch.float64]),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_matches_torch_values_and_gradients(geo, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(geo["n"], geo["c_in"], *geo["hw"], generator=g, dtype=dtype)
    w = torch.randn(geo["c_out"], geo["c_in"] // geo["kwargs"]["groups"], *geo["k"], generator=g,
                    dtype=dtype)  # fmt: skip
    b = torch.randn(geo["c_out"], generator=g, dtype=dtype) if geo["bias"] else None
    assert_matches_torch(conv2d, F.conv2d, x, w, b, **TOL_SUMS[dtype], **geo["kwargs"])


@pytest.mark.parametrize(
    "kwargs",
    [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=(2, 1)),
     dict(stride=(1, 2), padding=(2, 0), dilation=2, groups=2)],
)  # fmt: skip
def test_gradcheck_and_gradgradcheck(kwargs):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 4 // kwargs.get("groups", 1), 3, 2, generator=g, dtype=torch.float64,
                    requires_grad=True)  # fmt: skip
    b = torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda *t: conv2d(*t, **kwargs), (x, w, b))
    assert gradgradcheck(lambda *t: conv2d(*t, **kwargs), (x, w, b))


def test_backward_formulas_on_a_small_example():
    """dL/dW is the correlation of the input with the upstream gradient; dL/dx is the full
    convolution of the upstream gradient with the kernel flipped in both axes (stride 1)."""
    x = torch.arange(1.0, 17.0, dtype=torch.float64).reshape(1, 1, 4, 4).requires_grad_(True)
    w = torch.tensor([[[[1.0, -1.0], [2.0, 0.5]]]], dtype=torch.float64, requires_grad=True)
    up = torch.tensor(
        [[[[1.0, 0.0, -1.0], [2.0, 1.0, 0.0], [0.0, -2.0, 1.0]]]], dtype=torch.float64
    )
    (conv2d(x, w) * up).sum().backward()
    torch.testing.assert_close(w.grad, F.conv2d(x.detach(), up))  # correlation of x with g
    full = F.conv2d(F.pad(up, (1, 1, 1, 1)), w.detach().flip(2, 3))
    torch.testing.assert_close(x.grad, full)
    torch.testing.assert_close(x.grad, torch.nn.grad.conv2d_input(x.shape, w.detach(), up))


@pytest.mark.parametrize(
    ("stride", "dilation", "before", "after", "full"),
    [
        ((1, 1), (1, 1), (0, 0), (0, 0), ((2, 1), (2, 1))),  # no padding: pad g by k - 1
        ((1, 1), (1, 1), (1, 1), (1, 1), ((1, 0), (1, 0))),
        ((1, 1), (2, 2), (2, 1), (2, 1), ((2, 1), (2, 1))),  # 'same': d (k - 1) - p
        ((1, 1), (1, 1), (0, 2), (0, 2), None),  # wider than the kernel's reach (width)
        ((1, 2), (1, 1), (0, 0), (0, 0), None),  # a stride above 1: col2im
    ],
)
def test_input_gradient_is_a_convolution_exactly_where_it_applies(
    stride, dilation, before, after, full
):
    """With stride 1, dL/dx is the correlation of the upstream gradient, padded by
    d (k - 1) - p, with the flipped kernel (channels swapped per group). Both paths give the
    same values, so the values cannot show which ran: the geometry is checked directly, and
    the result against torch's."""
    kernel, (h, w) = (3, 2), (7, 6)
    out = tuple(conv.output_size((h, w)[a], kernel[a], stride[a], (before[a], after[a]),
                                 dilation[a]) for a in range(2))  # fmt: skip
    geometry = Geometry(kernel, stride, dilation, before, after, out)
    got = conv._full_geometry(geometry, h, w)
    if full is None:
        assert got is None
        return
    assert (got.before, got.after, got.out, got.stride) == (*full, (h, w), (1, 1))
    weight = torch.randn(6, 2, *kernel, dtype=torch.float64)
    up = torch.randn(2, 6, *out, dtype=torch.float64)
    padded = F.conv_transpose2d(up, weight, dilation=dilation, groups=2)  # dL/d(padded x)
    expected = padded[:, :, before[0] : before[0] + h, before[1] : before[1] + w]
    ours = conv._correlate(up, conv._flipped(weight, 2), got, 2)
    torch.testing.assert_close(ours, expected)


@pytest.mark.parametrize("stride", [1, 2])
def test_gradient_of_the_input_alone_matches_torch(stride):
    """The weight frozen: dL/dx alone, by the full convolution (stride 1) or col2im."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, 7, 6, generator=g, dtype=torch.float64)
    w = torch.randn(6, 2, 3, 2, generator=g, dtype=torch.float64)
    up = torch.randn(F.conv2d(x, w, stride=stride, padding=1, groups=2).shape, generator=g,
                     dtype=torch.float64)  # fmt: skip

    def grad_x(fn):
        leaf = x.clone().requires_grad_(True)
        (fn(leaf, w, stride=stride, padding=1, groups=2) * up).sum().backward()
        return leaf.grad

    torch.testing.assert_close(grad_x(conv2d), grad_x(F.conv2d))


@pytest.mark.parametrize(
    ("stride", "needs", "correlations", "col2im"),
    [
        (1, (True, True), 2, 0),  # forward, and dL/dx as a convolution
        (1, (False, True), 1, 0),  # no dL/dx asked for: no work for it
        (2, (True, True), 1, 1),  # col2im, once per chunk of the batch (one chunk here)
    ],
)
def test_backward_takes_the_path_its_stride_allows(monkeypatch, stride, needs, correlations,
                                                   col2im):  # fmt: skip
    """Both paths give the same values (tests above); this checks which one runs, counted by
    wrapping the module's two helpers."""
    calls = {"correlate": 0, "col2im": 0}
    correlate, col2im_add = conv._correlate, conv._col2im_add_

    def counted_correlate(*args):
        calls["correlate"] += 1
        return correlate(*args)

    def counted_col2im(*args):
        calls["col2im"] += 1
        return col2im_add(*args)

    monkeypatch.setattr(conv, "_correlate", counted_correlate)
    monkeypatch.setattr(conv, "_col2im_add_", counted_col2im)
    x = torch.randn(2, 4, 7, 6, dtype=torch.float64).requires_grad_(needs[0])
    w = torch.randn(6, 4, 3, 2, dtype=torch.float64).requires_grad_(needs[1])
    conv2d(x, w, stride=stride, padding=1).sum().backward()
    assert (calls["correlate"], calls["col2im"]) == (correlations, col2im)


def test_non_contiguous_unbatched_and_empty_inputs():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 2, 3, 3, generator=g, dtype=torch.float64)
    x = torch.randn(2, 7, 6, 2, generator=g, dtype=torch.float64).permute(0, 3, 1, 2)
    assert not x.is_contiguous()
    tol = TOL_SUMS[torch.float64]
    assert_matches_torch(conv2d, F.conv2d, x, w, None, **tol, padding=1)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    assert_matches_torch(conv2d, F.conv2d, channels_last, w, None, **tol, stride=2)
    assert_matches_torch(conv2d, F.conv2d, x[:, :, ::2, 1:], w, None, **tol)
    single = x[0]
    torch.testing.assert_close(conv2d(single, w, padding=1), F.conv2d(single, w, padding=1))
    assert conv2d(single, w).shape == (3, 5, 4)
    empty = torch.empty(0, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    y = conv2d(empty, w)
    assert y.shape == F.conv2d(empty, w).shape == (0, 3, 4, 3)
    y.sum().backward()
    assert empty.grad.shape == empty.shape


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_on_cpu_is_within_the_forward_error_bound(dtype):
    """Each output sums n = C_in k_h k_w products: its rounding error is at most about
    n * eps * sum |w x| (the standard bound for a dot product, eps the format's epsilon)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 8, generator=g).to(dtype)
    w = torch.randn(4, 3, 3, 3, generator=g).to(dtype)
    y = conv2d(x, w, padding=1)
    assert y.dtype == dtype
    exact = F.conv2d(x.double(), w.double(), padding=1)
    scale = F.conv2d(x.double().abs(), w.double().abs(), padding=1)
    n = 3 * 3 * 3
    assert ((y.double() - exact).abs() <= n * torch.finfo(dtype).eps * scale).all()


def test_module_matches_torch_with_copied_weights():
    torch.manual_seed(0)
    ours = Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2).double()
    theirs = torch.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2),
                             groups=2).double()  # fmt: skip
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
        theirs.bias.copy_(ours.bias)
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64)
    torch.testing.assert_close(ours(x), theirs(x))
    assert ours.weight.shape == theirs.weight.shape and Conv2d(2, 3, 3, bias=False).bias is None
    assert repr(Conv2d(2, 3, 3)) == ("Conv2d(2, 3, kernel_size=(3, 3), stride=1, padding=0, "
                                      "dilation=1, groups=1, bias=True)")  # fmt: skip


def test_smallest_module_and_a_non_square_kernels_fan_in():
    layer = Conv2d(1, 1, 1)
    assert layer(torch.ones(1, 1, 2, 2)).shape == (1, 1, 2, 2)
    torch.manual_seed(0)
    tall = Conv2d(4, 64, (5, 1))  # fan_in 4 * 5 * 1 = 20: bound 1/sqrt(20) = 0.2236
    assert tall.weight.abs().max().item() <= 20**-0.5 < tall.weight.abs().max().item() + 0.01


def test_module_initialisation_is_torchs_bound():
    """torch.nn.Conv2d: kaiming_uniform_(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in)); bias likewise."""
    torch.manual_seed(0)
    layer = Conv2d(4, 64, 5)  # fan_in 4 * 25 = 100: bound 0.1
    for p in (layer.weight, layer.bias):
        assert -0.1 <= p.min().item() and p.max().item() <= 0.1
    assert layer.weight.min().item() < -0.099 and layer.weight.max().item() > 0.099


def test_infinities_and_nans_propagate_like_torch():
    x = torch.randn(1, 2, 6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x[0, 0, 1, 1], x[0, 1, 4, 2], x[0, 0, 5, 5] = torch.inf, -torch.inf, torch.nan
    w = torch.randn(3, 2, 3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(conv2d(x, w, padding=1), F.conv2d(x, w, padding=1), equal_nan=True)


def test_output_size_formula():
    for size, k, s, p, d in [(7, 3, 2, 1, 1), (8, 2, 3, 0, 2), (5, 5, 1, 2, 1)]:
        x = torch.zeros(1, 1, size, size)
        expected = F.conv2d(x, torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d).shape[-1]
        assert conv.output_size(size, k, s, p, d) == expected
        # a pair: (before, after), as padding="same" needs for an even kernel
        padded = F.pad(x, (p, p + 1, p, p + 1))
        expected = F.conv2d(padded, torch.zeros(1, 1, k, k), stride=s, dilation=d).shape[-1]
        assert conv.output_size(size, k, s, (p, p + 1), d) == expected


X = torch.randn(2, 4, 6, 6)
W = torch.randn(6, 2, 3, 3)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: conv2d(X.long(), W), TypeError, r"^input must be a floating-point tensor"),
        (lambda: conv2d(X, W.long()), TypeError, r"^weight must be a floating-point tensor"),
        (lambda: conv2d(X, W.double(), groups=2), TypeError,
         r"^weight must have the input's dtype \(torch.float32\); got torch.float64$"),
        (lambda: conv2d(X[0, 0], W), ValueError,
         r"^input must be 3-d \(C, H, W\) or 4-d \(N, C, H, W\); got shape \(6, 6\)$"),
        (lambda: conv2d(X, W[0]), ValueError,
         r"^weight must be 4-d \(out_channels, in_channels / groups, kH, kW\); got shape \(2, 3, 3\)$"),
        (lambda: conv2d(X, W), ValueError,
         r"^weight must have in_channels / groups = 4 input channels \(dim 1\) for an input of "
         r"4 channels; got 2$"),
        (lambda: conv2d(X, W, groups=3), ValueError,
         r"^groups must divide in_channels \(4\) and out_channels \(6\); got 3$"),
        (lambda: conv2d(X, W, groups=0), ValueError, r"^groups must be in \[1, inf\]; got 0$"),
        (lambda: conv2d(X, torch.randn(6, 4, 7, 3)), ValueError,
         r"^the kernel must fit in the padded input: along the height it spans 7 but the padded "
         r"height is 6$"),
        (lambda: conv2d(X, torch.randn(6, 4, 3, 4), dilation=(1, 3)), ValueError,
         r"along the width it spans 10 but the padded width is 6$"),
        (lambda: conv2d(X, W, groups=2, stride=0), ValueError, r"^stride must be in \[1, inf\]; got 0$"),
        (lambda: conv2d(X, W, groups=2, padding=-1), ValueError,
         r"^padding must be in \[0, inf\]; got -1$"),
        (lambda: conv2d(X, W, groups=2, padding=(1, 1, 1)), ValueError,
         r"^padding must be an int or a pair of ints"),
        (lambda: conv2d(X, W, groups=2, padding="full"), ValueError,
         r"^padding must be an int, a pair, 'valid' or 'same'; got 'full'$"),
        (lambda: conv2d(X, W, groups=2, padding="same", stride=2), ValueError,
         r"^padding='same' needs stride 1; got stride=\(2, 2\)$"),
        (lambda: conv2d(X, W, groups=2, dilation=0), ValueError,
         r"^dilation must be in \[1, inf\]; got 0$"),
        (lambda: conv2d(X, W, torch.zeros(5), groups=2), ValueError,
         r"^bias must have shape \(6,\); got \(5,\)$"),
        (lambda: conv2d(X, W, torch.zeros(6, dtype=torch.float64), groups=2), TypeError,
         r"^bias must have the input's dtype"),
        (lambda: conv2d(X, W.to("meta"), groups=2), ValueError,
         r"^weight must be on the same device as input \(cpu\); got meta$"),
        (lambda: Conv2d(4, 6, 3, groups=4), ValueError,
         r"^groups must divide in_channels \(4\) and out_channels \(6\); got 4$"),
        (lambda: Conv2d(0, 6, 3), ValueError, r"^in_channels must be in \[1, inf\]; got 0$"),
        (lambda: Conv2d(4, 0, 3), ValueError, r"^out_channels must be in \[1, inf\]; got 0$"),
        (lambda: Conv2d(4, 6, 3, groups=0), ValueError, r"^groups must be in \[1, inf\]; got 0$"),
        (lambda: Conv2d(4, 6, (3, 0)), ValueError, r"^kernel_size must be in \[1, inf\]; got 0$"),
        (lambda: Conv2d(4, 6, 3, groups=2.0), TypeError, r"^groups must be an integer"),
        (lambda: conv2d(X, W, torch.zeros(6, dtype=torch.int64), groups=2), TypeError,
         r"^bias must be a floating-point tensor"),
        (lambda: conv2d(X, W, torch.zeros(6, device="meta"), groups=2), ValueError,
         r"^bias must be on the same device as input \(cpu\); got meta$"),
    ],
)  # fmt: skip
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 9, 8, generator=g, dtype=dtype)
    w = torch.randn(6, 2, 3, 3, generator=g, dtype=dtype)
    b = torch.randn(6, generator=g, dtype=dtype)
    kwargs = dict(stride=(2, 1), padding=1, groups=2)
    cpu = outputs_and_grads(conv2d, x, w, b, **kwargs)
    gpu = outputs_and_grads(conv2d, x.cuda(), w.cuda(), b.cuda(), **kwargs)
    for a, c in zip(gpu, cpu, strict=True):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a.cpu(), c, **TOL_SUMS[dtype])


# one example's columns below: 4 channels x a 3 x 2 kernel x 5 x 7 output positions
@pytest.mark.parametrize("budget", [1, 3 * 4 * 3 * 2 * 5 * 7])
def test_the_batch_taken_in_chunks_gives_the_same_values_and_gradients(monkeypatch, budget):
    """Chunks of one example (budget 1) and of three with a short last one (7 = 3 + 3 + 1):
    the same result as in one piece, which the other tests' small inputs get."""
    monkeypatch.setattr(conv, "COLUMN_BUDGET", budget)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 4, 5, 6, generator=g, dtype=torch.float64)
    w = torch.randn(6, 2, 3, 2, generator=g, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64)
    assert (
        len(conv._chunks(conv.Geometry((3, 2), (1, 1), (1, 1), (1, 1), (1, 1), (5, 7)), 7, 4)) > 1
    )
    kwargs = dict(padding=1, groups=2)
    assert_matches_torch(conv2d, F.conv2d, x, w, b, **TOL_SUMS[torch.float64], **kwargs)
