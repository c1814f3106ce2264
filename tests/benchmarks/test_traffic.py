"""benchmarks/traffic.py counts the kernels and bytes the benchmark tables report."""

import torch
import torch.nn.functional as F

from benchmarks import timing, traffic

N = 1000
BYTES = 4 * N  # float32


def test_an_element_wise_op_reads_its_operands_and_writes_its_result():
    a, b = torch.randn(N), torch.randn(N)
    t = traffic.count(lambda: a * b)
    assert (t.kernels, t.read, t.written) == (1, 2 * BYTES, BYTES)
    assert t.ops == {"mul": 1}


def test_a_broadcast_operand_is_read_once():
    a, b = torch.randn(N, 10), torch.randn(10)
    t = traffic.count(lambda: a + b)
    assert (t.read, t.written) == (10 * BYTES + 40, 10 * BYTES)


def test_in_place_and_out_ops_write_their_destination():
    a, b, c = torch.randn(N), torch.randn(N), torch.empty(N)
    t = traffic.count(lambda: a.add_(b))  # reads a and b, writes a
    assert (t.kernels, t.read, t.written) == (1, 2 * BYTES, BYTES)
    t = traffic.count(lambda: torch.mul(a, b, out=c))  # c is written, not read
    assert (t.kernels, t.read, t.written) == (1, 2 * BYTES, BYTES)
    t = traffic.count(lambda: c.copy_(a))  # copy_ does not read its destination
    assert (t.kernels, t.read, t.written) == (1, BYTES, BYTES)


def test_views_and_allocations_launch_no_kernel():
    a = torch.randn(N, 2)
    t = traffic.count(lambda: (a.view(-1), a.t(), a[0], a.expand(3, N, 2), torch.empty(N)))
    assert (t.kernels, t.read, t.written) == (0, 0, 0)


def test_a_reshape_that_copies_is_one_kernel_and_its_undeclared_view_none():
    """reshape of a transposed matrix copies it (clone) and views the copy through
    _unsafe_view, whose schema declares no alias; a batched matmul views its operands so."""
    a = torch.randn(N, 2)
    t = traffic.count(lambda: a.t().reshape(-1))
    assert (t.kernels, t.read, t.written) == (1, 2 * BYTES, 2 * BYTES)
    b, w = torch.randn(4, N, 2), torch.randn(2, 3)
    t = traffic.count(lambda: b @ w)  # one product of (4N, 2) by (2, 3)
    assert (t.kernels, t.read, t.written) == (1, 8 * BYTES + 24, 12 * BYTES)
    assert "_unsafe_view" not in t.ops


def test_a_fused_forward_and_backward_moves_five_times_its_input():
    """F.layer_norm: forward reads x, writes y; backward reads x and dL/dy, writes dL/dx
    (and the per-example statistics, which are small)."""
    x = torch.randn(64, 256)
    t = traffic.count(timing.fwd_bwd_step(lambda x: F.layer_norm(x, (256,)), (x,)))
    assert t.kernels == 2
    assert 5 * x.nbytes <= t.moved <= 5.1 * x.nbytes


def test_an_autograd_function_is_counted_in_its_forward_and_backward():
    from nnlib.activations import relu

    x = torch.randn(N)
    forward = traffic.count(lambda: relu(x))
    both = traffic.count(timing.fwd_bwd_step(relu, (x,)))
    assert 0 < forward.kernels < both.kernels
