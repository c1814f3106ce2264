"""nnlib.rnn: the Elman RNN, the LSTM and the GRU, each with backpropagation through time
written out, against torch.nn.RNN, LSTM and GRU with the same weights."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd import gradcheck

from nnlib.rnn import GRU, LSTM, RNN, gru, lstm, rnn
from tests.nnlib.support import TOL_SUMS

_MODULES = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}


def _pair(kind, input_size, hidden_size, dtype, **kwargs):
    """An nnlib module and torch's with the same weights."""
    theirs = getattr(torch.nn, kind)(input_size, hidden_size, **kwargs).to(dtype)
    ours = _MODULES[kind](input_size, hidden_size, **kwargs).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _run(module, x, hx, upstream):
    """Outputs, then the gradients of every parameter, the input and the initial state(s)."""
    x = x.detach().clone().requires_grad_(True)
    states = [] if hx is None else [h.detach().clone().requires_grad_(True)
                                    for h in (hx if isinstance(hx, tuple) else (hx,))]  # fmt: skip
    state = None if hx is None else (tuple(states) if isinstance(hx, tuple) else states[0])
    out, last = module(x, state)
    lasts = last if isinstance(last, tuple) else (last,)
    loss = (out * upstream).sum() + sum((h * h).sum() for h in lasts)
    grads = torch.autograd.grad(loss, [*module.parameters(), x, *states])
    return [out.detach(), *[h.detach() for h in lasts], *grads]


# what every drawn case varies: the cell, dtype, layout, biases, RNN nonlinearity, initial state
CASES = dict(
    kind=st.sampled_from(["RNN", "LSTM", "GRU"]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    batch_first=st.booleans(),
    bias=st.booleans(),
    relu=st.booleans(),
    with_state=st.booleans(),
    seed=st.integers(0, 2**16),
)


def _options(kind, bias, batch_first, relu):
    """The module's keyword arguments for a drawn case."""
    kwargs = dict(bias=bias, batch_first=batch_first)
    if kind == "RNN":
        kwargs["nonlinearity"] = "relu" if relu else "tanh"
    return kwargs


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(1, 6),
    batch=st.integers(1, 4),
    input_size=st.integers(1, 4),
    hidden_size=st.integers(1, 5),
    **CASES,
)
def test_matches_torch_values_and_gradients(
    kind, steps, batch, input_size, hidden_size, dtype, batch_first, bias, relu, with_state, seed
):
    torch.manual_seed(seed)
    kwargs = _options(kind, bias, batch_first, relu)
    ours, theirs = _pair(kind, input_size, hidden_size, dtype, **kwargs)
    shape = (batch, steps, input_size) if batch_first else (steps, batch, input_size)
    x = torch.randn(shape, dtype=dtype)
    hx = None
    if with_state:
        hx = torch.randn(1, batch, hidden_size, dtype=dtype)
        hx = (hx, torch.randn(1, batch, hidden_size, dtype=dtype)) if kind == "LSTM" else hx
    upstream = torch.randn(shape[:-1] + (hidden_size,), dtype=dtype)
    for a, b in zip(_run(ours, x, hx, upstream), _run(theirs, x, hx, upstream), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        torch.testing.assert_close(a, b, **TOL_SUMS[dtype])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_bptt_passes_gradcheck(nonlinearity):
    g = torch.Generator().manual_seed(0)
    args = [torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True) * 0.5
            for shape in [(4, 2, 3), (1, 2, 5), (5, 3), (5, 5), (5,), (5,)]]  # fmt: skip
    args = [a.detach().requires_grad_(True) for a in args]

    def fn(x, h, w_ih, w_hh, b_ih, b_hh):
        out, h_n = rnn(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity)
        return out, h_n

    assert gradcheck(fn, args)


