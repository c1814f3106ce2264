"""nnlib.autodiff: the scalar reverse-mode engine against PyTorch."""

from __future__ import annotations

import gc
import math
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlib.autodiff import MLP, Neuron, Value

finite = st.floats(-3, 3, allow_nan=False)


def _torch_grads(fn, *xs):
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = fn(*ts)
    out.backward()
    return out.item(), [t.grad.item() for t in ts]


def _value_grads(fn, *xs):
    vs = [Value(x) for x in xs]
    out = fn(*vs)
    out.backward()
    return out.data, [v.grad for v in vs]


EXPRESSIONS = {
    "polynomial": lambda a, b: a * b + b**3 - a * 2 + 1,
    "division": lambda a, b: (a + 4) / (b * b + 1) - 1 / (a * a + 2),
    "exp_log": lambda a, b: (a.exp() + (b * b + 1).log()) * a,
    "tanh": lambda a, b: (a * b).tanh() + a.tanh() * b,
    "relu": lambda a, b: (a - b).relu() * a + (b * 2).relu(),
    "sigmoid": lambda a, b: (a * 3 - b).sigmoid() * b,
    "reused": lambda a, b: (lambda c: c * c + c * a)(a * b + a),  # a node used twice
    "subtraction": lambda a, b: 3 - a - (b - 2) * (-a),
}

TORCH_VERSIONS = {
    "exp_log": lambda a, b: (a.exp() + (b * b + 1).log()) * a,
    "relu": lambda a, b: torch.relu(a - b) * a + torch.relu(b * 2),
    "sigmoid": lambda a, b: torch.sigmoid(a * 3 - b) * b,
}


@pytest.mark.parametrize("name", list(EXPRESSIONS))
@settings(max_examples=30, deadline=None)
@given(a=finite, b=finite)
def test_values_and_gradients_match_torch(name, a, b):
    ours = _value_grads(EXPRESSIONS[name], a, b)
    theirs = _torch_grads(TORCH_VERSIONS.get(name, EXPRESSIONS[name]), a, b)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-12, abs=1e-12)
    assert ours[1] == pytest.approx(theirs[1], rel=1e-10, abs=1e-12)


def test_relu_gradient_at_zero_is_zero_like_torch():
    assert _value_grads(lambda a: a.relu(), 0.0)[1] == [0.0]


def test_gradients_accumulate_and_topological_order():
    a = Value(2.0)
    b = a * a  # a feeds b twice
    c = b + a
    order = c.topological_order()
    assert order.index(a) < order.index(b) < order.index(c)
    c.backward()
    assert a.grad == 2 * 2.0 + 1  # dc/da = 2a + 1


def test_deep_graph_needs_no_recursion():
    x = Value(1.0)
    y = x
    for _ in range(sys.getrecursionlimit() * 3):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


@pytest.mark.parametrize("op", ["+", "*", "**", "exp", "log", "tanh", "relu", "sigmoid"])
def test_a_graph_is_freed_without_the_cycle_collector(op):
    """No node refers back to itself through its backward function: once the output goes, the graph
    goes by reference counting alone (the cycle collector used to dominate training time)."""
    ops = {
        "+": lambda v: v + 1.0, "*": lambda v: v * 2.0, "**": lambda v: v**3, "exp": Value.exp,
        "log": Value.log, "tanh": Value.tanh, "relu": Value.relu, "sigmoid": Value.sigmoid,
    }  # fmt: skip
    enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()  # start with no garbage waiting
        x = Value(0.5)
        out = ops[op](x)
        out.backward()
        assert x.grad != 0.0
        del out
        unreachable = gc.collect()  # what reference counting could not free
        assert unreachable == 0, f"{op}: the graph outlived its output (a reference cycle)"
    finally:
        if enabled:
            gc.enable()


def test_mlp_gradients_equal_torch():
    mlp = MLP([3, 4, 4, 2], activation="tanh", seed=1)
    xs = [[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]]
    loss = sum(((o - t) ** 2 for x in xs for o, t in zip(mlp(x), [1.0, -1.0], strict=True)),
               Value(0.0))  # fmt: skip
    loss.backward()

    weights = [torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64,
                            requires_grad=True) for layer in mlp.layers]  # fmt: skip
    biases = [torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64,
                           requires_grad=True) for layer in mlp.layers]  # fmt: skip
    h = torch.tensor(xs, dtype=torch.float64)
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = h @ w.T + b
        if i < len(weights) - 1:
            h = torch.tanh(h)
    torch_loss = ((h - torch.tensor([1.0, -1.0], dtype=torch.float64)) ** 2).sum()
    torch_loss.backward()
    assert loss.data == pytest.approx(torch_loss.item(), rel=1e-12)
    for layer, w, b in zip(mlp.layers, weights, biases, strict=True):
        ours = torch.tensor([[p.grad for p in n.w] for n in layer.neurons], dtype=torch.float64)
        torch.testing.assert_close(ours, w.grad)
        torch.testing.assert_close(torch.tensor([n.b.grad for n in layer.neurons],
                                                dtype=torch.float64), b.grad)  # fmt: skip
    mlp.zero_grad()
    assert all(p.grad == 0.0 for p in mlp.parameters())
    assert len(mlp.parameters()) == 3 * 4 + 4 + 4 * 4 + 4 + 4 * 2 + 2


def test_repr():
    assert repr(Value(1.5)) == "Value(data=1.5, grad=0)"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: Value("1"), TypeError, r"^data must be a real number; got str$"),
        (lambda: Value(True), TypeError, r"^data must be a real number; got bool$"),
        (lambda: Value(1j), TypeError, r"^data must be a real number; got complex$"),
        (
            lambda: Value(1.0) * False,
            TypeError,
            r"^operand must be a Value or a real number; got bool$",
        ),
        (lambda: Value(2.0) ** True, TypeError, r"^exponent must be a real number; got bool$"),
        (
            lambda: Value(1.0) + "x",
            TypeError,
            r"^operand must be a Value or a real number; got str$",
        ),
        (lambda: Value(-1.0).log(), ValueError, r"^log needs a positive argument; got -1.0$"),
        (
            lambda: Value(-2.0) ** 0.5,
            ValueError,
            r"^a non-integer power needs a positive base; got -2.0$",
        ),
        (
            lambda: Value(2.0) ** Value(2.0),
            TypeError,
            r"^exponent must be a real number; got Value$",
        ),
        (
            lambda: Neuron(2, "swish"),
            ValueError,
            r"^activation must be one of 'tanh', 'relu', 'sigmoid', 'linear'; got 'swish'$",
        ),
        (lambda: Neuron(2)([1.0]), ValueError, r"^x must have 2 inputs; got 1$"),
        (
            lambda: MLP([3]),
            ValueError,
            r"^sizes must list at least two positive layer widths; got \[3\]$",
        ),
        (lambda: MLP([3, 0]), ValueError, r"sizes must list"),
    ],
)
def test_errors_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "number", [3, 2.5, np.float64(2.5), np.int64(3), np.float32(0.5), Fraction(1, 4)]
)
def test_any_real_number_is_accepted_and_stored_as_a_float(number):
    """float and int take a fast path past the numbers.Real check; other reals take the check."""
    for value in (Value(number), Value(1.0) * number, number + Value(0.0)):
        assert type(value.data) is float
    assert Value(number).data == float(number)
    assert (Value(2.0) ** number).data == 2.0 ** float(number)


def test_sigmoid_is_stable():
    assert Value(-1000.0).sigmoid().data == 0.0 and Value(1000.0).sigmoid().data == 1.0
    assert math.isfinite(Value(-745.0).sigmoid().data)
