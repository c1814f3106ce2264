r"""Gradient clipping, written out; same names, signatures and results as
:func:`torch.nn.utils.clip_grad_norm_` and :func:`torch.nn.utils.clip_grad_value_`.

* By norm: treat all gradients as one long vector :math:`g`; if
  :math:`\|g\|_p > c`, scale every gradient by :math:`c / (\|g\|_p + 10^{-6})`. The
  direction of the update is kept, only its length is capped.
* For an ensemble (networks stacked along every parameter's first dim, as
  :mod:`nnlib.rnn`'s ``ensemble``), ``ensemble=True`` clips each network by its own norm, as
  if it were trained alone.
* By value: clamp every gradient entry into :math:`[-c, c]`. Each coordinate is capped on
  its own, which can change the update's direction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from nnlib._validation import check_number

__all__ = ["total_grad_norm", "clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters) -> list[torch.Tensor]:
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    params = list(parameters)
    for p in params:
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"parameters must be tensors; got {type(p).__name__}")
    return [p.grad for p in params if p.grad is not None]


def _members(grads) -> int:
    """The ensemble size: the first dim, the same for every gradient."""
    sizes = {tuple(g.shape[:1]) for g in grads}
    if len(sizes) != 1 or () in sizes:
        shapes = ", ".join(str(tuple(g.shape)) for g in grads)
        raise ValueError(
            "with ensemble=True every gradient must have the same first dim "
            f"(the ensemble's size); got shapes {shapes}"
        )
    return sizes.pop()[0]


def total_grad_norm(
    parameters: Iterable[torch.Tensor] | torch.Tensor,
    norm_type: float = 2.0,
    ensemble: bool = False,
) -> torch.Tensor:
    """The p-norm of all gradients viewed as one vector (the norm of the per-tensor norms);
    with ``ensemble``, one such norm per network, shape (E,)."""
    norm_type = float(norm_type)
    if not (norm_type > 0):
        raise ValueError(f"norm_type must be positive or inf; got {norm_type:g}")
    grads = _grads(parameters)
    if not grads:
        return torch.tensor(0.0)
    if ensemble:  # every gradient as (E, rest): the norms of the rows
        grads = [g.reshape(_members(grads), -1) for g in grads]
    dim = 1 if ensemble else None
    if math.isinf(norm_type):
        norms = torch.stack([g.detach().abs().amax(dim=() if dim is None else dim) for g in grads])
        return norms.amax(dim=0)
    norms = torch.stack([torch.linalg.vector_norm(g.detach(), norm_type, dim=dim) for g in grads])
    return torch.linalg.vector_norm(norms, norm_type, dim=0)


def clip_grad_norm_(
    parameters: Iterable[torch.Tensor] | torch.Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    ensemble: bool = False,
) -> torch.Tensor:
    """Scale all gradients in place so that their total norm is at most ``max_norm``.

    Returns the total norm *before* clipping (as PyTorch does), so it can be logged. With
    ``ensemble``, each parameter's first dim indexes networks trained side by side, and each
    network's gradients are scaled by its own norm (returned as a tensor of E norms).
    """
    max_norm = check_number(max_norm, "max_norm", minimum=0)
    if not isinstance(parameters, torch.Tensor):
        parameters = list(parameters)  # a generator (model.parameters()) can be read only once
    grads = _grads(parameters)
    total = total_grad_norm(parameters, norm_type, ensemble)
    if error_if_nonfinite and not torch.isfinite(total).all():
        raise RuntimeError(
            f"the total norm of order {float(norm_type):g} of the gradients is non-finite "
            f"({total.tolist()}), so it cannot be clipped"
        )
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)  # 1 when already short enough
    for g in grads:  # with an ensemble, network e's gradients times scale[e]
        g.mul_(scale.to(g.device).reshape(scale.shape + (1,) * (g.dim() - scale.dim())))
    return total


def clip_grad_value_(parameters: Iterable[torch.Tensor] | torch.Tensor, clip_value: float) -> None:
    """Clamp every gradient entry into ``[-clip_value, clip_value]`` in place."""
    clip_value = check_number(clip_value, "clip_value", minimum=0)
    for g in _grads(parameters):
        g.clamp_(-clip_value, clip_value)
