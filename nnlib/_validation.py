"""Input checks shared by every nnlib op.

Messages follow one pattern: name the argument, say what was expected, say what was given,
e.g. ``reduction must be one of 'none', 'mean', 'sum'; got 'avg'``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch

REDUCTIONS = ("none", "mean", "sum")
# a window size, stride, padding or dilation: one int for both sides, or (height, width)
Size2 = int | Sequence[int]


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of dtype {value.dtype} and shape {tuple(value.shape)}"
    return f"{value!r} ({type(value).__name__})"


def check_tensor(value: object, name: str) -> torch.Tensor:
    """``value`` must be a :class:`torch.Tensor`."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {_describe(value)}")
    return value


def check_floating(value: object, name: str) -> torch.Tensor:
    """``value`` must be a floating-point tensor (float16, bfloat16, float32 or float64)."""
    value = check_tensor(value, name)
    if not value.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (float16, bfloat16, float32 or float64); "
            f"got dtype {value.dtype}"
        )
    return value


def check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """``a`` and ``b`` must have exactly the same shape (no silent broadcasting)."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_b} must have the same shape as {name_a} {tuple(a.shape)}; got {tuple(b.shape)}"
        )


LOW_PRECISION = (torch.float16, torch.bfloat16)


def check_like(
    value: object,
    name: str,
    *,
    like: torch.Tensor,
    shape: tuple[int, ...],
    what: str = "",
    dtype: str = "same",
) -> torch.Tensor | None:
    """An optional tensor argument that goes with ``like`` (the input): None, or a
    floating-point tensor on ``like``'s device of exactly ``shape``. ``what`` explains the
    shape in the message. ``dtype``: "same" (``like``'s dtype), "mixed" (also float32 for a
    float16/bfloat16 ``like``, as torch allows for normalisation parameters) or "cast"
    (any floating dtype, returned converted to ``like``'s)."""
    check_choice(dtype, "dtype", ("same", "mixed", "cast"))
    if value is None:
        return None
    value = check_floating(value, name)
    check_same_device(like, value, "input", name)
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}{what}; got {tuple(value.shape)}")
    if dtype == "cast":
        return value.to(like.dtype)
    if not (dtype == "mixed" and like.dtype in LOW_PRECISION and value.dtype == torch.float32):
        check_same_dtype(like, value, name)
    return value


def check_same_dtype(like: torch.Tensor, value: torch.Tensor, name: str) -> None:
    """``value`` must have the input ``like``'s dtype."""
    if value.dtype != like.dtype:
        raise TypeError(f"{name} must have the input's dtype ({like.dtype}); got {value.dtype}")


def check_same_device(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """``a`` and ``b`` must live on one device."""
    if a.device != b.device:
        raise ValueError(
            f"{name_b} must be on the same device as {name_a} ({a.device}); got {b.device}"
        )


def check_reduction(reduction: object) -> str:
    """``reduction`` must be one of 'none', 'mean', 'sum'."""
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        allowed = ", ".join(repr(r) for r in REDUCTIONS)
        raise ValueError(f"reduction must be one of {allowed}; got {reduction!r}")
    return reduction


def check_int(
    value: object, name: str, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` must be an integer (not a bool) within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {_describe(value)}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        lo = "-inf" if minimum is None else str(minimum)
        hi = "inf" if maximum is None else str(maximum)
        raise ValueError(f"{name} must be in [{lo}, {hi}]; got {value}")
    return value


def check_number(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """``value`` must be a finite real number, at least ``minimum`` (or above it if strict)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {_describe(value)}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite; got {value}")
    if minimum is not None:
        if strict_minimum and value <= minimum:
            raise ValueError(f"{name} must be > {minimum:g}; got {value:g}")
        if not strict_minimum and value < minimum:
            raise ValueError(f"{name} must be >= {minimum:g}; got {value:g}")
    return value


def check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    """``value`` must be one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def check_dim(dim: object, ndim: int, name: str = "dim") -> int:
    """``dim`` must index a dimension of a tensor with ``ndim`` dimensions; returns it >= 0."""
    dim = check_int(dim, name)
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise ValueError(f"{name} must be in [{-size}, {size - 1}] for a {ndim}-d input; got {dim}")
    return dim % size


def check_not_inplace(inplace: object) -> None:
    """nnlib ops are out-of-place; ``inplace`` exists only to mirror torch's signatures."""
    if inplace is not False:
        raise ValueError(
            f"inplace must be False (nnlib ops never modify their input); got {inplace!r}"
        )


def check_pair(value: object, name: str, minimum: int) -> tuple[int, int]:
    """An int, or a pair of ints, each at least ``minimum``; returned as a pair (H, W). A
    sequence of one int stands for both, as in torch."""
    if isinstance(value, (tuple, list)):
        if len(value) not in (1, 2):
            raise ValueError(f"{name} must be an int or a pair of ints; got {value!r}")
        return (
            check_int(value[0], name, minimum=minimum),
            check_int(value[-1], name, minimum=minimum),
        )
    v = check_int(value, name, minimum=minimum)
    return v, v
