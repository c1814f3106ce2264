"""nnlib.nets: the deep stacks the pages on vanishing gradients build."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnlib import activations as A
from nnlib.nets import Residual, SeedStack, deep_mlp


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


STACKABLE = {
    "ReLU": dict(),
    "tanh, Xavier": dict(activation=A.Tanh, init="xavier"),
    "BatchNorm": dict(norm=nn.BatchNorm1d),
    "LayerNorm": dict(norm=nn.LayerNorm),
    "residual": dict(residual=True),
}


def _nets(kwargs, seeds=3):
    return [deep_mlp(**kwargs, depth=4, width=6, in_features=5, out_features=3, seed=s).double()
            for s in range(seeds)]  # fmt: skip


def _stacked_loss(out, target):
    """Sum over seeds of each seed's mean squared error: seed s's gradient is its own."""
    return ((out - target) ** 2).mean(dim=(1, 2)).sum()


@pytest.mark.parametrize("name", list(STACKABLE))
def test_seed_stack_is_each_network_side_by_side(name):
    """Outputs, every parameter's gradient and (with BatchNorm) the running statistics of
    the stack equal each seed's own network's, in training and in evaluation mode."""
    nets = _nets(STACKABLE[name])
    stack = SeedStack(nets)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 7, 5, generator=g, dtype=torch.float64)
    target = torch.randn(3, 7, 3, generator=g, dtype=torch.float64)
    out = stack(x)
    grads = torch.autograd.grad(_stacked_loss(out, target), list(stack.parameters()))
    by_name = dict(zip((n for n, _ in stack.named_parameters()), grads, strict=True))
    for s, net in enumerate(nets):
        out_s = net(x[s])
        torch.testing.assert_close(out[s], out_s)
        grads_s = torch.autograd.grad(((out_s - target[s]) ** 2).mean(), list(net.parameters()))
        for (n, _), g_s in zip(net.named_parameters(), grads_s, strict=True):
            torch.testing.assert_close(by_name[n.replace(".", "_")][s], g_s)
        for n, buffer in net.named_buffers():
            if not n.endswith("num_batches_tracked"):
                torch.testing.assert_close(stack.get_buffer(n.replace(".", "_"))[s], buffer)
    stack.eval()
    with torch.no_grad():
        out = stack(x)
        for s, net in enumerate(nets):
            torch.testing.assert_close(out[s], net.eval()(x[s]))


def test_seed_stack_trained_with_adam_stays_each_network():
    """A few Adam steps on the stack and on each network alone end at the same parameters."""
    nets = _nets(STACKABLE["BatchNorm"])
    stack = SeedStack(nets)
    g = torch.Generator().manual_seed(2)
    xs = [torch.randn(3, 8, 5, generator=g, dtype=torch.float64) for _ in range(4)]
    target = torch.randn(3, 8, 3, generator=g, dtype=torch.float64)
    optimiser = torch.optim.Adam(stack.parameters(), lr=0.01)
    for x in xs:
        optimiser.zero_grad()
        _stacked_loss(stack(x), target).backward()
        optimiser.step()
    for s, net in enumerate(nets):
        own = torch.optim.Adam(net.parameters(), lr=0.01)
        for x in xs:
            own.zero_grad()
            ((net(x[s]) - target[s]) ** 2).mean().backward()
            own.step()
        for n, p in net.named_parameters():
            torch.testing.assert_close(stack.get_parameter(n.replace(".", "_"))[s], p)
    assert not any(p is q for p in stack.parameters() for q in nets[0].parameters())


@pytest.mark.parametrize(
    ("nets", "error", "message"),
    [
        (lambda: [], ValueError, r"^nets must be a non-empty sequence of networks; got \[\]$"),
        (lambda: [nn.Linear(2, 2)], TypeError, r"^nets\[0\] must be an nn.Sequential; got Linear$"),
        (lambda: [deep_mlp(depth=3, width=4), deep_mlp(depth=3, width=5)], ValueError,
         r"^nets must share one structure; nets\[1\] differs from nets\[0\]$"),
        (lambda: [deep_mlp(depth=3), deep_mlp(A.Tanh, depth=3)], ValueError,
         r"^nets must share one structure; nets\[1\] differs from nets\[0\]$"),
        (lambda: [nn.Sequential(nn.Linear(2, 2), nn.PReLU())], TypeError,
         r"^SeedStack stacks Linear, BatchNorm1d, LayerNorm and Residual layers and runs "
         r"layers without parameters or buffers; layer 1 is PReLU, with state of its own$"),
        (lambda: [nn.Sequential(nn.Linear(2, 2), Residual(2, nn.PReLU))], TypeError,
         r"layer 1 is Residual, with state of its own$"),
        (lambda: [nn.Sequential(nn.Linear(2, 2), nn.BatchNorm2d(2, affine=False))], TypeError,
         r"layer 1 is BatchNorm2d, with state of its own$"),
        (lambda: [nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2, momentum=None))], ValueError,
         r"^layer 1: BatchNorm1d with momentum=None is not supported$"),
    ],
)  # fmt: skip
def test_seed_stack_refuses_what_it_cannot_stack(nets, error, message):
    with pytest.raises(error, match=message):
        SeedStack(nets())


def test_seed_stack_input_must_hold_one_batch_per_seed():
    stack = SeedStack(_nets(STACKABLE["ReLU"], seeds=2))
    for bad, got in ((torch.zeros(3, 4, 5), r"\(3, 4, 5\)"), (torch.zeros(4, 5), r"\(4, 5\)"),
                     ([[0.0]], "list")):  # fmt: skip
        with pytest.raises(ValueError, match=rf"^input must have shape \(2, batch, features\), "
                           rf"one batch per seed; got {got}$"):  # fmt: skip
            stack(bad)


def test_seed_stack_without_affine_parameters():
    """Normalisations without gain and shift, and BatchNorm without running statistics."""
    for norm in (lambda n: nn.LayerNorm(n, elementwise_affine=False),
                 lambda n: nn.BatchNorm1d(n, affine=False, track_running_stats=False)):  # fmt: skip
        nets = _nets(dict(norm=norm), seeds=2)
        x = torch.randn(2, 6, 5, dtype=torch.float64)
        out = SeedStack(nets)(x)
        for s, net in enumerate(nets):
            torch.testing.assert_close(out[s], net(x[s]))


def test_seed_stack_train_and_eval_reach_the_layers_it_runs():
    """Dropout, a layer without parameters, follows the stack's mode: off in eval mode."""
    nets = [nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).double() for _ in range(2)]
    stack = SeedStack(nets)
    x = torch.ones(2, 3, 4, dtype=torch.float64)
    stack.eval()
    assert not stack.layers[1].training
    torch.testing.assert_close(
        stack(x), torch.stack([net.eval()(x[s]) for s, net in enumerate(nets)])
    )
    stack.train()
    torch.manual_seed(0)  # each of the 24 outputs is dropped with probability 1/2
    assert stack.layers[1].training and (stack(x) == 0).any()