def test_bptt_is_the_written_out_loop():
    """The explicit backward equals autograd through the forward recurrence written as plain
    tensor operations, and dL/dW_hh sums delta_t h_{t-1}^T over the steps."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 2, 3, generator=g, dtype=torch.float64)
    w_ih = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w_hh = (torch.randn(4, 4, generator=g, dtype=torch.float64) * 0.5).requires_grad_(True)
    up = torch.randn(6, 2, 4, generator=g, dtype=torch.float64)
    out, _ = rnn(x, None, w_ih, w_hh)
    ours = torch.autograd.grad((out * up).sum(), (w_ih, w_hh))
    h, hs = torch.zeros(2, 4, dtype=torch.float64), []
    for t in range(6):
        h = torch.tanh(x[t] @ w_ih.T + h @ w_hh.T)
        hs.append(h)
    reference = torch.autograd.grad((torch.stack(hs) * up).sum(), (w_ih, w_hh))
    for a, b in zip(ours, reference, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_lstm_backward_passes_gradcheck():
    g = torch.Generator().manual_seed(0)
    args = [
        (torch.randn(shape, generator=g, dtype=torch.float64) * 0.5).requires_grad_(True)
        for shape in [(4, 2, 3), (1, 2, 5), (1, 2, 5), (20, 3), (20, 5), (20,), (20,)]
    ]

    def fn(x, h, c, w_ih, w_hh, b_ih, b_hh):
        out, (h_n, c_n) = lstm(x, (h, c), w_ih, w_hh, b_ih, b_hh)
        return out, h_n, c_n

    assert gradcheck(fn, args)


def _lstm_reference(x, h, c, w_ih, w_hh, b):
    """The LSTM forward written as plain tensor operations, for autograd."""
    hs = []
    for t in range(x.shape[0]):
        i, f, g, o = (x[t] @ w_ih.T + h @ w_hh.T + b).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        hs.append(h)
    return torch.stack(hs), c


@pytest.mark.parametrize("scale", [0.5, 30.0])  # 30: gates and cells saturated
def test_lstm_bptt_is_the_written_out_loop(scale):
    """The explicit backward equals autograd through the plain forward recurrence, also with
    every gate saturated (sigmoid and tanh at 0 or 1 to double precision)."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(7, 3, 2, generator=g, dtype=torch.float64)
    h0, c0 = (torch.randn(3, 4, generator=g, dtype=torch.float64) for _ in range(2))
    weights = [(torch.randn(shape, generator=g, dtype=torch.float64) * scale).requires_grad_(True)
               for shape in [(16, 2), (16, 4), (16,)]]  # fmt: skip
    up = torch.randn(7, 3, 4, generator=g, dtype=torch.float64)
    up_c = torch.randn(3, 4, generator=g, dtype=torch.float64)
    leaves = [x, h0, c0]
    for leaf in leaves:
        leaf.requires_grad_(True)
    out, (_, c_n) = lstm(x, (h0.unsqueeze(0), c0.unsqueeze(0)), *weights)
    ours = torch.autograd.grad((out * up).sum() + (c_n[0] * up_c).sum(), [*leaves, *weights])
    out_r, c_r = _lstm_reference(x, h0, c0, *weights)
    reference = torch.autograd.grad((out_r * up).sum() + (c_r * up_c).sum(), [*leaves, *weights])
    torch.testing.assert_close(out, out_r, rtol=1e-12, atol=1e-12)
    for a, b in zip(ours, reference, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_gru_backward_passes_gradcheck():
    g = torch.Generator().manual_seed(0)
    args = [
        (torch.randn(shape, generator=g, dtype=torch.float64) * 0.5).requires_grad_(True)
        for shape in [(4, 2, 3), (1, 2, 5), (15, 3), (15, 5), (15,), (15,)]
    ]

    def fn(x, h, w_ih, w_hh, b_ih, b_hh):
        return gru(x, h, w_ih, w_hh, b_ih, b_hh)

    assert gradcheck(fn, args)
    assert gradcheck(lambda x, h, w_ih, w_hh: gru(x, h, w_ih, w_hh), args[:4])


def _gru_reference(x, h, w_ih, w_hh, b_ih, b_hh):
    """The GRU forward written as plain tensor operations (torch.nn.GRU's equations)."""
    hs = []
    for t in range(x.shape[0]):
        a_r, a_z, a_n = (x[t] @ w_ih.T + b_ih).chunk(3, dim=-1)
        b_r, b_z, b_n = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
        r, z = torch.sigmoid(a_r + b_r), torch.sigmoid(a_z + b_z)
        n = torch.tanh(a_n + r * b_n)
        h = (1 - z) * n + z * h
        hs.append(h)
    return torch.stack(hs)


@pytest.mark.parametrize("scale", [0.5, 30.0])  # 30: every gate saturated
def test_gru_bptt_is_the_written_out_loop(scale):
    """The explicit backward equals autograd through the plain forward recurrence, also with
    the gates saturated."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(7, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    weights = [(torch.randn(shape, generator=g, dtype=torch.float64) * scale).requires_grad_(True)
               for shape in [(12, 2), (12, 4), (12,), (12,)]]  # fmt: skip
    up = torch.randn(7, 3, 4, generator=g, dtype=torch.float64)
    out, h_n = gru(x, h0.unsqueeze(0), *weights)
    ours = torch.autograd.grad((out * up).sum(), [x, h0, *weights])
    out_r = _gru_reference(x, h0, *weights)
    reference = torch.autograd.grad((out_r * up).sum(), [x, h0, *weights])
    torch.testing.assert_close(out, out_r, rtol=1e-12, atol=1e-12)
    assert torch.equal(h_n[0], out[-1])
    for a, b in zip(ours, reference, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_gru_update_gate_copies_the_state_and_its_gradient():
    """With the update gate near 1 (a large z bias) h_t is h_{t-1} copied, and the gradient of
    the last state to the first input survives a long sequence; near 0 it does not."""
    torch.manual_seed(0)
    steps = 60
    x = torch.randn(steps, 1, 2, dtype=torch.float64, requires_grad=True)
    reach = {}
    for z_bias in (6.0, -6.0):
        net = GRU(2, 3).double()
        with torch.no_grad():
            net.bias_hh_l0[3:6] = z_bias  # the update gate's bias
        out, _ = net(x)
        (grad,) = torch.autograd.grad(out[-1].sum(), x)
        reach[z_bias] = grad[0].abs().max().item()
    assert reach[6.0] > 1e-4 > 1e-12 > reach[-6.0]


def test_unbatched_input_and_defaults_match_torch():
    torch.manual_seed(0)
    for kind in ("RNN", "LSTM", "GRU"):
        ours, theirs = _pair(kind, 3, 4, torch.float64)
        x = torch.randn(5, 3, dtype=torch.float64)
        a, b = ours(x), theirs(x)
        torch.testing.assert_close(a[0], b[0])
        assert a[0].shape == (5, 4)
        for mine, torchs in zip(a[1] if kind == "LSTM" else (a[1],),
                                b[1] if kind == "LSTM" else (b[1],), strict=True):  # fmt: skip
            assert mine.shape == torchs.shape == (1, 4)
            torch.testing.assert_close(mine, torchs)
        # an unbatched sequence with an explicit initial state (or pair), shaped (1, H)
        states = [torch.randn(1, 4, dtype=torch.float64) for _ in range(2)]
        state = tuple(states) if kind == "LSTM" else states[0]
        for mine, torchs in zip(ours(x, state), theirs(x, state), strict=True):
            for m, t in zip(*((v if isinstance(v, tuple) else (v,)) for v in (mine, torchs)),
                            strict=True):  # fmt: skip
                torch.testing.assert_close(m, t)
        # the functional forms default to batch_first=False, as the modules
        weights = [p.detach() for p in ours.parameters()]
        x3 = torch.randn(5, 2, 3, dtype=torch.float64)
        fn = {"RNN": rnn, "LSTM": lstm, "GRU": gru}[kind]
        torch.testing.assert_close(fn(x3, None, *weights)[0], theirs(x3)[0])
    for kind in ("RNN", "LSTM", "GRU"):  # torch's init: everything U(-1/sqrt(H), 1/sqrt(H))
        torch.manual_seed(1)
        module = _MODULES[kind](3, 16)
        for name, param in module.named_parameters():
            assert param.abs().max().item() <= 0.25, name
            assert param.min().item() < -0.15 and param.max().item() > 0.15, name
    assert repr(RNN(3, 4)) == "RNN(3, 4, nonlinearity='tanh', bias=True, batch_first=False)"
    assert repr(LSTM(3, 4, bias=False)) == "LSTM(3, 4, bias=False, batch_first=False)"
    assert repr(GRU(3, 4, batch_first=True)) == "GRU(3, 4, bias=True, batch_first=True)"
    for kind in ("RNN", "LSTM", "GRU"):
        ours, theirs = _pair(kind, 3, 4, torch.float32)
        assert {k: v.shape for k, v in ours.state_dict().items()} == {
            k: v.shape for k, v in theirs.state_dict().items()
        }
    torch.manual_seed(3)
    weights = RNN(3, 16).weight_hh_l0  # torch's init: U(-1/sqrt(H), 1/sqrt(H))
    assert weights.abs().max().item() <= 0.25 and weights.abs().max().item() > 0.2


@settings(max_examples=40, deadline=None)
@given(
    ensemble=st.integers(1, 3),
    steps=st.integers(1, 5),
    batch=st.integers(1, 3),
    hidden_size=st.integers(1, 4),
    **CASES,
)
def test_an_ensemble_runs_each_network_as_if_alone(
    kind, ensemble, steps, batch, hidden_size, dtype, batch_first, bias, relu, with_state, seed
):
    """Network e of an ensemble, fed slice e, gives what the same weights give run alone:
    outputs, last states, and the gradients of its parameters, input and initial state."""
    torch.manual_seed(seed)
    kwargs = _options(kind, bias, batch_first, relu)
    stacked = _MODULES[kind](2, hidden_size, ensemble=ensemble, **kwargs).to(dtype)
    shape = (ensemble, batch, steps, 2) if batch_first else (steps, ensemble, batch, 2)
    x = torch.randn(shape, dtype=dtype)
    ens_dim = 0 if batch_first else 1
    hx = None
    if with_state:
        hx = torch.randn(1, ensemble, batch, hidden_size, dtype=dtype)
        hx = (hx, torch.randn_like(hx)) if kind == "LSTM" else hx
    upstream = torch.randn(shape[:-1] + (hidden_size,), dtype=dtype)
    together = _run(stacked, x, hx, upstream)
    for e in range(ensemble):
        alone = _MODULES[kind](2, hidden_size, **kwargs).to(dtype)
        alone.load_state_dict({k: v[e] for k, v in stacked.state_dict().items()})
        state = None
        if with_state:
            state = tuple(h[:, e] for h in hx) if kind == "LSTM" else hx[:, e]
        expected = _run(alone, x.select(ens_dim, e), state, upstream.select(ens_dim, e))
        n_params = len(list(alone.parameters()))
        n_last = 2 if kind == "LSTM" else 1
        for i, (a, b) in enumerate(zip(together, expected, strict=True)):
            # outputs and inputs carry the ensemble dim where the input has it; the last
            # states, parameters and initial states right after num_layers or first
            if i == 0 or i == 1 + n_last + n_params:
                a = a.select(ens_dim, e)
            elif i <= n_last or i > 1 + n_last + n_params:
                a = a[:, e]
            else:
                a = a[e]
            torch.testing.assert_close(a, b, **TOL_SUMS[dtype])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_ensemble_backward_passes_gradcheck(kind):
    torch.manual_seed(0)
    module = _MODULES[kind](3, 2, ensemble=2).double()
    weights = [p.detach().clone().requires_grad_(True) for p in module.parameters()]
    x = torch.randn(3, 2, 2, 3, dtype=torch.float64, requires_grad=True)
    fn = {"RNN": rnn, "LSTM": lstm, "GRU": gru}[kind]

    def outputs(x, *weights):
        out, last = fn(x, None, *weights)
        return out, *(last if isinstance(last, tuple) else (last,))

    assert gradcheck(outputs, (x, *weights))


def test_ensemble_members_are_drawn_separately():
    torch.manual_seed(0)
    module = LSTM(3, 16, ensemble=4)
    assert module.weight_hh_l0.shape == (4, 64, 16) and module.bias_ih_l0.shape == (4, 64)
    for name, param in module.named_parameters():
        assert param.abs().max().item() <= 0.25, name
        assert len({tuple(member.flatten().tolist()) for member in param}) == 4, name
    assert repr(GRU(3, 4, ensemble=2)) == "GRU(3, 4, bias=True, batch_first=False, ensemble=2)"
    assert repr(RNN(3, 4, ensemble=2)) == (
        "RNN(3, 4, nonlinearity='tanh', bias=True, batch_first=False, ensemble=2)"
    )


_W3, _U3 = torch.randn(2, 5, 3), torch.randn(2, 5, 5)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: rnn(torch.randn(4, 2, 3), None, _W3, _U3), ValueError,
         r"^input must be 4-d \(T, E, N, input_size\) for an ensemble of E=2 networks; "
         r"got shape \(4, 2, 3\)$"),
        (lambda: rnn(torch.randn(1, 2, 4, 3), None, _W3, _U3, batch_first=True), ValueError,
         r"^input must have one slice per network, 2, in its ensemble dim; got 1$"),
        (lambda: rnn(torch.randn(4, 3, 1, 3), None, _W3, _U3), ValueError,
         r"^input must have one slice per network, 2, in its ensemble dim; got 3$"),
        (lambda: rnn(torch.randn(4, 2, 1, 3), None, _W3[0], _U3), ValueError,
         r"^weight_ih must have shape \(E, hidden_size, input_size\) as weight_hh is 3-d; "
         r"got \(5, 3\)$"),
        (lambda: rnn(torch.randn(4, 2, 1, 3), None, torch.randn(3, 5, 3), _U3), ValueError,
         r"^weight_ih must have shape \(2, 5, 3\); got \(3, 5, 3\)$"),
        (lambda: rnn(torch.randn(4, 2, 1, 3), None, _W3, _U3, torch.randn(5)), ValueError,
         r"^bias_ih must have shape \(2, 5\); got \(5,\)$"),
        (lambda: gru(torch.randn(4, 2, 1, 3), torch.randn(1, 1, 5), torch.randn(2, 15, 3),
                     torch.randn(2, 15, 5)), ValueError,
         r"^hx must have shape \(1, 2, 1, 5\) \(num_layers=1, \.\.\.\); got \(1, 1, 5\)$"),
        (lambda: LSTM(3, 4, ensemble=0), ValueError, r"^ensemble must be in \[1, inf\]; got 0$"),
        (lambda: rnn(torch.randn(4, 2, 3), None, _W3, _U3, batch_first=True), ValueError,
         r"^input must be 4-d \(E, N, T, input_size\) for an ensemble of E=2 networks; "
         r"got shape \(4, 2, 3\)$"),
        (lambda: rnn(torch.randn(4, 1, 3), None, torch.randn(5, 3), torch.randn(1, 1, 5, 5)),
         ValueError, r"^weight_hh must have shape \(hidden_size, hidden_size\), or \(E, [^)]*\) "
         r"for an ensemble of E networks; got \(1, 1, 5, 5\)$"),
    ],
)  # fmt: skip
def test_bad_ensemble_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_lstm_cell_path_carries_the_gradient_where_the_rnn_loses_it():
    """With the forget gate near 1 the LSTM's gradient to the first step survives a long
    sequence; the tanh RNN with a small recurrent weight loses it."""
    torch.manual_seed(0)
    steps = 60
    x = torch.randn(steps, 1, 2, dtype=torch.float64, requires_grad=True)
    net = LSTM(2, 3).double()
    with torch.no_grad():
        net.bias_hh_l0[3:6] = 6.0  # the forget gate's bias: f close to 1
    out, _ = net(x)
    (g_lstm,) = torch.autograd.grad(out[-1].sum(), x)
    simple = RNN(2, 3).double()
    with torch.no_grad():
        simple.weight_hh_l0.mul_(0.3)
    out, _ = simple(x)
    (g_rnn,) = torch.autograd.grad(out[-1].sum(), x)
    assert g_lstm[0].abs().max() > 1e-6 > g_rnn[0].abs().max()


X3 = torch.randn(4, 2, 3)
W = torch.randn(5, 3)
U = torch.randn(5, 5)


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: rnn(torch.randn(3), None, W, U), ValueError,
         r"^input must be 2-d \(T, input_size\) or 3-d"),
        (lambda: rnn(torch.randn(4, 2, 2), None, W, U), ValueError,
         r"^input must have input_size=3 features in its last dim; got 2$"),
        (lambda: rnn(torch.randn(0, 2, 3), None, W, U), ValueError,
         r"^input must have at least one time step; got a sequence of length 0$"),
        (lambda: rnn(X3, torch.randn(1, 2, 4), W, U), ValueError,
         r"^hx must have shape \(1, 2, 5\) \(num_layers=1, \.\.\.\); got \(1, 2, 4\)$"),
        (lambda: rnn(X3, torch.randn(1, 2, 5).double(), W, U), TypeError,
         r"^hx must have the input's dtype"),
        (lambda: rnn(X3, None, W, torch.randn(5, 4)), ValueError,
         r"^weight_hh must have shape \(hidden_size, hidden_size\), or \(E, [^)]*\) for an ensemble of E networks; got \(5, 4\)$"),
        (lambda: rnn(X3, None, torch.randn(4, 3), U), ValueError,
         r"^weight_ih must have shape \(5, 3\); got \(4, 3\)$"),
        (lambda: rnn(X3, None, W, U, torch.randn(4)), ValueError,
         r"^bias_ih must have shape \(5,\); got \(4,\)$"),
        (lambda: rnn(X3, None, W, U, nonlinearity="sigmoid"), ValueError,
         r"^nonlinearity must be one of 'tanh', 'relu'; got 'sigmoid'$"),
        (lambda: rnn(X3.long(), None, W, U), TypeError, r"^input must be a floating-point"),
        (lambda: rnn(X3, None, W.double(), U), TypeError, r"^weight_ih must have the input's"),
        (lambda: rnn(X3, None, W, U.to("meta")), ValueError,
         r"^weight_hh must be on the same device as input \(cpu\); got meta$"),
        (lambda: lstm(X3, torch.randn(1, 2, 5), torch.randn(20, 3), torch.randn(20, 5)),
         TypeError, r"^hx must be a pair \(h_0, c_0\) or None; got Tensor$"),
        (lambda: lstm(X3, None, torch.randn(20, 3), torch.randn(18, 5)), ValueError,
         r"^weight_hh must have shape \(4 hidden_size, hidden_size\), or \(E, [^)]*\) for an ensemble of E networks; got \(18, 5\)$"),
        (lambda: rnn(torch.randn(3), None, W, U, batch_first=True), ValueError,
         r"^input must be 2-d \(T, input_size\) or 3-d \(T, N, input_size\) \(N, T order for 3-d\); got shape \(3,\)$"),
        (lambda: rnn(torch.randn(3), None, W, U), ValueError,
         r"\(T, N order for 3-d\); got shape \(3,\)$"),
        (lambda: rnn(torch.randn(4, 2, 6), None, W, U), ValueError,
         r"^input must have input_size=3 features in its last dim; got 6$"),
        (lambda: rnn(torch.randn(4, 3), torch.randn(1, 4), W, U), ValueError,
         r"^hx must have shape \(1, 5\) \(num_layers=1, \.\.\.\); got \(1, 4\)$"),
        (lambda: rnn(X3, torch.ones(1, 2, 5, dtype=torch.long), W, U), TypeError,
         r"^hx must be a floating-point"),
        (lambda: rnn(X3, torch.ones(1, 2, 5, device="meta"), W, U), ValueError,
         r"^hx must be on the same device as input \(cpu\); got meta$"),
        (lambda: rnn(X3, None, W.long(), U), TypeError, r"^weight_ih must be a floating-point"),
        (lambda: rnn(X3, None, W, U.long()), TypeError, r"^weight_hh must be a floating-point"),
        (lambda: rnn(X3, None, W, U, torch.ones(5, dtype=torch.long)), TypeError,
         r"^bias_ih must be a floating-point"),
        (lambda: rnn(X3, None, W, U, None, torch.randn(4)), ValueError,
         r"^bias_hh must have shape \(5,\); got \(4,\)$"),
        (lambda: rnn(X3, None, W, torch.randn(5, 5, 1)), ValueError,
         r"^weight_hh must have shape \(hidden_size, hidden_size\), or \(E, [^)]*\) for an ensemble of E networks; got \(5, 5, 1\)$"),
        (lambda: rnn(X3, None, torch.randn(3), U), ValueError,
         r"^weight_ih must have shape \(hidden_size, input_size\) as weight_hh is 2-d; "
         r"got \(3,\)$"),
        (lambda: lstm(X3, (torch.randn(1, 2, 5),), torch.randn(20, 3), torch.randn(20, 5)),
         TypeError, r"^hx must be a pair \(h_0, c_0\) or None; got tuple$"),
        (lambda: lstm(X3, None, torch.randn(16, 3), torch.randn(20, 5)), ValueError,
         r"^weight_ih must have shape \(20, 3\); got \(16, 3\)$"),
        (lambda: lstm(X3, None, torch.randn(20, 3), torch.randn(20, 5).double()), TypeError,
         r"^weight_hh must have the input's dtype"),
        (lambda: lstm(X3, None, torch.randn(20, 3), torch.randn(20, 5), torch.randn(5)),
         ValueError, r"^bias_ih must have shape \(20,\); got \(5,\)$"),
        (lambda: lstm(X3, None, torch.randn(20, 3), torch.randn(20, 5), None, torch.randn(5)),
         ValueError, r"^bias_hh must have shape \(20,\); got \(5,\)$"),
        (lambda: lstm(X3, None, torch.randn(20, 3).long(), torch.randn(20, 5)), TypeError,
         r"^weight_ih must be a floating-point"),
        (lambda: lstm(X3, (torch.randn(1, 2, 5), torch.randn(1, 2, 4)), torch.randn(20, 3),
                      torch.randn(20, 5)), ValueError,
         r"^c_0 must have shape \(1, 2, 5\) \(num_layers=1, \.\.\.\); got \(1, 2, 4\)$"),
        (lambda: lstm(X3, (torch.randn(1, 2, 5).double(), torch.randn(1, 2, 5)),
                      torch.randn(20, 3), torch.randn(20, 5)), TypeError,
         r"^h_0 must have the input's dtype \(torch.float32\); got torch.float64$"),
        (lambda: lstm(torch.randn(0, 2, 3), None, torch.randn(20, 3), torch.randn(20, 5)),
         ValueError, r"^input must have at least one time step"),
        (lambda: gru(X3, None, torch.randn(15, 3), torch.randn(20, 5)), ValueError,
         r"^weight_hh must have shape \(3 hidden_size, hidden_size\), or \(E, [^)]*\) for an ensemble of E networks; got \(20, 5\)$"),
        (lambda: gru(X3, None, torch.randn(12, 3), torch.randn(15, 5)), ValueError,
         r"^weight_ih must have shape \(15, 3\); got \(12, 3\)$"),
        (lambda: gru(X3, None, torch.randn(15, 3), torch.randn(15, 5), torch.randn(5)),
         ValueError, r"^bias_ih must have shape \(15,\); got \(5,\)$"),
        (lambda: gru(X3, None, torch.randn(15, 3), torch.randn(15, 5), None, torch.randn(5)),
         ValueError, r"^bias_hh must have shape \(15,\); got \(5,\)$"),
        (lambda: gru(X3, torch.randn(1, 2, 4), torch.randn(15, 3), torch.randn(15, 5)),
         ValueError, r"^hx must have shape \(1, 2, 5\) \(num_layers=1, \.\.\.\); got \(1, 2, 4\)$"),
        (lambda: gru(X3.double(), None, torch.randn(15, 3), torch.randn(15, 5)), TypeError,
         r"^weight_ih must have the input's dtype"),
        (lambda: gru(torch.randn(0, 2, 3), None, torch.randn(15, 3), torch.randn(15, 5)),
         ValueError, r"^input must have at least one time step"),
        (lambda: GRU(3, 0), ValueError, r"^hidden_size must be in \[1, inf\]; got 0$"),
        (lambda: RNN(0, 3), ValueError, r"^input_size must be in \[1, inf\]; got 0$"),
        (lambda: LSTM(3, 0), ValueError, r"^hidden_size must be in \[1, inf\]; got 0$"),
        (lambda: RNN(3, 4, nonlinearity="gelu"), ValueError, r"^nonlinearity must be one of"),
    ],
)  # fmt: skip
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.gpu
def test_cuda_matches_cpu():
    torch.manual_seed(0)
    for kind in ("RNN", "LSTM", "GRU"):
        ours, _ = _pair(kind, 3, 4, torch.float64)
        x = torch.randn(5, 2, 3, dtype=torch.float64)
        up = torch.randn(5, 2, 4, dtype=torch.float64)
        cpu = _run(ours, x, None, up)
        gpu = _run(ours.cuda(), x.cuda(), None, up.cuda())
        for a, c in zip(gpu, cpu, strict=True):
            assert a.device.type == "cuda"
            torch.testing.assert_close(a.cpu(), c)


def test_relu_rnn_matches_torch_as_module_and_function():
    """The ReLU RNN against torch's with the same weights: tanh and ReLU differ at every
    positive pre-activation, so the nonlinearity must reach the loop from both entry points."""
    torch.manual_seed(0)
    ours, theirs = _pair("RNN", 3, 4, torch.float64, nonlinearity="relu")
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    upstream = torch.randn(5, 2, 4, dtype=torch.float64)
    for a, b in zip(_run(ours, x, None, upstream), _run(theirs, x, None, upstream), strict=True):
        torch.testing.assert_close(a, b, **TOL_SUMS[torch.float64])
    out, h_n = rnn(x, None, *theirs.parameters(), nonlinearity="relu")
    want, want_h = theirs(x)
    torch.testing.assert_close(out, want.detach(), **TOL_SUMS[torch.float64])
    assert (out == 0).any() and not torch.allclose(out, rnn(x, None, *theirs.parameters())[0])
