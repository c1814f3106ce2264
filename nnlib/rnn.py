r"""Recurrent networks written from scratch: a vanilla (Elman) RNN, an LSTM and a GRU, each
with its backward pass, backpropagation through time, written out.

Vanilla RNN, as :class:`torch.nn.RNN` (one layer, one direction), for each time step
:math:`t = 1, \dots, T`:

.. math::
    z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh},\qquad h_t = f(z_t)

with :math:`f` = tanh or ReLU. The same :math:`W_{hh}` is used at every step, so the network
unrolled over :math:`T` steps is a :math:`T`-layer network with tied weights.

Backpropagation through time (BPTT), the backward loop over the steps in reverse: with
:math:`g_t = \partial L/\partial h_t` from the outputs at step :math:`t` and
:math:`\delta_{t+1}` the gradient coming back from step :math:`t + 1`,

.. math::
    \frac{\partial L}{\partial z_t} = (g_t + W_{hh}^\top \delta_{t+1}) \odot f'(z_t)
    =: \delta_t,\qquad
    \frac{\partial L}{\partial W_{hh}} = \sum_t \delta_t h_{t-1}^\top,\quad
    \frac{\partial L}{\partial W_{ih}} = \sum_t \delta_t x_t^\top,\quad
    \frac{\partial L}{\partial x_t} = W_{ih}^\top \delta_t .

Each step back multiplies the gradient by :math:`\operatorname{diag}(f'(z_t))\, W_{hh}^\top`:
over a lag of :math:`k` steps, a product of :math:`k` such Jacobians. In a linear RNN it
vanishes or explodes with the spectral radius of :math:`W_{hh}`; saturating slopes
:math:`f'` shrink it further.

LSTM, as :class:`torch.nn.LSTM` (one layer, one direction; gates in torch's order i, f, g, o):

.. math::
    i, f, o = \sigma(\cdot),\ g = \tanh(\cdot)\ \text{of}\ W_{ih} x_t + b_{ih} + W_{hh} h_{t-1}
    + b_{hh},\qquad c_t = f \odot c_{t-1} + i \odot g,\qquad h_t = o \odot \tanh(c_t).

Its backward pass is written out too, a loop backwards over the steps like the RNN's. With
:math:`\bar h_t` and :math:`\bar c_t` the gradients reaching :math:`h_t` and :math:`c_t`:

.. math::
    \bar o = \bar h_t \odot \tanh c_t,\qquad
    \bar c_t \mathrel{+}= \bar h_t \odot o \odot (1 - \tanh^2 c_t),\qquad
    \bar i = \bar c_t \odot g,\quad \bar g = \bar c_t \odot i,\quad
    \bar f = \bar c_t \odot c_{t-1},\qquad \bar c_{t-1} = \bar c_t \odot f,

then through the gate nonlinearities to the pre-activations :math:`a_t`, and
:math:`\bar h_{t-1} = W_{hh}^\top \bar a_t`. The line :math:`\bar c_{t-1} = \bar c_t \odot f` is
the point of the LSTM: along the cell the gradient is multiplied by the forget gate only, not
by :math:`W_{hh}` and a saturating slope at every step.

GRU, as :class:`torch.nn.GRU` (one layer, one direction; gates in torch's order r, z, n), with
:math:`a = W_{ih} x_t + b_{ih}` and :math:`b = W_{hh} h_{t-1} + b_{hh}` split into three:

.. math::
    r = \sigma(a_r + b_r),\quad z = \sigma(a_z + b_z),\quad
    n = \tanh(a_n + r \odot b_n),\qquad h_t = (1 - z) \odot n + z \odot h_{t-1}.

Backward, with :math:`\bar h_t` the gradient reaching :math:`h_t`:

.. math::
    \bar a_n = \bar h_t \odot (1 - z) \odot (1 - n^2),\quad
    \bar a_z = \bar h_t \odot (h_{t-1} - n) \odot z (1 - z),\quad
    \bar a_r = \bar a_n \odot b_n \odot r (1 - r),

:math:`\bar b = (\bar a_r, \bar a_z, r \odot \bar a_n)` and
:math:`\bar h_{t-1} = z \odot \bar h_t + W_{hh}^\top \bar b`. The term
:math:`z \odot \bar h_t` is the GRU's own additive path: where the update gate :math:`z` is
near 1, the state is copied and its gradient passes back scaled by :math:`z` alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd import Function

from nnlib._validation import (
    check_choice,
    check_floating,
    check_int,
    check_like,
)

__all__ = ["rnn", "lstm", "gru", "RNN", "LSTM", "GRU"]


def _addmm(bias, a, b, out=None):
    """bias + a @ b in one kernel; batched over the ensemble dim when a is 3-d."""
    return (torch.addmm if a.dim() == 2 else torch.baddbmm)(bias, a, b, out=out)


def _row(b):
    """A bias as a row added to every example: (G) as it is, (E, G) as (E, 1, G)."""
    return b if b.dim() == 1 else b.unsqueeze(-2)


def _inputs(x, w_ih, *biases):
    """x_t W_ih^T plus the biases given, for every step at once (one product, one add)."""
    present = [b for b in biases if b is not None]
    bias = sum(present[1:], present[0]) if present else None  # b_ih + b_hh: small
    if bias is not None and x.dim() == 3:  # no ensemble: the bias inside the product
        return torch.addmm(bias, x.flatten(0, 1), w_ih.T).view(*x.shape[:-1], -1)
    inputs = x @ w_ih.mT
    return inputs if bias is None else inputs.add_(_row(bias))  # in place: no second copy


def _sum_outer(a, b):
    """The sum over steps and examples of a_t^T b_t: (T, N, A), (T, N, B) -> (A, B), or with
    an ensemble dim (T, E, N, .) -> (E, A, B), one sum per network."""
    if a.dim() == 3:
        a, b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
        # (b^T a)^T when b is the narrower: with b of 2 columns (page 15's inputs) and a of
        # 128, a^T b ran ~5x slower than (b^T a)^T on the CPU measured (AMD EPYC, MKL)
        return (b.T @ a).T if b.shape[-1] < a.shape[-1] else a.T @ b
    return (a.mT @ b).sum(0)  # per step, then over the steps: faster than one einsum


def _sum_steps(a):
    """The sum over steps and examples: (T, N, A) -> (A), or (T, E, N, A) -> (E, A)."""
    if a.dim() == 3:
        return a.reshape(-1, a.shape[-1]).sum(0)
    return a.sum(0).sum(1)  # over steps first (contiguous blocks): ~8x faster than sum((0, 2))


class _RNN(Function):
    """Elman RNN over a (T, N, I) sequence; returns all hidden states
    (T, N, H). With an ensemble dim E after T, each network on its own."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, relu):
        inputs = _inputs(x, w_ih, b_ih, b_hh)  # every step's input part
        hs, h, w_hh_t = [], h0, w_hh.mT
        for t in range(x.shape[0]):
            z = _addmm(inputs[t], h, w_hh_t)  # inputs[t] + h W_hh^T
            h = z.clamp(min=0) if relu else torch.tanh(z)
            hs.append(h)
        out = torch.stack(hs)
        ctx.save_for_backward(x, h0, w_ih, w_hh, out)
        ctx.relu = relu
        ctx.has_b_ih, ctx.has_b_hh = b_ih is not None, b_hh is not None
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, h0, w_ih, w_hh, out = ctx.saved_tensors
        # f'(z_t) from the outputs: ReLU's is 1 where h > 0 (a bool mask
        # multiplies as 0/1); tanh's is 1 - h^2
        slope = out > 0 if ctx.relu else 1 - out * out
        previous = torch.cat([h0.unsqueeze(0), out[:-1]])  # every h_{t-1}
        reversed_deltas = []  # delta_t, last step first
        # W_hh^T delta_{t+1}: nothing comes back after the last step
        back = torch.zeros_like(h0)
        for t in reversed(range(out.shape[0])):  # through time, backwards
            reversed_deltas.append((grad_out[t] + back) * slope[t])
            back = reversed_deltas[-1] @ w_hh
        deltas = torch.stack(reversed_deltas[::-1])
        grad_w_hh = _sum_outer(deltas, previous)  # sum_t delta_t h_{t-1}^T
        grad_w_ih = _sum_outer(deltas, x)  # sum_t delta_t x_t^T
        grad_b = _sum_steps(deltas)  # sum_t delta_t
        # both biases enter z_t the same way
        grad_b_ih = grad_b if ctx.has_b_ih else None
        grad_b_hh = grad_b if ctx.has_b_hh else None
        grad_x = deltas @ w_ih if ctx.needs_input_grad[0] else None
        return grad_x, back, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh, None


