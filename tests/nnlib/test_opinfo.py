"""PyTorch's own sample inputs (its OpInfo database, the one its test suite runs every op on)
through every nnlib function that mirrors a torch op: the same values and the same gradients
for every tensor that requires one, in float64.

Where nnlib deliberately differs from torch for a sample, DEVIATIONS says so with the
reason, and the test checks that nnlib does what the reason says (refuses with a clear
error, or computes what it documents). A deviation that no sample meets any more fails, so
the list cannot go stale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

# torch.testing._internal imports expecttest, which requirements.txt installs
from torch.testing._internal.common_methods_invocations import op_db

from nnlib import activations as A
from nnlib import losses as L
from nnlib import pooling as P
from nnlib.conv import conv2d
from nnlib.norm import batch_norm, layer_norm

# Importing it also calls torch.backends.disable_global_flags() (PyTorch's own suite sets
# backend flags only through context managers), which would make nnlib.seed_everything()
# fail in every later test of this process: pytest collects this file in every worker.
torch.backends.flags_frozen.__globals__["__allow_nonbracketed_mutation_flag"] = True
assert not torch.backends.flags_frozen()

# (OpInfo name, variant) -> the nnlib function with the same signature
OPS: dict[tuple[str, str], Callable] = {
    ("sigmoid", ""): A.sigmoid,
    ("tanh", ""): A.tanh,
    ("nn.functional.relu", ""): A.relu,
    ("nn.functional.leaky_relu", ""): A.leaky_relu,
    ("nn.functional.prelu", ""): A.prelu,
    ("nn.functional.rrelu", ""): A.rrelu,
    ("nn.functional.elu", ""): A.elu,
    ("nn.functional.selu", ""): A.selu,
    ("nn.functional.gelu", ""): A.gelu,
    ("nn.functional.silu", ""): A.silu,
    ("nn.functional.softplus", ""): A.softplus,
    ("nn.functional.mish", ""): A.mish,
    ("softmax", ""): A.softmax,
    ("softmax", "with_dtype"): A.softmax,
    ("log_softmax", ""): A.log_softmax,
    ("log_softmax", "with_dtype"): A.log_softmax,
    ("nn.functional.l1_loss", ""): L.l1_loss,
    ("nn.functional.mse_loss", ""): L.mse_loss,
    ("nn.functional.huber_loss", ""): L.huber_loss,
    ("nn.functional.smooth_l1_loss", ""): L.smooth_l1_loss,
    ("nn.functional.multi_margin_loss", ""): L.multi_margin_loss,
    ("nn.functional.binary_cross_entropy", ""): L.binary_cross_entropy,
    ("nn.functional.binary_cross_entropy_with_logits", ""): L.binary_cross_entropy_with_logits,
    ("nn.functional.nll_loss", ""): L.nll_loss,
    ("nn.functional.cross_entropy", ""): L.cross_entropy,
    ("nn.functional.gaussian_nll_loss", ""): L.gaussian_nll_loss,
    ("nn.functional.max_pool2d", ""): P.max_pool2d,
    ("nn.functional.avg_pool2d", ""): P.avg_pool2d,
    ("nn.functional.conv2d", ""): conv2d,
    ("nn.functional.batch_norm", ""): batch_norm,
    ("nn.functional.batch_norm", "without_cudnn"): batch_norm,
    ("nn.functional.layer_norm", ""): layer_norm,
}
OPINFOS = {(op.name, op.variant_test_name): op for op in op_db}


def _arg(sample, index: int, name: str, default=None):
    """An argument given by position (after the input) or by keyword."""
    if len(sample.args) > index:
        return sample.args[index]
    return sample.kwargs.get(name, default)


def _rrelu_slopes_in_range(sample, out: torch.Tensor) -> bool:
    x = sample.input.detach()
    lower, upper = _arg(sample, 0, "lower", 1 / 8), _arg(sample, 1, "upper", 1 / 3)
    out = out.detach()
    if not torch.equal(out[x >= 0], x[x >= 0]):
        return False
    slopes = out[x < 0] / x[x < 0]
    return bool(((slopes >= lower - 1e-12) & (slopes <= upper + 1e-12)).all())


@dataclass(frozen=True)
class Deviation:
    op: str
    applies: Callable  # sample -> bool
    kind: str  # "refuses": nnlib raises a clear error; "draws": random values, checked by `check`
    reason: str
    check: Callable | None = None  # (sample, nnlib output) -> bool, for kind "draws"


DEVIATIONS = [
    Deviation("nn.functional.batch_norm", lambda s: s.input.dim() < 2, "refuses",
              "a 1-d input has no channel dim (dim 1); torch returns an empty one unchanged, "
              "nnlib asks for shape (N, C, ...)"),
    Deviation("nn.functional.batch_norm", lambda s: (_arg(s, 5, "momentum", 0.1) or 0) < 0,
              "refuses", "a negative momentum is not a moving average; torch extrapolates the "
              "running statistics with it, nnlib asks for momentum in [0, 1]"),
    Deviation("nn.functional.layer_norm", lambda s: _arg(s, 3, "eps", 1e-5) <= 0, "refuses",
              "eps must be positive to keep the division finite; torch accepts a negative eps"),
    Deviation("nn.functional.avg_pool2d",
              lambda s: (_arg(s, 5, "divisor_override") or 1) < 0, "refuses",
              "a divisor is a number of cells; torch only refuses 0 and divides by a negative "
              "one, nnlib asks for divisor_override >= 1"),
    Deviation("nn.functional.multi_margin_loss", lambda s: s.input.dim() == 0, "refuses",
              "the documented input shapes are (C) and (N, C); torch also takes a 0-d input "
              "as one class"),
    Deviation("nn.functional.multi_margin_loss",
              lambda s: s.input.dim() == 1 and s.args[0].dim() == 1, "refuses",
              "a 1-d input (C) takes a 0-d target, as documented; torch also takes a target "
              "of shape (1,)"),
    Deviation("nn.functional.rrelu", lambda s: bool(_arg(s, 2, "training", False)), "draws",
              "training mode draws a random slope per element; nnlib draws its own, so the "
              "values differ from torch's, and the test checks that every output is x for "
              "x >= 0 and x times a slope in [lower, upper] otherwise",
              _rrelu_slopes_in_range),
]  # fmt: skip


def _clone(value):
    if isinstance(value, torch.Tensor):
        copy = value.detach().clone()
        return copy.requires_grad_(value.requires_grad) if copy.is_floating_point() else copy
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    return value


def _call(fn, sample):
    """fn on fresh copies of the sample (batch_norm updates its running statistics in place);
    returns the output and the copies that require a gradient."""
    inp, args = _clone(sample.input), _clone(tuple(sample.args))
    kwargs = {k: _clone(v) for k, v in sample.kwargs.items()}
    out = fn(inp, *args, **kwargs)
    leaves = [t for t in (inp, *args, *kwargs.values())
              if isinstance(t, torch.Tensor) and t.requires_grad]  # fmt: skip
    return out, leaves


def _samples(op):
    torch.manual_seed(0)  # the samples are random tensors
    return list(op.sample_inputs("cpu", torch.float64, requires_grad=True))


@pytest.mark.parametrize("key", list(OPS), ids=lambda k: "-".join(filter(None, k)))
def test_opinfo_samples_match_torch(key):
    op, fn = OPINFOS[key], OPS[key]
    deviations = [d for d in DEVIATIONS if d.op == key[0]]
    met = set()
    samples = _samples(op)
    assert samples, f"no OpInfo samples for {key}"
    for index, sample in enumerate(samples):
        where = f"{key} sample {index}: {sample}"
        deviation = next((d for d in deviations if d.applies(sample)), None)
        if deviation is not None:
            met.add(deviation.reason)
            if deviation.kind == "refuses":
                with pytest.raises((ValueError, TypeError)) as error:
                    _call(fn, sample)
                assert " must " in str(error.value) or " got " in str(error.value), where
            else:
                out, _ = _call(fn, sample)
                assert deviation.check(sample, out), where
            continue
        expected, leaves_torch = _call(op, sample)
        got, leaves_nnlib = _call(fn, sample)
        if isinstance(expected, tuple):  # max_pool2d(..., return_indices=True)
            assert isinstance(got, tuple) and len(got) == len(expected), where
            for a, b in zip(got[1:], expected[1:], strict=True):
                assert torch.equal(a, b), where
            expected, got = expected[0], got[0]
        assert got.shape == expected.shape and got.dtype == expected.dtype, where
        torch.testing.assert_close(got, expected, equal_nan=True, msg=where)
        if leaves_torch and expected.requires_grad:
            upstream = torch.randn(expected.shape, dtype=expected.dtype,
                                   generator=torch.Generator().manual_seed(index))  # fmt: skip
            g_torch = torch.autograd.grad(expected, leaves_torch, upstream, allow_unused=True)
            g_nnlib = torch.autograd.grad(got, leaves_nnlib, upstream, allow_unused=True)
            for a, b in zip(g_nnlib, g_torch, strict=True):
                a = torch.zeros_like(b) if a is None and b is not None else a
                b = torch.zeros_like(a) if b is None and a is not None else b
                if a is not None:
                    torch.testing.assert_close(a, b, equal_nan=True, msg=where)
    stale = {d.reason for d in deviations} - met
    assert not stale, f"deviations no sample of {key} meets any more: {stale}"


def test_every_deviation_names_an_op_that_is_tested():
    tested = {name for name, _ in OPS}
    assert {d.op for d in DEVIATIONS} <= tested
    assert all(d.kind in ("refuses", "draws") and (d.kind == "refuses") == (d.check is None)
               for d in DEVIATIONS)  # fmt: skip


def test_the_samples_cover_the_argument_forms_that_were_refused():
    """The one-element padding and the empty stride of avg_pool2d's samples, once refused by
    nnlib, are accepted (torch's forms: one value for both dims; () for the default)."""
    forms = [s for s in _samples(OPINFOS["nn.functional.avg_pool2d", ""])
             if isinstance(_arg(s, 2, "padding"), tuple) and len(_arg(s, 2, "padding")) == 1]  # fmt: skip
    assert forms and any(_arg(s, 1, "stride") == () for s in forms)
