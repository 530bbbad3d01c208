"""bricks.testing: gradcheck and gradgradcheck pass on correct ops and fail, with a report
that names the input, the element and both values, on wrong ones."""

import numpy as np
import pytest

import bricks
from bricks import Function
from bricks.testing import (
    GradcheckError,
    analytical_jacobian,
    gradcheck,
    gradgradcheck,
    numerical_jacobian,
)


def rand64(*shape, seed=0):
    bricks.manual_seed(seed)
    return bricks.randn(*shape, dtype=bricks.float64, requires_grad=True)


# ---------------------------------------------------------------- passing on correct ops


@pytest.mark.parametrize(
    "func, shapes",
    [
        (lambda x: x.exp(), [(3,)]),
        (lambda x: (x.sin() * x).sum(), [(2, 3)]),
        (lambda x, y: x * y + x / (y * y + 1), [(2, 3), (3,)]),
        (lambda x, y: x @ y, [(2, 3), (3, 4)]),
        (lambda x: x.tanh().mean(dim=0), [(4, 2)]),
        (lambda x: (x.softmax(-1), x.sigmoid()), [(2, 3)]),
        (lambda x: x.reshape(3, 2).T[1:], [(2, 3)]),
    ],
)
def test_gradcheck_and_gradgradcheck_pass_on_correct_ops(func, shapes):
    inputs = tuple(rand64(*s, seed=i) for i, s in enumerate(shapes))
    assert gradcheck(func, inputs) is True
    assert gradgradcheck(func, inputs) is True


def test_gradcheck_skips_inputs_without_requires_grad():
    x = rand64(3)
    c = bricks.tensor([1.0, 2.0, 3.0], dtype=bricks.float64)
    assert gradcheck(lambda a, b: a * b, (x, c))
    assert gradgradcheck(lambda a, b: a * b * a, (x, c))


def test_gradcheck_accepts_single_tensor_and_leaves_inputs_unchanged():
    x = rand64(4)
    before = x.detach().numpy().copy()
    assert gradcheck(lambda t: t ** 3, x)
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None


def test_numerical_and_analytical_jacobians_agree_with_closed_form():
    x = rand64(3)
    w = bricks.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (num_x, num_w) = numerical_jacobian(lambda a, b: b @ a, (x, w))
    (ana_x, ana_w) = analytical_jacobian(lambda a, b: b @ a, (x, w))
    np.testing.assert_allclose(num_x, np.arange(6.0).reshape(2, 3), atol=1e-7)
    np.testing.assert_allclose(ana_x, np.arange(6.0).reshape(2, 3), atol=1e-12)
    assert num_w.shape == ana_w.shape == (2, 6)
    np.testing.assert_allclose(num_w, ana_w, atol=1e-7)


# ---------------------------------------------------------------- failing on wrong ops


class WrongCube(Function):
    """d(x^3)/dx computed as 2 x^2 instead of 3 x^2."""

    def forward(self, x):
        self.save_for_backward(x)
        return x ** 3

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * 2 * x * x


class WrongSecondInput(Function):
    """x * y with a sign error in y's gradient, only for its last element."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y

    def backward(self, grad):
        x, y = self.saved_tensors
        gy = grad * x
        flip = bricks.ones(y.shape, dtype=y.dtype)
        flip.data.reshape(-1)[-1] = -1.0
        return grad * y, gy * flip


class DetachedBackward(Function):
    """Right first derivative, but backward leaves bricks' ops: no second derivative."""

    def forward(self, x):
        self.save_for_backward(x)
        return x ** 3

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * bricks.tensor(3 * x.data ** 2)


def test_gradcheck_fails_with_readable_report_on_wrong_function():
    x = bricks.tensor([1.0, 2.0, -3.0], dtype=bricks.float64, requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: WrongCube.apply(t), (x,))
    msg = str(info.value)
    assert "input 0" in msg and "shape (3,)" in msg
    assert "element (0,)" in msg
    assert "analytic 2" in msg and "numeric 3" in msg  # 2 x^2 vs 3 x^2 at x = 1
    assert "3 of 9 entries differ" in msg
    assert isinstance(info.value, AssertionError)


def test_gradcheck_report_names_the_wrong_input_and_element():
    x = rand64(2, 2, seed=1)
    y = rand64(2, 2, seed=2)
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2, 2\)\) at element \(1, 1\)"
                                             r", output element 3: analytic (-?[\d.e-]+) vs "
                                             r"numeric (-?[\d.e-]+)") as info:
        gradcheck(lambda a, b: WrongSecondInput.apply(a, b), (x, y))
    value = float(x.detach().numpy()[1, 1])
    assert f"analytic {-value:.10g} vs numeric {value:.10g}" in str(info.value)


def test_gradcheck_without_raising_returns_false():
    x = rand64(3)
    assert gradcheck(lambda t: WrongCube.apply(t), (x,), raise_exception=False) is False
    assert gradgradcheck(lambda t: DetachedBackward.apply(t), (x,),
                         raise_exception=False) is False


def test_gradgradcheck_catches_wrong_second_derivative_that_gradcheck_misses():
    x = rand64(3)
    f = lambda t: DetachedBackward.apply(t)  # noqa: E731
    assert gradcheck(f, (x,))
    with pytest.raises(GradcheckError, match="gradcheck failed for input 0 .* analytic 0 vs "
                                             "numeric"):
        gradgradcheck(f, (x,))


def test_gradcheck_tolerances_are_used():
    x = bricks.tensor([1.0], dtype=bricks.float64, requires_grad=True)

    class SlightlyOff(Function):
        def forward(self, a):
            return a * 2

        def backward(self, grad):
            return grad * (2 + 1e-4)

    f = lambda t: SlightlyOff.apply(t)  # noqa: E731
    assert gradcheck(f, (x,), atol=1e-3, rtol=0)
    with pytest.raises(GradcheckError, match="atol=1e-06, rtol=0"):
        gradcheck(f, (x,), atol=1e-6, rtol=0)


def test_gradcheck_argument_errors():
    with pytest.raises(ValueError, match="float64.*x.double"):
        gradcheck(lambda t: t * 2, (bricks.tensor([1.0], requires_grad=True),))
    with pytest.raises(ValueError, match="no input has requires_grad"):
        gradcheck(lambda t: t * 2, (bricks.tensor([1.0], dtype=bricks.float64),))