class _LSTM(Function):
    """LSTM over a (T, N, I) sequence; returns all hidden states (T, N, H) and the last cell
    state (N, H). Every step writes into tensors allocated once for all steps (``out=``)."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        hidden = w_hh.shape[-1]
        # every step's input part of the gates' pre-activations; step t overwrites its slice
        # with the gates' values i, f, g, o (no second sequence-sized buffer to fill)
        acts = _inputs(x, w_ih, b_ih, b_hh)
        out, cells, tanh_cells = (h0.new_empty(x.shape[0], *h0.shape) for _ in range(3))
        h, c, w_hh_t = h0, c0, w_hh.mT
        # per step: all gates, the gates one by one (views, made once), c_t, tanh(c_t), h_t
        gates = zip(*acts.unflatten(-1, (4, -1)).unbind(-2), strict=True)
        steps = zip(acts, gates, cells, tanh_cells, out, strict=True)
        a = acts.new_empty(acts.shape[1:])  # a step's gate pre-activations, one buffer for all
        a_g = a[..., 2 * hidden : 3 * hidden]  # those of the gate g
        for act, (i, f, g, o), c_t, tanh_c_t, h_t in steps:
            _addmm(act, h, w_hh_t, out=a)  # pre-activations of the gates i, f, g, o
            torch.sigmoid(a, out=act)  # torch's own, as the RNN's tanh: stable
            torch.tanh(a_g, out=g)
            c = torch.mul(f, c, out=c_t).addcmul_(i, g)  # f c + i g: dc_t/dc_{t-1} = f
            h = torch.mul(o, torch.tanh(c, out=tanh_c_t), out=h_t)
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, out, cells, tanh_cells, acts)
        ctx.has_b_ih, ctx.has_b_hh = b_ih is not None, b_hh is not None
        return out, c

    @staticmethod
    def backward(ctx, grad_out, grad_c_n):
        x, h0, c0, w_ih, w_hh, out, cells, tanh_cells, acts = ctx.saved_tensors
        previous = torch.cat([h0.unsqueeze(0), out[:-1]])  # h_{t-1} for every t
        i, f, g, o = acts.chunk(4, dim=-1)  # every step's gates: (T, N, H) each
        # What does not depend on the gradient coming back is computed for all steps at once,
        # outside the loop (Python, one step at a time): the gate pre-activations' slopes.
        # c_t = f c_{t-1} + i g gives d c_t/d a = (g i', c_{t-1} f', i g') for the gates i, f, g;
        # h_t = o tanh(c_t) gives d h_t/d a_o = tanh(c_t) o' and d h_t/d c_t = o tanh'(c_t),
        # with sigma' = s (1 - s) and tanh' = 1 - tanh^2.
        slopes = torch.addcmul(acts, acts, acts, value=-1)  # s (1 - s) for every gate column
        per_gate = slopes.unflatten(-1, (4, -1))  # (T, N, 4, H): the gates i, f, g, o
        per_gate[..., 0, :].mul_(g)  # g i'
        per_gate[1:, ..., 1, :].mul_(cells[:-1])  # c_{t-1} f'
        per_gate[0, ..., 1, :].mul_(c0)
        torch.mul(i, torch.addcmul(torch.ones_like(g), g, g, value=-1), out=per_gate[..., 2, :])
        per_gate[..., 3, :].mul_(tanh_cells)  # tanh(c_t) o'
        through_tanh = o * (1 - tanh_cells * tanh_cells)
        # Step t turns its slopes into grad_a[t], the gradient of its gate pre-activations, in
        # place: first those of i, f, g, which all come through c_t, then o's, through h_t.
        grad_a, ifg = slopes, 3 * out.shape[-1]  # ifg: the columns of the gates i, f, g
        cell_part, o_part = grad_a[..., :ifg].unflatten(-1, (3, -1)), grad_a[..., ifg:]
        back_c = grad_c_n  # the gradient reaching c_t from step t + 1 (or from c_n)
        # grad_h, the gradient reaching h_t: its own output's plus W_hh^T grad_a_{t+1}, both
        # in one product; the last step's is its output's alone, and h_0 has no output
        grad_h, before = grad_out[-1], [torch.zeros_like(h0), *grad_out[:-1]]
        steps = zip(before, through_tanh, grad_a, cell_part, o_part, f, strict=True)
        for grad_out_before, through_tanh_t, grad_a_t, cell_t, o_t, f_t in reversed(list(steps)):
            grad_c = torch.addcmul(back_c, grad_h, through_tanh_t)
            cell_t.mul_(grad_c.unsqueeze(-2))  # i, f, g: (N, 3, H) times (N, 1, H)
            o_t.mul_(grad_h)
            back_c = grad_c * f_t  # along the cell: multiplied by the forget gate only
            grad_h = _addmm(grad_out_before, grad_a_t, w_hh)  # back through time: h_{t-1}
        grad_w_hh = _sum_outer(grad_a, previous)  # sum over t of grad_a_t h_{t-1}^T
        grad_w_ih = _sum_outer(grad_a, x)
        grad_b = _sum_steps(grad_a)
        grad_b_ih = grad_b if ctx.has_b_ih else None
        grad_b_hh = grad_b if ctx.has_b_hh else None
        grad_x = grad_a @ w_ih if ctx.needs_input_grad[0] else None
        return grad_x, grad_h, back_c, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


class _GRU(Function):
    """GRU over a (T, N, I) sequence; returns all hidden states (T, N, H). Every step writes
    into tensors allocated once for all steps (``out=``)."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        inputs = _inputs(x, w_ih, b_ih)  # a = W_ih x_t + b_ih, every step
        steps, hidden, w_hh_t = x.shape[0], w_hh.shape[-1], w_hh.mT
        recurrent = inputs.new_empty(inputs.shape)  # b = W_hh h_{t-1} + b_hh, every step
        rz = inputs.new_empty(*inputs.shape[:-1], 2 * hidden)  # the gates r, z
        out, n = (h0.new_empty(steps, *h0.shape) for _ in range(2))  # h_t and n_t
        h = h0
        for t in range(steps):
            if b_hh is None:
                b = torch.matmul(h, w_hh_t, out=recurrent[t])
            else:
                b = _addmm(_row(b_hh), h, w_hh_t, out=recurrent[t])
            a_n, b_n = inputs[t, ..., 2 * hidden :], b[..., 2 * hidden :]
            # r and z side by side: sigma(a_r + b_r), sigma(a_z + b_z) in one kernel each
            gates = torch.add(inputs[t, ..., : 2 * hidden], b[..., : 2 * hidden], out=rz[t])
            r, z = gates.sigmoid_().chunk(2, dim=-1)
            n_t = torch.tanh(torch.addcmul(a_n, r, b_n), out=n[t])  # tanh(a_n + r b_n)
            h = torch.add(n_t, z * (h - n_t), out=out[t])  # (1 - z) n + z h_{t-1}
        ctx.save_for_backward(x, h0, w_ih, w_hh, out, rz, n, recurrent[..., 2 * hidden :])
        ctx.has_b_ih, ctx.has_b_hh = b_ih is not None, b_hh is not None
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, h0, w_ih, w_hh, out, rz, n, b_n = ctx.saved_tensors
        hidden = out.shape[-1]
        previous = torch.cat([h0.unsqueeze(0), out[:-1]])  # h_{t-1} for every t
        r, z = rz.chunk(2, dim=-1)
        # the slopes that do not depend on the gradient coming back, for all steps at once:
        # d h_t / d a_n = (1 - z)(1 - n^2), d h_t / d a_z = (h_{t-1} - n) z (1 - z),
        # d a_n-part / d a_r = b_n r (1 - r)
        sigma_slopes = torch.addcmul(rz, rz, rz, value=-1)  # r (1 - r) and z (1 - z)
        slope_r, slope_z = sigma_slopes.chunk(2, dim=-1)
        slope_r.mul_(b_n)
        slope_z.mul_(previous - n)
        slope_n = (1 - z) * torch.addcmul(torch.ones_like(n), n, n, value=-1)
        # every step's gradients of a = W_ih x_t + b_ih and b = W_hh h_{t-1} + b_hh, (r, z, n)
        grad_a = x.new_empty(*out.shape[:-1], 3 * hidden)
        grad_b = torch.empty_like(grad_a)
        back_h = torch.zeros_like(h0)  # the gradient reaching h_t from step t + 1
        for t in reversed(range(out.shape[0])):  # backpropagation through time
            grad_h = grad_out[t] + back_h
            grad_a_n = torch.mul(grad_h, slope_n[t], out=grad_a[t, ..., 2 * hidden :])
            torch.mul(grad_a_n, slope_r[t], out=grad_b[t, ..., :hidden])
            torch.mul(grad_h, slope_z[t], out=grad_b[t, ..., hidden : 2 * hidden])
            torch.mul(r[t], grad_a_n, out=grad_b[t, ..., 2 * hidden :])  # n: b_n times r
            back_h = _addmm(grad_h * z[t], grad_b[t], w_hh)  # the copied state, and via W_hh
        grad_a[..., : 2 * hidden] = grad_b[..., : 2 * hidden]  # r, z: a and b alike
        grad_w_ih = _sum_outer(grad_a, x)
        grad_w_hh = _sum_outer(grad_b, previous)
        grad_b_ih = _sum_steps(grad_a) if ctx.has_b_ih else None
        grad_b_hh = _sum_steps(grad_b) if ctx.has_b_hh else None
        grad_x = grad_a @ w_ih if ctx.needs_input_grad[0] else None
        return grad_x, back_h, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


