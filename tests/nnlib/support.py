"""What nnlib's tests share: tolerances, shape strategies, and the comparison with PyTorch."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import torch
from hypothesis import strategies as st

#: Tests of nnlib under torch.compile (with fullgraph=True, so that no part falls back to eager
#: code). They cannot run under mutation testing: mutmut's trampoline in every mutated function
#: (which picks the mutant from the environment, and records calls in a ContextVar) breaks the
#: compiled graph. The lines only compiled code runs are marked ``# pragma: no mutate``.
compiled_test = pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in os.environ, reason="torch.compile cannot trace mutmut's trampolines"
)

# Element-wise ops (activations, losses): each element goes through a few roundings, in
# another order than in torch's kernels.
TOL_ELEMENTWISE = {
    torch.float32: dict(rtol=1e-5, atol=1e-6),
    torch.float64: dict(rtol=1e-12, atol=1e-12),
}
# Ops that sum over windows, channels or time steps (conv, norm, rnn) add in another order
# than torch's kernels: the error grows with the number of terms.
TOL_SUMS = {
    torch.float32: dict(rtol=1e-4, atol=1e-5),
    torch.float64: dict(rtol=1e-10, atol=1e-12),
}


def shapes(min_dims: int = 1, max_dims: int = 3, max_side: int = 5):
    """Tensor shapes with every side at least 1: an empty tensor compares nothing, so the
    empty case has tests of its own."""
    return st.lists(st.integers(1, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def outputs_and_grads(
    fn: Callable[..., torch.Tensor], *inputs, upstream_seed: int = 1, **kwargs
) -> tuple:
    """``fn(*inputs, **kwargs)`` and the gradients of ``(output * upstream).sum()`` with
    respect to every floating-point tensor among ``inputs`` (copies of them; None and integer
    tensors are passed as they are). The upstream gradient is drawn from a seeded CPU
    generator, the same for every ``fn`` of one output shape."""
    leaves = [
        t.detach().clone().requires_grad_(True)
        if isinstance(t, torch.Tensor) and t.is_floating_point()
        else t
        for t in inputs
    ]
    out = fn(*leaves, **kwargs)
    generator = torch.Generator().manual_seed(upstream_seed)
    upstream = torch.randn(out.shape, generator=generator, dtype=out.dtype).to(out.device)
    wrt = [t for t in leaves if isinstance(t, torch.Tensor) and t.requires_grad]
    if out.numel() == 0:
        return (out.detach(),)
    grads = torch.autograd.grad((out * upstream).sum(), wrt, allow_unused=True)
    return (out.detach(), *grads)


def assert_matches_torch(
    ours: Callable[..., torch.Tensor],
    theirs: Callable[..., torch.Tensor],
    *inputs,
    rtol: float | None = None,
    atol: float | None = None,
    **kwargs,
) -> torch.Tensor:
    """nnlib's ``ours`` and PyTorch's ``theirs`` give the same output (value, shape, dtype)
    and the same gradients for every floating-point input; returns our output. With no
    tolerance given, assert_close's for the output's dtype."""
    ours_results = outputs_and_grads(ours, *inputs, **kwargs)
    theirs_results = outputs_and_grads(theirs, *inputs, **kwargs)
    assert len(ours_results) == len(theirs_results)
    for a, b in zip(ours_results, theirs_results, strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol, equal_nan=True)
    return ours_results[0]
