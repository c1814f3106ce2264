"""A tiny reverse-mode automatic differentiation engine on scalars.

Each :class:`Value` holds a number, the gradient of the final output with respect to it,
and a function that pushes its own gradient to its parents by the chain rule. ``backward``
visits the graph in reverse topological order, so every node's gradient is complete before
it is passed on. In the spirit of Karpathy's micrograd; used by the backpropagation chapter
to train a small MLP and compare its gradients with PyTorch's.

Each operation's backward function is written once, beside the operation, and called with
the node: a node refers only to its data and its parents, so a graph has no reference cycles
and is freed as soon as its output is dropped.
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable, Iterable, Sequence

__all__ = ["Value", "Neuron", "Layer", "MLP"]


def _is_real(x) -> bool:
    """A real number, not a bool (float and int first: the ABC check is slower)."""
    return type(x) in (float, int) or (not isinstance(x, bool) and isinstance(x, numbers.Real))


def _as_value(other) -> Value:
    if isinstance(other, Value):
        return other
    if not _is_real(other):
        raise TypeError(f"operand must be a Value or a real number; got {type(other).__name__}")
    return Value(other)


def _leaf_backward(out: Value) -> None:
    """A leaf has no parents to pass its gradient on to."""


class Value:
    """A scalar in a computation graph: ``data``, ``grad`` (d output / d self), parents."""

    __slots__ = ("data", "grad", "_backward", "_parents", "op")

    def __init__(
        self,
        data: float,
        _parents: tuple[Value, ...] = (),
        op: str = "",
        _backward: Callable[[Value], None] = _leaf_backward,
    ) -> None:
        if type(data) is not float:  # every operation's result is one: no check needed
            if not _is_real(data):
                raise TypeError(f"data must be a real number; got {type(data).__name__}")
            data = float(data)
        self.data = data
        self.grad = 0.0
        self._backward = _backward  # called with this node: pushes its grad to its parents
        self._parents = _parents
        self.op = op

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    # --- operations: forward value and the local chain rule, side by side -------------------
    def __add__(self, other) -> Value:
        other = _as_value(other)
        return Value(self.data + other.data, (self, other), "+", Value._add_backward)

    @staticmethod
    def _add_backward(out: Value) -> None:  # d(a+b)/da = d(a+b)/db = 1
        a, b = out._parents
        a.grad += out.grad
        b.grad += out.grad

    def __mul__(self, other) -> Value:
        other = _as_value(other)
        product = self.data * other.data
        return Value(product, (self, other), "*", Value._mul_backward)

    @staticmethod
    def _mul_backward(out: Value) -> None:  # d(ab)/da = b, d(ab)/db = a
        a, b = out._parents
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad

    def __pow__(self, exponent) -> Value:
        if not _is_real(exponent):
            raise TypeError(f"exponent must be a real number; got {type(exponent).__name__}")
        if type(exponent) not in (float, int):  # a numpy float32 would round the power to it
            exponent = float(exponent)
        if self.data <= 0 and not float(exponent).is_integer():
            raise ValueError(f"a non-integer power needs a positive base; got {self.data}")

        def _backward(out: Value) -> None:  # d(a^k)/da = k a^(k-1); k is remembered here
            self.grad += exponent * self.data ** (exponent - 1) * out.grad

        return Value(self.data**exponent, (self,), f"**{exponent}", _backward)

    def exp(self) -> Value:
        return Value(math.exp(self.data), (self,), "exp", Value._exp_backward)

    @staticmethod
    def _exp_backward(out: Value) -> None:  # d(e^a)/da = e^a
        (a,) = out._parents
        a.grad += out.data * out.grad

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log needs a positive argument; got {self.data}")
        return Value(math.log(self.data), (self,), "log", Value._log_backward)

    @staticmethod
    def _log_backward(out: Value) -> None:  # d(log a)/da = 1/a
        (a,) = out._parents
        a.grad += out.grad / a.data

    def tanh(self) -> Value:
        return Value(math.tanh(self.data), (self,), "tanh", Value._tanh_backward)

    @staticmethod
    def _tanh_backward(out: Value) -> None:  # d tanh(a)/da = 1 - tanh(a)^2
        (a,) = out._parents
        a.grad += (1 - out.data**2) * out.grad

    def relu(self) -> Value:
        return Value(max(0.0, self.data), (self,), "relu", Value._relu_backward)

    @staticmethod
    def _relu_backward(out: Value) -> None:  # 1 for a > 0, else 0 (0 at a = 0, as PyTorch)
        (a,) = out._parents
        a.grad += (a.data > 0) * out.grad

    def sigmoid(self) -> Value:
        s = (
            1 / (1 + math.exp(-self.data))
            if self.data >= 0
            else math.exp(self.data) / (1 + math.exp(self.data))
        )
        return Value(s, (self,), "sigmoid", Value._sigmoid_backward)

    @staticmethod
    def _sigmoid_backward(out: Value) -> None:  # sigma' = sigma (1 - sigma)
        (a,) = out._parents
        a.grad += out.data * (1 - out.data) * out.grad

    # --- derived operations: built from the ones above --------------------------------------
    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other) -> Value:
        return self + (-_as_value(other))

    def __truediv__(self, other) -> Value:
        return self * _as_value(other) ** -1

    def __radd__(self, other) -> Value:
        return self + other

    def __rmul__(self, other) -> Value:
        return self * other

    def __rsub__(self, other) -> Value:
        return _as_value(other) - self

    def __rtruediv__(self, other) -> Value:
        return _as_value(other) / self

    # --- reverse mode --------------------------------------------------------------------------
    def topological_order(self) -> list[Value]:
        """Every node this value depends on, parents before children (iterative DFS)."""
        order, seen, stack = [], set(), [(self, False)]  # Values hash by identity
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            stack.extend((parent, False) for parent in node._parents if parent not in seen)
        return order

    def backward(self) -> None:
        """Fill ``grad`` of every node with d self / d node (gradients
        accumulate: zero them between calls, as with PyTorch)."""
        order = self.topological_order()
        self.grad = 1.0  # d self / d self
        for node in reversed(order):  # children before parents
            node._backward(node)


class Neuron:
    """``activation(w . x + b)`` with weights drawn uniformly in [-1, 1]."""

    def __init__(
        self, n_inputs: int, activation: str = "tanh", rng: random.Random | None = None
    ) -> None:
        if activation not in ("tanh", "relu", "sigmoid", "linear"):
            raise ValueError(
                f"activation must be one of 'tanh', 'relu', 'sigmoid', 'linear'; got {activation!r}"
            )
        rng = rng or random.Random(0)
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(n_inputs)]
        self.b = Value(0.0)
        self.activation = activation

    def __call__(self, x: Sequence) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"x must have {len(self.w)} inputs; got {len(x)}")
        z = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return z if self.activation == "linear" else getattr(z, self.activation)()

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]


class Layer:
    """``n_outputs`` neurons reading the same inputs."""

    def __init__(self, n_inputs: int, n_outputs: int, activation: str, rng: random.Random) -> None:
        self.neurons = [Neuron(n_inputs, activation, rng) for _ in range(n_outputs)]

    def __call__(self, x: Sequence) -> list[Value]:
        return [neuron(x) for neuron in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for neuron in self.neurons for p in neuron.parameters()]


class MLP:
    """A multi-layer perceptron of Values: ``sizes = [inputs, hidden..., outputs]``; hidden
    layers use ``activation``, the output layer is linear."""

    def __init__(self, sizes: Sequence[int], activation: str = "tanh", seed: int = 0) -> None:
        if len(sizes) < 2 or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes
        ):
            raise ValueError(f"sizes must list at least two positive layer widths; got {sizes!r}")
        rng = random.Random(seed)
        last = len(sizes) - 2
        self.layers = [
            Layer(sizes[i], sizes[i + 1], "linear" if i == last else activation, rng)
            for i in range(len(sizes) - 1)
        ]

    def __call__(self, x: Iterable) -> list[Value]:
        out = list(x)
        for layer in self.layers:
            out = layer(out)
        return out

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0
