"""nnlib: neural-network building blocks written from scratch, verified against PyTorch.

The chapters of the book call this package. Every op has the same name and signature as
its counterpart in :mod:`torch.nn.functional`, so a reader can swap one for the other and
compare. Device and dtype always follow the input tensor; :func:`get_device` only picks a
default for the chapters.
"""

from __future__ import annotations

import importlib
import os
import random

import numpy as np
import torch

from nnlib import (
    activations,
    autodiff,
    backprop,
    clip,
    conv,
    diagnostics,
    glue,
    losses,
    nets,
    norm,
    pooling,
    rnn,
)
from nnlib._validation import check_int

__version__ = "0.1.0"

# imported on first use: plot needs Matplotlib, data torchvision, and the ops need neither
_LAZY = ("data", "plot")

__all__ = [
    "__version__",
    "get_device",
    "seed_everything",
    "activations",
    "autodiff",
    "backprop",
    "clip",
    "conv",
    "data",
    "diagnostics",
    "glue",
    "losses",
    "nets",
    "norm",
    "plot",
    "pooling",
    "rnn",
]


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f"nnlib.{name}")
    raise AttributeError(f"module 'nnlib' has no attribute {name!r}")


_DEVICE_ENV = "NNLIB_DEVICE"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def get_device() -> torch.device:
    """Return the device the chapters compute on.

    Picks CUDA, then Apple's MPS, then the CPU. The environment variable ``NNLIB_DEVICE``
    overrides the choice: ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    Raises:
        ValueError: ``NNLIB_DEVICE`` is set to something that is not a device name.
        RuntimeError: ``NNLIB_DEVICE`` names a device this machine does not have.
    """
    requested = os.environ.get(_DEVICE_ENV, "").strip()
    if not requested:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")

    expected = "one of 'cpu', 'cuda', 'cuda:N' (N a device index) or 'mps'"
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ValueError(f"{_DEVICE_ENV} must be {expected}; got {requested!r}") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{_DEVICE_ENV} must be {expected}; got {requested!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"{_DEVICE_ENV}={requested!r} but CUDA is not available here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"{_DEVICE_ENV}={requested!r} but only {torch.cuda.device_count()} "
                "CUDA device(s) exist"
            )
    if device.type == "mps" and not _mps_available():
        raise RuntimeError(f"{_DEVICE_ENV}={requested!r} but MPS is not available here")
    return device


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (all devices) with ``seed``.

    Also asks cuDNN for deterministic algorithms, so that a chapter prints the same numbers
    on every run.

    Args:
        seed: an integer in ``[0, 2**32 - 1]`` (NumPy's limit).
    """
    check_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA and MPS generators too
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
