"""What an eager forward + backward asks of the machine: the ATen ops it runs and the bytes
those ops read and write, counted op by op as they run.

Every ATen op that the dispatcher runs below autograd (in nnlib's ``Function``s, their explicit
backward, torch's built-ins, and the autograd engine's own accumulations) is counted once,
whatever it runs inside: torch's fused ``native_layer_norm`` and oneDNN's whole-layer LSTM
count one op each, and the ops an op calls inside its own implementation are not seen. Not
counted at all: an op that only makes a view (``view``, ``select``, ``expand``..., and one
whose results all share an input's memory without writing it, such as the ``_unsafe_view``
that ``reshape`` and ``matmul`` call) and one that allocates without writing (``empty``).

Bytes, for each counted op: each tensor it reads (its distinct elements: a broadcast dim once,
overlapping windows once) and each tensor it writes. An in-place op reads and writes its
destination; an ``out=`` op, ``copy_``, ``fill_`` and ``zero_`` only write theirs; ``zeros_like``
and its kind read only their argument's shape. So the bytes are those of each op's inputs and
outputs: the traffic between ops if nothing stayed in the cache. A fused op's temporaries, and
what a matrix product reads more than once, are not seen.

The counts depend on the code, the torch build, the device and the sizes, not on the machine's
speed: they are the same in every run with the same build, device and sizes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

#: Ops that allocate without writing: not counted.
_ALLOCATIONS = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided"}
#: Ops that write their destination without reading it.
_WRITE_ONLY = {"copy_", "fill_", "zero_"}
#: Ops that read only their tensor argument's shape, dtype and device.
_SHAPE_ONLY = {
    "zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "randint_like",
    "new_zeros", "new_ones", "new_full",
}  # fmt: skip


def _bytes(t: torch.Tensor) -> int:
    """The bytes of t's distinct elements: a broadcast (stride-0) dim once, and no more than
    the span of memory t covers (overlapping windows, as im2col's, once)."""
    if t.numel() == 0:
        return 0
    reach = span = 1
    for size, stride in zip(t.shape, t.stride(), strict=True):
        if stride != 0:
            reach *= size
        span += (size - 1) * abs(stride)
    return min(reach, span) * t.element_size()


def _tensors(tree) -> list[torch.Tensor]:
    return [t for t in tree_leaves(tree) if isinstance(t, torch.Tensor)]


def _shares_memory(t: torch.Tensor, others: list[torch.Tensor]) -> bool:
    return t.numel() > 0 and any(
        o.numel() > 0 and t.untyped_storage().data_ptr() == o.untyped_storage().data_ptr()
        for o in others
    )


def _same_view(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (a.data_ptr(), a.shape, a.stride()) == (b.data_ptr(), b.shape, b.stride())


@dataclass
class Traffic:
    ops: int = 0
    read: int = 0
    written: int = 0
    names: Counter[str] = field(default_factory=Counter)  # ops counted, per ATen op name

    @property
    def moved(self) -> int:
        return self.read + self.written


class _Counter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.traffic = Traffic()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func._schema.name.split("::")[-1]
        if func.is_view or name in _ALLOCATIONS:
            return out
        # each argument's value: positional ones in order, keyword-only ones by name
        positional = [a for a in func._schema.arguments if not a.kwarg_only]
        given = list(zip(positional, args, strict=False))
        given += [(a, kwargs[a.name]) for a in func._schema.arguments if a.name in kwargs]
        written, read = [], []
        for arg, value in given:
            tensors = _tensors(value)
            writes = arg.alias_info is not None and arg.alias_info.is_write
            if writes:
                written += tensors
            only_written = writes and (arg.is_out or name in _WRITE_ONLY)
            if not only_written and name not in _SHAPE_ONLY:
                read += tensors
        if name == "copy_" and _same_view(*args[:2]):  # onto itself (``x[i] += y``): nothing
            return out
        returned = _tensors(out)
        if not written and returned and all(_shares_memory(t, read) for t in returned):
            return out  # a view that its schema does not declare
        fresh = [t for t in returned if not _shares_memory(t, written)]
        self.traffic.ops += 1
        self.traffic.names[name] += 1
        self.traffic.read += sum(_bytes(t) for t in read)
        self.traffic.written += sum(_bytes(t) for t in written + fresh)
        return out


def count(step: Callable[[], object]) -> Traffic:
    """The ATen ops and bytes of one call of step()."""
    with _Counter() as counter:
        step()
    return counter.traffic
