"""benchmarks/traffic.py counts the ATen ops and bytes that the benchmark tables report."""

import torch
import torch.nn.functional as F

from benchmarks import timing, traffic

N = 1000
BYTES = 4 * N  # float32


def test_an_element_wise_op_reads_its_operands_and_writes_its_result():
    a, b = torch.randn(N), torch.randn(N)
    t = traffic.count(lambda: a * b)
    assert (t.ops, t.read, t.written) == (1, 2 * BYTES, BYTES)
    assert t.names == {"mul": 1}


def test_a_broadcast_operand_and_overlapping_windows_are_read_once():
    a, b = torch.randn(N, 10), torch.randn(10)
    t = traffic.count(lambda: a + b.expand(N, 10))  # b's stride-0 dim
    assert (t.read, t.written) == (10 * BYTES + 40, 10 * BYTES)
    windows = a.view(-1).as_strided((10 * N - 2, 3), (1, 1))  # im2col-like, 3 per element
    t = traffic.count(lambda: windows.clone())
    assert (t.read, t.written) == (10 * BYTES, 3 * (10 * N - 2) * 4)


def test_in_place_ops_read_and_write_their_destination_out_ops_only_write_it():
    a, b, c = torch.randn(N), torch.randn(N), torch.empty(N)
    t = traffic.count(lambda: a.add_(b))
    assert (t.ops, t.read, t.written) == (1, 2 * BYTES, BYTES)
    t = traffic.count(lambda: torch.mul(a, b, out=c))
    assert (t.ops, t.read, t.written) == (1, 2 * BYTES, BYTES)
    t = traffic.count(lambda: torch._foreach_add_([a, b], [b, a]))  # returns nothing
    assert (t.ops, t.read, t.written) == (1, 4 * BYTES, 2 * BYTES)
    values, indices = torch.empty(10), torch.empty(10, dtype=torch.long)
    m = torch.randn(N, 10)
    t = traffic.count(lambda: torch.max(m, 0, out=(values, indices)))  # out args by name
    assert (t.ops, t.read, t.written) == (1, 10 * BYTES, 40 + 80)


def test_write_only_and_shape_only_ops_read_nothing_they_write():
    a, b = torch.randn(N), torch.randn(N)
    for step in (lambda: a.copy_(b), lambda: a.fill_(1.0), lambda: a.zero_()):
        t = traffic.count(step)
        assert (t.ops, t.written) == (1, BYTES)
        assert t.read == (BYTES if t.names["copy_"] else 0)
    for step in (lambda: torch.zeros_like(a), lambda: a.new_zeros(N), lambda: torch.ones_like(a)):
        t = traffic.count(step)
        assert (t.ops, t.read, t.written) == (1, 0, BYTES)


def test_an_op_that_mutates_an_argument_and_returns_new_tensors_writes_both():
    x, mean, var = torch.randn(N, 4), torch.zeros(4), torch.ones(4)
    t = traffic.count(lambda: F.batch_norm(x, mean, var, training=True))
    assert t.ops == 1
    assert t.written >= 4 * BYTES + 2 * 16  # the output and the running statistics


def test_views_and_allocations_are_not_counted():
    a = torch.randn(N, 2)
    t = traffic.count(lambda: (a.view(-1), a.t(), a[0], a.expand(3, N, 2), torch.empty(N)))
    assert (t.ops, t.read, t.written) == (0, 0, 0)
    t = traffic.count(lambda: a[:10].copy_(a[:10]))  # onto itself
    assert t.ops == 0


def test_a_reshape_that_copies_is_one_op_and_its_undeclared_view_none():
    """reshape of a transposed matrix copies it (clone) and views the copy through
    _unsafe_view, whose schema declares no alias; a batched matmul views its result so."""
    a = torch.randn(N, 2)
    t = traffic.count(lambda: a.t().reshape(-1))
    assert (t.ops, t.read, t.written) == (1, 2 * BYTES, 2 * BYTES)
    b, w = torch.randn(4, N, 2), torch.randn(2, 3)
    t = traffic.count(lambda: b @ w)  # one product of (4N, 2) by (2, 3)
    assert (t.ops, t.read, t.written) == (1, 8 * BYTES + 24, 12 * BYTES)
    assert "_unsafe_view" not in t.names


def test_a_fused_forward_and_backward_moves_five_times_its_input():
    """F.layer_norm: the forward reads x and writes y (and the per-example statistics, which
    are small); the backward reads x, dL/dy and the statistics and writes dL/dx."""
    x = torch.randn(64, 256)
    t = traffic.count(timing.fwd_bwd_step(lambda x: F.layer_norm(x, (256,)), (x,)))
    assert t.names == {"native_layer_norm": 1, "native_layer_norm_backward": 1}
    assert 5 * x.nbytes <= t.moved <= 5.1 * x.nbytes


def test_an_autograd_function_is_counted_in_its_forward_and_its_backward():
    from nnlib.activations import sigmoid

    x = torch.randn(N)
    forward = traffic.count(lambda: sigmoid(x))
    both = traffic.count(timing.fwd_bwd_step(sigmoid, (x,)))
    assert forward.ops > 0
    assert both.names - forward.names  # the backward's ops: dL/ds * s * (1 - s)
    assert both.ops > forward.ops
