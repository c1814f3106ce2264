"""nnlib.clip against torch.nn.utils's clipping."""

from __future__ import annotations

import math

import pytest
import torch

from nnlib import clip


def _params(seed=0, scale=10.0):
    g = torch.Generator().manual_seed(seed)
    ps = [torch.randn(s, generator=g, requires_grad=True) for s in ((3, 4), (4,), (2, 2, 2))]
    for p in ps:
        p.grad = torch.randn(p.shape, generator=g) * scale
    return ps


def _clone(ps):
    out = [p.detach().clone().requires_grad_(True) for p in ps]
    for o, p in zip(out, ps, strict=True):
        o.grad = p.grad.clone()
    return out


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.0, 0.5, 5.0, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _params(), _params()
    total_ours = clip.clip_grad_norm_(ours, max_norm, norm_type)
    total_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    torch.testing.assert_close(total_ours, total_theirs)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a.grad, b.grad)
    after = clip.total_grad_norm(ours, norm_type).item()
    assert after <= max_norm + 1e-4 or after == pytest.approx(total_ours.item())


@pytest.mark.parametrize("clip_value", [0.0, 0.1, 3.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = _params(), _params()
    clip.clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a.grad, b.grad)
        assert a.grad.abs().max() <= clip_value


def test_clip_norm_keeps_direction_clip_value_may_not():
    ours = _params()
    before = torch.cat([p.grad.reshape(-1) for p in ours])
    clip.clip_grad_norm_(ours, 1.0)
    after = torch.cat([p.grad.reshape(-1) for p in ours])
    cosine = torch.nn.functional.cosine_similarity(before, after, dim=0)
    assert cosine.item() == pytest.approx(1.0, abs=1e-6)
    by_value = _clone(_params())
    clip.clip_grad_value_(by_value, 1.0)
    after_value = torch.cat([p.grad.reshape(-1) for p in by_value])
    assert torch.nn.functional.cosine_similarity(before, after_value, dim=0).item() < 0.999


def test_generators_are_read_once_like_torch():
    """model.parameters() is a generator: the norm and the scaling must see the same tensors."""
    ours, theirs = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
    theirs.load_state_dict(ours.state_dict())
    for m in (ours, theirs):
        m(torch.ones(2, 5)).pow(2).sum().mul(100).backward()
    total = clip.clip_grad_norm_(ours.parameters(), 1.0)
    torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
    assert total.item() > 1.0
    assert clip.total_grad_norm(ours.parameters()).item() == pytest.approx(1.0, rel=1e-5)
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad)
    by_value = torch.nn.Linear(5, 3)
    by_value(torch.ones(2, 5)).pow(2).sum().mul(100).backward()
    clip.clip_grad_value_(by_value.parameters(), 0.5)
    assert max(p.grad.abs().max().item() for p in by_value.parameters()) <= 0.5


def test_single_tensor_and_missing_grads():
    p = torch.zeros(3, requires_grad=True)
    assert clip.total_grad_norm(p).item() == 0.0  # no gradient yet
    p.grad = torch.tensor([3.0, 4.0, 0.0])
    assert clip.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    torch.testing.assert_close(p.grad, torch.tensor([0.6, 0.8, 0.0]), atol=1e-6, rtol=0)


def test_nonfinite_norm():
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.tensor([float("inf"), 1.0])
    with pytest.raises(
        RuntimeError, match=r"^the total norm of order 2 of the gradients is non-finite \(inf\)"
    ):
        clip.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    # by default, as torch: no error, the norm returned as it is
    ours, theirs = p.detach().clone().requires_grad_(True), p.detach().clone().requires_grad_(True)
    ours.grad, theirs.grad = p.grad.clone(), p.grad.clone()
    assert clip.clip_grad_norm_([ours], 1.0).item() == math.inf
    torch.nn.utils.clip_grad_norm_([theirs], 1.0)
    torch.testing.assert_close(ours.grad, theirs.grad, equal_nan=True)


def test_tiny_norms_are_scaled_as_torch_scales_them():
    # max_norm / (norm + 1e-6): where the norm is a few times 1e-6, the 1e-6 is visible
    ours, theirs = _params(scale=1e-6), _params(scale=1e-6)
    clip.clip_grad_norm_(ours, 1e-6)
    torch.nn.utils.clip_grad_norm_(theirs, 1e-6)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=0)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 5.0, 1e6])
def test_ensemble_clips_each_network_as_torch_clips_it_alone(norm_type, max_norm):
    """Network e of an ensemble (slice e of every parameter) is clipped by its own norm."""
    g = torch.Generator().manual_seed(1)
    stacked = [torch.zeros(s, requires_grad=True) for s in ((3, 4, 2), (3, 5), (3,))]
    for p, scale in zip(stacked, (10.0, 0.01, 1.0), strict=True):
        p.grad = torch.randn(p.shape, generator=g) * scale
    stacked[0].grad[1] *= 1e-3  # one network short enough, the others not
    members = [[p.detach()[e].clone().requires_grad_(True) for p in stacked] for e in range(3)]
    for e, member in enumerate(members):
        for m, p in zip(member, stacked, strict=True):
            m.grad = p.grad[e].clone()
    totals = clip.clip_grad_norm_(stacked, max_norm, norm_type, ensemble=True)
    assert totals.shape == (3,)
    for e, member in enumerate(members):
        total = torch.nn.utils.clip_grad_norm_(member, max_norm, norm_type)
        torch.testing.assert_close(totals[e], total)
        for m, p in zip(member, stacked, strict=True):
            torch.testing.assert_close(p.grad[e], m.grad)


def test_ensemble_needs_one_first_dim():
    a, b = torch.zeros(3, 2, requires_grad=True), torch.zeros(2, 2, requires_grad=True)
    a.grad, b.grad = torch.ones(3, 2), torch.ones(2, 2)
    with pytest.raises(
        ValueError,
        match=r"^with ensemble=True every gradient must have the "
        r"same first dim \(the ensemble's size\); got shapes \(3, 2\), \(2, 2\)$",
    ):
        clip.clip_grad_norm_([a, b], 1.0, ensemble=True)
    c = torch.zeros((), requires_grad=True)
    c.grad = torch.ones(())
    with pytest.raises(ValueError, match=r"^with ensemble=True every gradient"):
        clip.total_grad_norm([c], ensemble=True)
    a.grad[1] = float("nan")
    with pytest.raises(
        RuntimeError,
        match=r"^the total norm of order 2 of the gradients is "
        r"non-finite \(\[1\.414\d*, nan, 1\.414\d*\]\)",
    ):
        clip.clip_grad_norm_([a], 1.0, error_if_nonfinite=True, ensemble=True)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda ps: clip.clip_grad_norm_(ps, -1.0), ValueError, r"^max_norm must be >= 0; got -1$"),
        (
            lambda ps: clip.clip_grad_value_(ps, -0.1),
            ValueError,
            r"^clip_value must be >= 0; got -0.1$",
        ),
        (
            lambda ps: clip.total_grad_norm(ps, 0),
            ValueError,
            r"^norm_type must be positive or inf; got 0$",
        ),
        (
            lambda ps: clip.clip_grad_norm_([1.0], 1.0),
            TypeError,
            r"^parameters must be tensors; got float$",
        ),
    ],
)
def test_errors_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call(_params())
