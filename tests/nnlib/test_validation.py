"""The shared input checks and their messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnlib import _validation as v


def test_check_tensor():
    x = torch.zeros(2)
    assert v.check_tensor(x, "input") is x
    with pytest.raises(TypeError, match=r"^input must be a torch.Tensor; got \[1, 2\] \(list\)$"):
        v.check_tensor([1, 2], "input")
    with pytest.raises(TypeError, match="target must be a torch.Tensor; got array"):
        v.check_tensor(np.zeros(2), "target")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_check_floating_accepts_floats(dtype):
    v.check_floating(torch.zeros(1, dtype=dtype), "input")


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_check_floating_rejects_others(dtype):
    with pytest.raises(TypeError) as info:
        v.check_floating(torch.zeros(1, dtype=dtype), "input")
    assert str(info.value) == (
        "input must be a floating-point tensor (float16, bfloat16, float32 or float64); "
        f"got dtype {dtype}"
    )


def test_check_like():
    x = torch.zeros(2, 3)
    b = torch.zeros(3)
    assert v.check_like(None, "bias", like=x, shape=(3,)) is None
    assert v.check_like(b, "bias", like=x, shape=(3,)) is b
    with pytest.raises(TypeError, match=r"^bias must be a torch.Tensor; got 3 \(int\)$"):
        v.check_like(3, "bias", like=x, shape=(3,))
    with pytest.raises(ValueError, match=r"^bias must have shape \(3,\) \(one each\); got \(2,\)$"):
        v.check_like(torch.zeros(2), "bias", like=x, shape=(3,), what=" (one each)")
    with pytest.raises(ValueError, match=r"^bias must be on the same device as input \(cpu\)"):
        v.check_like(b.to("meta"), "bias", like=x, shape=(3,))
    double = b.double()
    with pytest.raises(
        TypeError, match=r"^bias must have the input's dtype \(torch.float32\); got torch.float64$"
    ):
        v.check_like(double, "bias", like=x, shape=(3,))
    assert v.check_like(double, "bias", like=x, shape=(3,), dtype="cast").dtype == torch.float32
    # "mixed": float32 parameters for a half-precision input, as torch allows
    half = x.half()
    assert v.check_like(b, "weight", like=half, shape=(3,), dtype="mixed") is b
    with pytest.raises(TypeError, match="must have the input's dtype"):
        v.check_like(b, "weight", like=half, shape=(3,))
    with pytest.raises(TypeError, match="must have the input's dtype"):
        v.check_like(double, "weight", like=half, shape=(3,), dtype="mixed")
    with pytest.raises(ValueError, match=r"^dtype must be one of 'same', 'mixed', 'cast'"):
        v.check_like(None, "weight", like=half, shape=(3,), dtype="float32")


def test_check_same_shape():
    v.check_same_shape(torch.zeros(2, 3), torch.zeros(2, 3), "input", "target")
    with pytest.raises(ValueError) as info:
        v.check_same_shape(torch.zeros(2, 3), torch.zeros(3), "input", "target")
    assert str(info.value) == "target must have the same shape as input (2, 3); got (3,)"


def test_check_same_device_on_meta():
    with pytest.raises(ValueError, match=r"target must be on the same device as input \(cpu\)"):
        v.check_same_device(torch.zeros(1), torch.zeros(1, device="meta"), "input", "target")


@pytest.mark.parametrize("good", ["none", "mean", "sum"])
def test_check_reduction_accepts(good):
    assert v.check_reduction(good) == good


@pytest.mark.parametrize("bad", ["avg", "MEAN", "", None, 1, "elementwise_mean"])
def test_check_reduction_rejects(bad):
    with pytest.raises(ValueError) as info:
        v.check_reduction(bad)
    assert str(info.value) == f"reduction must be one of 'none', 'mean', 'sum'; got {bad!r}"


def test_check_int_bounds():
    assert v.check_int(np.int64(3), "k", minimum=1) == 3
    with pytest.raises(ValueError, match=r"^k must be in \[1, inf\]; got 0$"):
        v.check_int(0, "k", minimum=1)
    with pytest.raises(ValueError, match=r"^k must be in \[-inf, 2\]; got 3$"):
        v.check_int(3, "k", maximum=2)
    assert v.check_int(2, "k", maximum=2) == 2  # the bounds are inclusive
    with pytest.raises(
        TypeError,
        match=r"^k must be an integer; got a tensor of dtype torch.int64 and shape \(2,\)$",
    ):
        v.check_int(torch.tensor([1, 2]), "k")


def test_check_number():
    assert v.check_number(2, "eps", minimum=0) == 2.0
    with pytest.raises(TypeError, match=r"^eps must be a real number; got '1e-5' \(str\)$"):
        v.check_number("1e-5", "eps")
    for bad in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(ValueError, match=r"^eps must be finite; got"):
            v.check_number(bad, "eps")
    with pytest.raises(ValueError, match=r"^eps must be > 0; got 0$"):
        v.check_number(0.0, "eps", minimum=0, strict_minimum=True)


def test_check_pair_takes_an_int_or_one_or_two_ints():
    from nnlib._validation import check_pair

    assert check_pair(3, "k", 1) == (3, 3)
    assert check_pair((3,), "k", 1) == (3, 3)  # torch: one value stands for both dims
    assert check_pair([2, 5], "k", 1) == (2, 5)
    for bad in ((), (1, 2, 3)):
        with pytest.raises(ValueError, match=r"^k must be an int or a pair of ints; got"):
            check_pair(bad, "k", 1)
    with pytest.raises(ValueError, match=r"^k must be in \[1, inf\]; got 0$"):
        check_pair((0,), "k", 1)