def _check_sequence(input, input_size, batch_first, ensemble, name="input"):
    """Validate; return the (T, N, I) input, or (T, E, N, I) for an ensemble of E networks,
    and whether it was unbatched."""
    x = check_floating(input, name)
    if ensemble is not None:
        if x.dim() != 4:
            raise ValueError(
                f"{name} must be 4-d ({'E, N, T' if batch_first else 'T, E, N'}, input_size) "
                f"for an ensemble of E={ensemble} networks; got shape {tuple(x.shape)}"
            )
        x = x.movedim(2, 0) if batch_first else x
        if x.shape[1] != ensemble:
            raise ValueError(
                f"{name} must have one slice per network, {ensemble}, in its ensemble dim; "
                f"got {x.shape[1]}"
            )
        unbatched = False
    elif x.dim() not in (2, 3):
        raise ValueError(
            f"{name} must be 2-d (T, input_size) or 3-d (T, N, input_size) "
            f"({'N, T' if batch_first else 'T, N'} order for 3-d); got shape {tuple(x.shape)}"
        )
    else:
        unbatched = x.dim() == 2
        x = x.unsqueeze(1) if unbatched else (x.transpose(0, 1) if batch_first else x)
    if x.shape[-1] != input_size:
        raise ValueError(
            f"{name} must have input_size={input_size} features in its last dim; got {x.shape[-1]}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} must have at least one time step; got a sequence of length 0")
    return x, unbatched


