"""nnlib.nets: the deep stacks the pages on vanishing gradients build."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnlib import activations as A
from nnlib.nets import Residual, deep_mlp


def _linears(net):
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("norm", [None, nn.LayerNorm])
def test_layers_and_shapes(residual, norm):
    net = deep_mlp(A.Tanh, norm=norm, residual=residual, depth=5, width=8, in_features=3,
                   out_features=2)  # fmt: skip
    linears = _linears(net)
    assert len(linears) == 5
    assert (linears[0].in_features, linears[0].out_features) == (3, 8)
    assert (linears[-1].in_features, linears[-1].out_features) == (8, 2)
    blocks = [m for m in net if isinstance(m, Residual)]
    assert len(blocks) == (3 if residual else 0)
    norms = [m for m in net.modules() if isinstance(m, nn.LayerNorm)]
    # a norm after the first layer, and after every hidden layer unless it is residual
    assert len(norms) == (0 if norm is None else 1 if residual else 4)
    assert net(torch.randn(4, 3)).shape == (4, 2)


def test_residual_block_adds_its_input():
    block = Residual(4, A.ReLU)
    x = torch.randn(3, 4)
    torch.testing.assert_close(block(x), x + torch.relu(block.linear(x)))


@pytest.mark.parametrize(("init", "gain"), [("xavier", 1.0), ("he", 2.0)])
def test_inits_set_the_weight_variance_and_zero_biases(init, gain):
    net = deep_mlp(init=init, depth=3, width=400, in_features=400, out_features=400)
    for layer in _linears(net):
        assert torch.count_nonzero(layer.bias) == 0
        fan_in, fan_out = layer.in_features, layer.out_features
        expected = gain / fan_in if init == "he" else 2 / (fan_in + fan_out)
        assert layer.weight.var().item() == pytest.approx(expected, rel=0.03)


def test_default_init_is_torchs_and_the_seed_makes_it_repeatable():
    a, b = deep_mlp(seed=3, depth=3), deep_mlp(seed=3, depth=3)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    torch.manual_seed(3)
    first = nn.Linear(64, 64)
    torch.testing.assert_close(a[0].weight, first.weight)
    c = deep_mlp(seed=None, depth=3)  # leaves the generator as it is: other draws
    assert not torch.equal(c[0].weight, a[0].weight)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(init="glorot"), ValueError, r"^init must be one of 'default', 'xavier', 'he'; got 'glorot'$"),
        (dict(depth=1), ValueError, r"^depth must be in \[2, inf\]; got 1$"),
        (dict(width=0), ValueError, r"^width must be in \[1, inf\]; got 0$"),
        (dict(in_features=2.5), TypeError, r"^in_features must be an integer; got 2.5 \(float\)$"),
        (dict(out_features=0), ValueError, r"^out_features must be in \[1, inf\]; got 0$"),
        (dict(seed="0"), TypeError, r"^seed must be an integer"),
    ],
)  # fmt: skip
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        deep_mlp(**kwargs)
