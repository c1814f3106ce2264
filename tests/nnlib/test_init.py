"""nnlib's package-level helpers: version, device choice, seeding."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import nnlib


def test_version_is_a_release_string():
    parts = nnlib.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)


def test_default_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.delenv("NNLIB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(nnlib, "_mps_available", lambda: True)
    assert nnlib.get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert nnlib.get_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(nnlib, "_mps_available", lambda: False)
    assert nnlib.get_device() == torch.device("cpu")


def test_env_variable_overrides(monkeypatch):
    monkeypatch.setenv("NNLIB_DEVICE", "cpu")
    assert nnlib.get_device() == torch.device("cpu")
    monkeypatch.setenv("NNLIB_DEVICE", "  cpu ")
    assert nnlib.get_device() == torch.device("cpu")


@pytest.mark.parametrize("value", ["tpu", "gpu", "cuda:x", "meta", "cpu,cuda"])
def test_invalid_env_value_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("NNLIB_DEVICE", value)
    with pytest.raises(ValueError) as info:
        nnlib.get_device()
    message = str(info.value)
    assert message.startswith("NNLIB_DEVICE must be one of 'cpu', 'cuda', 'cuda:N'")
    assert message.endswith(f"got {value!r}")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_requesting_missing_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("NNLIB_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match=r"NNLIB_DEVICE='cuda' but CUDA is not available"):
        nnlib.get_device()


@pytest.mark.gpu
def test_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setenv("NNLIB_DEVICE", f"cuda:{torch.cuda.device_count()}")
    with pytest.raises(RuntimeError, match="CUDA device"):
        nnlib.get_device()


def _draws():
    return (random.random(), np.random.rand(), torch.rand(3).tolist())


def test_seed_everything_makes_every_generator_repeat():
    nnlib.seed_everything(123)
    first = _draws()
    nnlib.seed_everything(123)
    assert _draws() == first
    nnlib.seed_everything(124)
    assert _draws() != first


@pytest.mark.parametrize(
    ("seed", "error", "message"),
    [
        (-1, ValueError, r"seed must be in \[0, 4294967295\]; got -1"),
        (2**32, ValueError, r"seed must be in \[0, 4294967295\]; got 4294967296"),
        (1.5, TypeError, r"seed must be an integer; got 1.5 \(float\)"),
        ("0", TypeError, r"seed must be an integer; got '0' \(str\)"),
        (True, TypeError, r"seed must be an integer; got True \(bool\)"),
    ],
)
def test_seed_everything_rejects_bad_seeds(seed, error, message):
    with pytest.raises(error, match=message):
        nnlib.seed_everything(seed)