def _check_state(state, x, unbatched, hidden_size, name):
    """The initial state as (N, H), or (E, N, H): zeros if None, else validated."""
    shape = (*x.shape[1:-1], hidden_size)
    if state is None:
        return x.new_zeros(shape)
    expected = (1, hidden_size) if unbatched else (1, *shape)
    state = check_like(state, name, like=x, shape=expected, what=" (num_layers=1, ...)")
    return state.reshape(shape)


def _hidden_size(weight_ih, weight_hh, gates: int):
    """H and the ensemble size E (None for one network) from weight_hh, which must be
    (gates H, H), or (E, gates H, H) for E networks side by side; weight_ih as many dims."""
    check_floating(weight_ih, "weight_ih")
    check_floating(weight_hh, "weight_hh")
    rows = f"{gates} hidden_size" if gates > 1 else "hidden_size"
    hh = weight_hh.shape
    if weight_hh.dim() not in (2, 3) or hh[-1] == 0 or hh[-2] != gates * hh[-1]:
        raise ValueError(
            f"weight_hh must have shape ({rows}, hidden_size), or (E, {rows}, hidden_size) "
            f"for an ensemble of E networks; got {tuple(hh)}"
        )
    if weight_ih.dim() != weight_hh.dim():
        ensemble = "E, " if weight_hh.dim() == 3 else ""
        raise ValueError(
            f"weight_ih must have shape ({ensemble}{rows}, input_size) as weight_hh is "
            f"{weight_hh.dim()}-d; got {tuple(weight_ih.shape)}"
        )
    return hh[-1], (hh[0] if weight_hh.dim() == 3 else None)


