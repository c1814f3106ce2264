"""Shared by every test: the devices this machine has, the GPU marker, Hypothesis's CI profile.
The book's tests have their own fixtures in tests/book/conftest.py."""

from __future__ import annotations

import os

import matplotlib
import pytest
import torch
from hypothesis import settings

# CI (CI=true) replays a fixed set of examples so a run is reproducible; locally each run
# explores new random examples (and remembers failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Kernels started by nbval inherit this environment: a non-interactive MPLBACKEND would stop
# them drawing inline figures, so it is removed; this process itself draws with Agg.
os.environ.pop("MPLBACKEND", None)
matplotlib.use("Agg")


def available_devices() -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


DEVICES = available_devices()


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)
