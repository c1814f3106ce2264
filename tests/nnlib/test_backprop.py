"""nnlib.backprop: hand-written matrix backprop equals autograd; gradient checks work."""

from __future__ import annotations

import pytest
import torch

from nnlib import backprop as bp

ACTIVATIONS = ["tanh", "sigmoid", "relu", "elu", "gelu", "softplus"]


def _problem(loss, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(16, 5, generator=g, dtype=torch.float64)
    Y = torch.randn(16, 3, generator=g, dtype=torch.float64) if loss == "mse" else \
        torch.randint(0, 3, (16,), generator=g)  # fmt: skip
    return X, Y, bp.init_mlp2(5, 7, 3, seed=seed)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_hand_backprop_equals_autograd(loss, activation):
    X, Y, params = _problem(loss)
    Z2, cache = bp.mlp2_forward(X, params, activation)
    grads = bp.mlp2_backward(cache, Y, params, loss)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    out, _ = bp.mlp2_forward(X, leaves, activation)
    bp.mlp2_loss(out, Y, loss).backward()
    for key in bp.PARAMS:
        torch.testing.assert_close(grads[key], leaves[key].grad, rtol=1e-10, atol=1e-10)
    if loss == "cross_entropy":
        torch.testing.assert_close(
            bp.mlp2_loss(Z2, Y, loss), torch.nn.functional.cross_entropy(Z2, Y)
        )


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_gradient_check_passes_for_the_correct_backward(loss):
    X, Y, params = _problem(loss)
    _, cache = bp.mlp2_forward(X, params, "tanh")
    grads = bp.mlp2_backward(cache, Y, params, loss)
    errors = bp.gradient_check(lambda: bp.mlp2_loss(bp.mlp2_forward(X, params, "tanh")[0], Y, loss),
                               params, grads)  # fmt: skip
    assert max(errors.values()) < 1e-6


def test_gradient_check_catches_a_wrong_backward():
    X, Y, params = _problem("mse")
    _, cache = bp.mlp2_forward(X, params, "tanh")
    grads = bp.mlp2_backward(cache, Y, params, "mse")
    wrong = dict(grads, W1=grads["W1"] * 1.01)  # a 1% error in one gradient
    errors = bp.gradient_check(lambda: bp.mlp2_loss(bp.mlp2_forward(X, params, "tanh")[0], Y),
                               params, wrong)  # fmt: skip
    assert errors["W1"] > 1e-3 and max(errors[k] for k in ("b1", "W2", "b2")) < 1e-6


def test_numerical_gradient_restores_the_tensor_and_is_exact_for_quadratics():
    t = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    before = t.clone()
    grad = bp.numerical_gradient(lambda: (t**2).sum(), t)
    assert torch.equal(t, before)
    torch.testing.assert_close(grad, 2 * before)


def test_relative_error_is_scale_free():
    a = torch.tensor([1e-8, 1.0, 1e8], dtype=torch.float64)
    assert bp.relative_error(a, a * (1 + 1e-6)) == pytest.approx(5e-7, rel=1e-3)
    assert bp.relative_error(torch.zeros(2), torch.zeros(2)) == 0.0


def test_relative_error_is_not_dominated_by_a_near_zero_entry():
    # Entry by entry, the second entry alone would give 1/3; over the tensor it is negligible.
    a = torch.tensor([1.0, 1e-12], dtype=torch.float64)
    b = torch.tensor([1.0, 2e-12], dtype=torch.float64)
    assert bp.relative_error(a, b) == pytest.approx(5e-13, rel=1e-6)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda X, p: bp.mlp2_forward(X, p, "swish"),
            ValueError,
            r"^activation must be one of 'sigmoid', ",
        ),
        (
            lambda X, p: bp.mlp2_forward(X[:, :4], p),
            ValueError,
            r"^X must have shape \(N, 5\) \(W1's inputs\); got \(16, 4\)$",
        ),
        (
            lambda X, p: bp.mlp2_forward(X, {"W1": p["W1"]}),
            ValueError,
            r"^params must hold W1, b1, W2, b2; missing b1, W2, b2$",
        ),
        (
            lambda X, p: bp.mlp2_forward(X.long(), p),
            TypeError,
            r"^X must be a floating-point tensor",
        ),
        (
            lambda X, p: bp.mlp2_loss(X, X, "hinge"),
            ValueError,
            r"^loss must be one of 'mse', 'cross_entropy'; got 'hinge'$",
        ),
        (
            lambda X, p: bp.numerical_gradient(lambda: X.sum(), X, eps=0),
            ValueError,
            r"^eps must be > 0; got 0$",
        ),
    ],
)
def test_errors_are_named(call, error, message):
    X, _, params = _problem("mse")
    with pytest.raises(error, match=message):
        call(X, params)