def _check_parameters(x, hidden_size, gates, weight_ih, weight_hh, bias_ih, bias_hh):
    """Each weight and bias against its shape (``gates`` blocks of H rows, after the ensemble
    dim if any) and the input."""
    rows = (*weight_hh.shape[:-2], gates * hidden_size)
    check_like(weight_ih, "weight_ih", like=x, shape=(*rows, x.shape[-1]))
    check_like(weight_hh, "weight_hh", like=x, shape=(*rows, hidden_size))
    check_like(bias_ih, "bias_ih", like=x, shape=rows)
    check_like(bias_hh, "bias_hh", like=x, shape=rows)


def _in_layout(out, unbatched, batch_first):
    """Every step's state, (T, N, H) or (T, E, N, H), in the input's layout."""
    if unbatched:
        return out.squeeze(1)
    return out.movedim(0, -2) if batch_first else out


def rnn(
    input: torch.Tensor,
    hx: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    nonlinearity: str = "tanh",
    batch_first: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One-layer Elman RNN over a sequence, with backpropagation through time written out.

    Shapes as :class:`torch.nn.RNN`: input :math:`(T, N, I)` (:math:`(N, T, I)` with
    ``batch_first``) or unbatched :math:`(T, I)`; ``hx`` :math:`(1, N, H)` or :math:`(1, H)`,
    zeros if None; ``weight_ih`` :math:`(H, I)`, ``weight_hh`` :math:`(H, H)`, biases
    :math:`(H)`. Returns ``(output, h_n)``: every step's hidden state, in the input's layout,
    and the last one, :math:`(1, N, H)`.

    An ensemble of :math:`E` independent networks runs side by side when every parameter has
    a leading dim :math:`E` (``weight_hh`` :math:`(E, H, H)`): then the input is
    :math:`(T, E, N, I)` (:math:`(E, N, T, I)` with ``batch_first``), ``hx``
    :math:`(1, E, N, H)`, and network :math:`e` sees only slice :math:`e`, as if run alone.
    The same holds for :func:`lstm` and :func:`gru`.
    """
    nonlinearity = check_choice(nonlinearity, "nonlinearity", ("tanh", "relu"))
    hidden_size, ensemble = _hidden_size(weight_ih, weight_hh, gates=1)
    x, unbatched = _check_sequence(input, weight_ih.shape[-1], batch_first, ensemble)
    h0 = _check_state(hx, x, unbatched, hidden_size, "hx")
    _check_parameters(x, hidden_size, 1, weight_ih, weight_hh, bias_ih, bias_hh)
    out = _RNN.apply(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity == "relu")
    h_n = out[-1].unsqueeze(0)
    return _in_layout(out, unbatched, batch_first), h_n.squeeze(1) if unbatched else h_n


def lstm(
    input: torch.Tensor,
    hx: tuple[torch.Tensor, torch.Tensor] | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    batch_first: bool = False,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    r"""One-layer LSTM over a sequence; gates i, f, g, o as in :class:`torch.nn.LSTM`.

    Shapes as :func:`rnn`, with ``weight_ih`` :math:`(4H, I)`, ``weight_hh`` :math:`(4H, H)`,
    biases :math:`(4H)` and ``hx`` a pair ``(h_0, c_0)`` (or None for zeros). Returns
    ``(output, (h_n, c_n))``. The backward pass is backpropagation through time written out.
    """
    hidden_size, ensemble = _hidden_size(weight_ih, weight_hh, gates=4)
    if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
        raise TypeError(f"hx must be a pair (h_0, c_0) or None; got {type(hx).__name__}")
    h0, c0 = (None, None) if hx is None else hx
    x, unbatched = _check_sequence(input, weight_ih.shape[-1], batch_first, ensemble)
    h = _check_state(h0, x, unbatched, hidden_size, "h_0")
    c = _check_state(c0, x, unbatched, hidden_size, "c_0")
    _check_parameters(x, hidden_size, 4, weight_ih, weight_hh, bias_ih, bias_hh)
    out, c = _LSTM.apply(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
    h_n, c_n = (out[-1], c) if unbatched else (out[-1].unsqueeze(0), c.unsqueeze(0))
    return _in_layout(out, unbatched, batch_first), (h_n, c_n)


def gru(
    input: torch.Tensor,
    hx: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    batch_first: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One-layer GRU over a sequence; gates r, z, n as in :class:`torch.nn.GRU`.

    Shapes as :func:`rnn`, with ``weight_ih`` :math:`(3H, I)`, ``weight_hh`` :math:`(3H, H)`
    and biases :math:`(3H)`. Returns ``(output, h_n)``. The backward pass is backpropagation
    through time written out.
    """
    hidden_size, ensemble = _hidden_size(weight_ih, weight_hh, gates=3)
    x, unbatched = _check_sequence(input, weight_ih.shape[-1], batch_first, ensemble)
    h0 = _check_state(hx, x, unbatched, hidden_size, "hx")
    _check_parameters(x, hidden_size, 3, weight_ih, weight_hh, bias_ih, bias_hh)
    out = _GRU.apply(x, h0, weight_ih, weight_hh, bias_ih, bias_hh)
    h_n = out[-1].unsqueeze(0)
    return _in_layout(out, unbatched, batch_first), h_n.squeeze(1) if unbatched else h_n


class _Recurrent(nn.Module):
    """With ``ensemble=E``, E independent networks of this shape side by side: every
    parameter gets a leading dim E, drawn as E separate networks' would be; see :func:`rnn`."""

    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        batch_first: bool = False,
        ensemble: int | None = None,
    ):
        super().__init__()
        self.input_size = check_int(input_size, "input_size", minimum=1)
        self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        self.ensemble = None if ensemble is None else check_int(ensemble, "ensemble", minimum=1)
        self.bias, self.batch_first = bias, batch_first
        rows = () if ensemble is None else (ensemble,)  # the leading dims of every parameter
        rows = (*rows, self.gates * hidden_size)
        bound = 1 / math.sqrt(hidden_size)  # torch's init: U(-1/sqrt(H), 1/sqrt(H)) for all
        self.weight_ih_l0 = nn.Parameter(torch.empty(*rows, input_size).uniform_(-bound, bound))
        self.weight_hh_l0 = nn.Parameter(torch.empty(*rows, hidden_size).uniform_(-bound, bound))
        if bias:
            self.bias_ih_l0 = nn.Parameter(torch.empty(rows).uniform_(-bound, bound))
            self.bias_hh_l0 = nn.Parameter(torch.empty(rows).uniform_(-bound, bound))
        else:
            self.register_parameter("bias_ih_l0", None)
            self.register_parameter("bias_hh_l0", None)

    def _weights(
        self,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        return self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0

    def extra_repr(self) -> str:
        ensemble = "" if self.ensemble is None else f", ensemble={self.ensemble}"
        return (
            f"{self.input_size}, {self.hidden_size}, bias={self.bias}, "
            f"batch_first={self.batch_first}{ensemble}"
        )


class RNN(_Recurrent):
    """One-layer Elman RNN as :class:`torch.nn.RNN` (same parameter names and shapes, same
    initialisation); the backward pass is BPTT written out (:func:`rnn`)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        ensemble: int | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, batch_first, ensemble)
        self.nonlinearity = check_choice(nonlinearity, "nonlinearity", ("tanh", "relu"))

    def forward(
        self, input: torch.Tensor, hx: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return rnn(
            input,
            hx,
            *self._weights(),
            nonlinearity=self.nonlinearity,
            batch_first=self.batch_first,
        )

    def extra_repr(self) -> str:
        first, rest = super().extra_repr().split(", bias=")
        return f"{first}, nonlinearity={self.nonlinearity!r}, bias={rest}"


class LSTM(_Recurrent):
    """One-layer LSTM as :class:`torch.nn.LSTM` (same parameter names, shapes, gate order
    and initialisation); see :func:`lstm`."""

    gates = 4

    def forward(
        self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        return lstm(input, hx, *self._weights(), batch_first=self.batch_first)


class GRU(_Recurrent):
    """One-layer GRU as :class:`torch.nn.GRU` (same parameter names, shapes, gate order and
    initialisation); see :func:`gru`."""

    gates = 3

    def forward(
        self, input: torch.Tensor, hx: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return gru(input, hx, *self._weights(), batch_first=self.batch_first)
