"""bricks.nn.init against torch.nn.init: gains and fans exactly, sample statistics against
the formulas, reproducibility under manual_seed, and clear errors."""

import math

import numpy as np
import pytest
import torch

import bricks
from bricks.nn import init

SHAPES = [(3, 5), (20, 7), (4, 3, 2, 2), (6, 2, 5), (2, 3, 4, 5, 6), (1, 1)]
NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                  "leaky_relu", "selu"]


def big(*shape, dtype=bricks.float64):
    return bricks.empty(*shape, dtype=dtype)


# ---------------------------------------------------------------- gains and fans
@pytest.mark.parametrize("name", NONLINEARITIES)
def test_calculate_gain_equals_torch(name):
    assert init.calculate_gain(name) == torch.nn.init.calculate_gain(name)


@pytest.mark.parametrize("slope", [None, 0.0, 0.2, 1, 3, -0.5])
def test_calculate_gain_leaky_relu_slopes(slope):
    expected = torch.nn.init.calculate_gain("leaky_relu", slope)
    assert init.calculate_gain("leaky_relu", slope) == expected
    assert init.calculate_gain("leaky_relu", slope) == pytest.approx(
        math.sqrt(2 / (1 + (0.01 if slope is None else slope) ** 2)))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'softmax'"):
        init.calculate_gain("softmax")
    with pytest.raises(ValueError, match="negative_slope True"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "0.1")


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_equal_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(bricks.empty(*shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    assert ours == theirs
    for mode in ("fan_in", "fan_out", "FAN_IN"):
        assert (init._calculate_correct_fan(bricks.empty(*shape), mode)
                == torch.nn.init._calculate_correct_fan(torch.empty(*shape), mode))


def test_conv_fans_by_hand():
    # (out_channels, in_channels, kh, kw): each input channel feeds kh * kw weights.
    assert init._calculate_fan_in_and_fan_out(bricks.empty(16, 3, 5, 5)) == (75, 400)


@pytest.mark.parametrize("shape", [(), (7,)])
def test_fans_need_two_dimensions(shape):
    t = bricks.empty(*shape)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(t)
    for fn in (init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
               init.kaiming_normal_):
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            fn(t)


def test_bad_mode_is_named():
    with pytest.raises(ValueError, match="mode 'fan_avg' is not supported"):
        init.kaiming_uniform_(bricks.empty(3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.kaiming_normal_(bricks.empty(3, 4), nonlinearity="swish")


# ---------------------------------------------------------------- statistics
def _check_uniform(values, bound):
    v = values.numpy().ravel()
    assert np.abs(v).max() <= bound
    assert np.abs(v).max() > 0.98 * bound  # the whole interval is used
    assert abs(v.mean()) < 0.02 * bound
    assert v.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def _check_normal(values, std, mean=0.0):
    v = values.numpy().ravel()
    assert abs(v.mean() - mean) < 0.02 * std + 1e-12
    assert v.std() == pytest.approx(std, rel=0.02)


@pytest.mark.parametrize("shape", [(200, 300), (64, 32, 3, 3)])
@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier(shape, gain):
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    _check_uniform(init.xavier_uniform_(big(*shape), gain=gain), bound)
    _check_normal(init.xavier_normal_(big(*shape), gain=gain),
                  gain * math.sqrt(2 / (fan_in + fan_out)))


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("leaky_relu", 0), ("leaky_relu", math.sqrt(5)),
                                            ("relu", 0), ("tanh", 0), ("linear", 0)])
def test_kaiming(shape, mode, nonlinearity, a):
    fan = torch.nn.init._calculate_correct_fan(torch.empty(*shape), mode)
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    _check_uniform(init.kaiming_uniform_(big(*shape), a=a, mode=mode,
                                         nonlinearity=nonlinearity), math.sqrt(3) * std)
    _check_normal(init.kaiming_normal_(big(*shape), a=a, mode=mode,
                                       nonlinearity=nonlinearity), std)


def test_kaiming_defaults_match_torch_bound():
    # Default a=0 with 'leaky_relu' is gain sqrt(2): bound sqrt(6 / fan_in).
    w = init.kaiming_uniform_(big(50, 600))
    t = torch.nn.init.kaiming_uniform_(torch.empty(50, 600, dtype=torch.float64))
    bound = math.sqrt(6 / 600)
    _check_uniform(w, bound)
    assert t.abs().max().item() <= bound
    assert w.numpy().std() == pytest.approx(t.std().item(), rel=0.03)


def test_kaiming_zero_element_is_a_noop_with_warning():
    t = bricks.empty(0, 5)
    with pytest.warns(UserWarning, match="zero-element"):
        assert init.kaiming_uniform_(t) is t
    with pytest.warns(UserWarning, match="zero-element"):
        assert init.kaiming_normal_(t) is t


def test_uniform_and_normal():
    _check_uniform(init.uniform_(big(100_000), -0.3, 0.3), 0.3)
    v = init.uniform_(big(100_000), 2.0, 3.0).numpy()
    assert v.min() >= 2.0 and v.max() <= 3.0 and v.mean() == pytest.approx(2.5, abs=0.01)
    _check_normal(init.normal_(big(100_000), mean=-1.5, std=0.25), 0.25, mean=-1.5)
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(big(3), 1.0, 0.0)
    with pytest.raises(ValueError, match="std must be non-negative"):
        init.normal_(big(3), std=-1.0)


def _truncated_moments(mean, std, a, b):
    def pdf(x):
        return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    def cdf(x):
        return (1 + math.erf(x / math.sqrt(2))) / 2

    al, be = (a - mean) / std, (b - mean) / std
    z = cdf(be) - cdf(al)
    m = mean + std * (pdf(al) - pdf(be)) / z
    var = std**2 * (1 + (al * pdf(al) - be * pdf(be)) / z - ((pdf(al) - pdf(be)) / z) ** 2)
    return m, math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [
    (0.0, 1.0, -2.0, 2.0),     # the defaults: ~95% of the mass, plain rejection
    (0.0, 0.02, -0.04, 0.04),  # the ViT-style call, bounds at 2 std
    (1.0, 2.0, 0.0, 1.5),      # narrow interval: uniform proposals
    (0.0, 1.0, 2.0, 4.0),      # only the tail: uniform proposals, skewed result
])
def test_trunc_normal_bounds_and_moments(mean, std, a, b):
    v = init.trunc_normal_(big(100_000), mean=mean, std=std, a=a, b=b).numpy()
    assert v.min() >= a and v.max() <= b
    m, s = _truncated_moments(mean, std, a, b)
    assert v.mean() == pytest.approx(m, abs=0.02 * s)
    assert v.std() == pytest.approx(s, rel=0.02)
    # torch's own sampler gives the same distribution
    t = torch.nn.init.trunc_normal_(torch.empty(100_000, dtype=torch.float64), mean, std, a, b)
    assert t.mean().item() == pytest.approx(m, abs=0.02 * s)


def test_trunc_normal_float32_within_bounds_and_errors():
    v = init.trunc_normal_(bricks.empty(50_000), std=1.0, a=-0.1, b=0.1)
    assert v.dtype == bricks.float32
    assert v.numpy().min() >= np.float32(-0.1) and v.numpy().max() <= np.float32(0.1)
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(big(3), a=1.0, b=1.0)
    with pytest.raises(ValueError, match="std must be positive"):
        init.trunc_normal_(big(3), std=0.0)
    with pytest.warns(UserWarning, match="more than 2 std"):
        init.trunc_normal_(big(10), mean=10.0, std=1.0, a=-2.0, b=2.0)


# ---------------------------------------------------------------- deterministic ones
def test_constant_zeros_ones():
    assert (init.constant_(big(2, 3), 0.25).numpy() == 0.25).all()
    assert (init.zeros_(bricks.ones(4)).numpy() == 0).all()
    assert (init.ones_(bricks.zeros(2, 2, 2)).numpy() == 1).all()


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
def test_eye_equals_torch(shape):
    np.testing.assert_array_equal(init.eye_(bricks.empty(*shape)).numpy(),
                                  torch.nn.init.eye_(torch.empty(*shape)).numpy())


def test_eye_needs_two_dimensions():
    with pytest.raises(ValueError, match=r"only tensors with 2 dimensions.*\(2, 2, 2\)"):
        init.eye_(bricks.empty(2, 2, 2))


# ---------------------------------------------------------------- orthogonal
@pytest.mark.parametrize("shape", [(6, 6), (10, 4), (4, 10), (8, 3, 2, 2), (3, 4, 5)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal(shape, gain):
    w = init.orthogonal_(big(*shape), gain=gain)
    assert w.shape == shape
    q = w.numpy().reshape(shape[0], -1) / gain
    rows, cols = q.shape
    gram = q.T @ q if rows >= cols else q @ q.T
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_is_not_always_the_same_matrix_and_errors():
    a = init.orthogonal_(big(4, 4)).numpy()
    b = init.orthogonal_(big(4, 4)).numpy()
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(big(5))


# ---------------------------------------------------------------- contract
ALL_RANDOM = [
    lambda t: init.uniform_(t, -1, 1),
    lambda t: init.normal_(t, 0.0, 2.0),
    lambda t: init.trunc_normal_(t, std=0.5),
    lambda t: init.trunc_normal_(t, a=1.0, b=3.0),
    init.xavier_uniform_,
    init.xavier_normal_,
    init.kaiming_uniform_,
    lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
    init.orthogonal_,
]


@pytest.mark.parametrize("fn", ALL_RANDOM)
def test_reproducible_under_manual_seed(fn):
    bricks.manual_seed(123)
    first = fn(bricks.empty(6, 5)).numpy().copy()
    bricks.manual_seed(123)
    again = fn(bricks.empty(6, 5)).numpy().copy()
    np.testing.assert_array_equal(first, again)
    different = fn(bricks.empty(6, 5)).numpy()
    assert not np.array_equal(first, different)


@pytest.mark.parametrize("fn", [init.uniform_, init.normal_, init.trunc_normal_,
                                init.xavier_uniform_, init.xavier_normal_,
                                init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_])
def test_own_generator_leaves_the_global_one_alone(fn):
    bricks.manual_seed(7)
    expected = bricks.rand(3).numpy()
    bricks.manual_seed(7)
    x = fn(bricks.empty(6, 5), generator=np.random.default_rng(0)).numpy().copy()
    y = fn(bricks.empty(6, 5), generator=np.random.default_rng(0)).numpy()
    np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(bricks.rand(3).numpy(), expected)
    assert not np.array_equal(x, fn(bricks.empty(6, 5)).numpy())


ALL = ALL_RANDOM + [init.zeros_, init.ones_, lambda t: init.constant_(t, 3.0), init.eye_]


@pytest.mark.parametrize("fn", ALL)
def test_in_place_on_a_parameter_returns_it(fn):
    p = bricks.nn.Parameter(bricks.ones(6, 5, dtype=bricks.float64))
    array = p.data
    out = fn(p)  # outside no_grad: the initializer takes care of it
    assert out is p
    assert p.data is array  # filled in place, no new array
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p.dtype == bricks.float64


@pytest.mark.parametrize("fn", ALL)
def test_float32_stays_float32(fn):
    assert fn(bricks.empty(6, 5)).dtype == bricks.float32


def test_non_tensors_and_integer_tensors_are_refused():
    with pytest.raises(TypeError, match="expected a bricks Tensor"):
        init.xavier_uniform_(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="floating tensor.*int64"):
        init.normal_(bricks.zeros(3, 3, dtype=bricks.int64))


def test_linear_default_recipe_matches_torch_bound():
    # nn.Linear's reset_parameters: kaiming_uniform_(a=sqrt(5)) -> bound 1/sqrt(fan_in).
    w = init.kaiming_uniform_(big(100, 400), a=math.sqrt(5))
    _check_uniform(w, 1 / math.sqrt(400))
