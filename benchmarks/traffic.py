"""What an eager forward + backward asks of the machine: the kernels it launches and the bytes
those kernels read and write, counted op by op as they run.

Every ATen op that reaches the dispatcher below autograd (in nnlib's ``Function``s, their
explicit backward, and torch's built-ins alike) is seen once. An op that only makes a view
(``view``, ``select``, ``expand``..., or an op whose results all share an input's memory
without writing it, such as ``_unsafe_view``) or allocates without writing (``empty``)
launches no kernel and moves nothing. Any other op is one kernel: it reads each tensor argument (the
elements it can reach, a broadcast dim counted once) and writes each tensor it returns (for an
in-place or ``out=`` op, the tensor it writes into, which ``copy_`` does not read first).

The counts are properties of the code, not of the machine: the same on every CPU and in every
run. They do not see what happens inside a kernel (a matrix product reads its operands more
than once from the cache; a fused kernel keeps its temporaries in registers), so bytes here
are the traffic between kernels, the part that separate kernels cannot avoid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

#: Ops that allocate without writing: no kernel, no traffic.
_ALLOCATIONS = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided"}


def _bytes(t: torch.Tensor) -> int:
    """The bytes of the elements a kernel can reach in t: a broadcast (stride-0) dim once."""
    reach = 1
    for size, stride in zip(t.shape, t.stride(), strict=True):
        if stride != 0:
            reach *= size
    return reach * t.element_size() if t.numel() else 0


def _aliases(returned: list[torch.Tensor], inputs: list[torch.Tensor]) -> bool:
    """Whether every returned tensor shares its memory with one of the inputs."""
    storages = {t.untyped_storage().data_ptr() for t in inputs if t.numel()}
    return bool(returned) and all(
        t.numel() and t.untyped_storage().data_ptr() in storages for t in returned
    )


@dataclass
class Traffic:
    kernels: int = 0
    read: int = 0
    written: int = 0
    ops: Counter[str] = field(default_factory=Counter)  # kernels per ATen op name

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
        written = [a for a, arg in zip(args, func._schema.arguments, strict=False)
                   if arg.alias_info is not None and arg.alias_info.is_write]  # fmt: skip
        written += [v for k, v in kwargs.items() if k == "out"]
        written = tree_leaves(written)
        read = [t for t in tree_leaves((args, {k: v for k, v in kwargs.items() if k != "out"}))
                if isinstance(t, torch.Tensor)]  # fmt: skip
        returned = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        if not written and _aliases(returned, read):  # a view its schema does not declare
            return out  # (``_unsafe_view``, which ``reshape`` and ``matmul`` call)
        if name == "copy_":  # writes its destination without reading it
            read = read[1:]
        self.traffic.kernels += 1
        self.traffic.ops[name] += 1
        self.traffic.read += sum(_bytes(t) for t in read)
        self.traffic.written += sum(_bytes(t) for t in (written or returned))
        return out


def count(step: Callable[[], object]) -> Traffic:
    """The kernels and bytes of one call of step()."""
    with _Counter() as counter:
        step()
    return counter.traffic
