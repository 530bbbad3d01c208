"""bricks.nn.utils against torch.nn.utils on the same gradients."""

import math

import numpy as np
import pytest
import torch

import bricks
import bricks.nn
from bricks.nn import utils

SHAPES = [(3, 4), (4,), (2, 3, 2), ()]


def make_pair(dtype, scale=1.0, seed=0, with_none=False):
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        value = np.asarray(rng.standard_normal(shape), dtype=dtype)
        grad = np.asarray(scale * rng.standard_normal(shape), dtype=dtype)
        p = bricks.nn.Parameter(bricks.tensor(value))
        t = torch.nn.Parameter(torch.from_numpy(value.copy()))
        if not (with_none and i == 1):
            p.grad = bricks.tensor(grad)
            t.grad = torch.from_numpy(grad.copy())
        ours.append(p)
        theirs.append(t)
    return ours, theirs


def assert_grads_equal(ours, theirs, rtol):
    for p, t in zip(ours, theirs):
        if t.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e4])
def test_clip_grad_norm_equals_torch(dtype, rtol, norm_type, max_norm):
    ours, theirs = make_pair(dtype, scale=2.0, with_none=True)
    total = utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, bricks.Tensor) and total.shape == ()
    assert total.dtype == bricks.backend.as_dtype(dtype)
    assert total.item() == pytest.approx(expected.item(), rel=rtol)
    assert_grads_equal(ours, theirs, rtol)


def test_clip_grad_norm_really_clips():
    ours, _ = make_pair(np.float64, scale=10.0)
    before = utils.clip_grad_norm_(ours, 1.0).item()
    assert before > 1.0
    after = math.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in ours))
    assert after == pytest.approx(1.0, rel=1e-5)
    assert utils.clip_grad_norm_(ours, 1.0).item() == pytest.approx(after)


def test_clip_grad_norm_single_tensor_generator_and_no_grads():
    p = bricks.nn.Parameter(bricks.zeros(2))
    p.grad = bricks.tensor([3.0, 4.0])
    assert utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    q = bricks.nn.Parameter(bricks.zeros(2))
    q.grad = bricks.tensor([3.0, 4.0])
    assert utils.clip_grad_norm_((x for x in [q]), 1.0).item() == pytest.approx(5.0)
    no_grad_param = bricks.nn.Parameter(bricks.ones(3))
    total = utils.clip_grad_norm_([no_grad_param], 1.0)
    assert total.item() == 0.0 and no_grad_param.grad is None


def test_clip_grad_norm_nonfinite():
    ours, theirs = make_pair(np.float64)
    ours[0].grad.data[0, 0] = np.nan
    theirs[0].grad[0, 0] = float("nan")
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    total = utils.clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert math.isnan(total.item()) and math.isnan(expected.item())
    assert np.isnan(ours[1].grad.numpy()).all() == torch.isnan(theirs[1].grad).all().item()


def test_clip_grad_norm_of_a_trained_model_matches_torch():
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    class Tanh(bricks.nn.Module):
        def forward(self, x):
            return x.tanh()

    model = bricks.nn.Sequential(bricks.nn.Linear(3, 5), Tanh(), bricks.nn.Linear(5, 2))
    model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((8, 3)).astype(np.float32)
    (tmodel(torch.from_numpy(x)) ** 2).sum().backward()
    (model(bricks.tensor(x)) ** 2).sum().backward()
    expected = torch.nn.utils.clip_grad_norm_(tmodel.parameters(), 0.5)
    total = utils.clip_grad_norm_(model.parameters(), 0.5)
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    assert_grads_equal(list(model.parameters()), list(tmodel.parameters()), 1e-5)


@pytest.mark.parametrize("clip_value", [0.1, 1.0, 5])
def test_clip_grad_value_equals_torch(clip_value):
    ours, theirs = make_pair(np.float32, scale=2.0, with_none=True)
    assert utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_grads_equal(ours, theirs, 0)
    assert max(np.abs(p.grad.numpy()).max() for p in ours if p.grad is not None) <= clip_value


def test_parameters_to_vector_and_back_equal_torch():
    ours, theirs = make_pair(np.float64)
    vec = utils.parameters_to_vector(ours)
    tvec = torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(vec.detach().numpy(), tvec.detach().numpy())
    assert vec.shape == (sum(p.numel() for p in ours),)

    new = np.arange(vec.numel(), dtype=np.float64)
    utils.vector_to_parameters(bricks.tensor(new), ours)
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new), theirs)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.detach().numpy(), t.detach().numpy())
        assert p.requires_grad and p.is_leaf
    np.testing.assert_array_equal(utils.parameters_to_vector(ours).detach().numpy(), new)


def test_parameters_to_vector_is_differentiable():
    a = bricks.nn.Parameter(bricks.tensor([[1.0, 2.0], [3.0, 4.0]]))
    b = bricks.nn.Parameter(bricks.tensor([5.0]))
    vec = utils.parameters_to_vector([a, b])
    (vec * bricks.arange(5.0)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [[0.0, 1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(b.grad.numpy(), [4.0])


def test_vector_to_parameters_copies_and_checks_sizes():
    p = bricks.nn.Parameter(bricks.zeros(2, 2))
    vec = bricks.ones(4)
    utils.vector_to_parameters(vec, [p])
    vec.data[...] = 7.0
    assert (p.detach().numpy() == 1.0).all()  # no aliasing with vec
    with pytest.raises(ValueError, match="4 elements.*shape \\(5,\\)"):
        utils.vector_to_parameters(bricks.ones(5), [p])
    with pytest.raises(TypeError, match="expected a Tensor"):
        utils.vector_to_parameters(np.ones(4), [p])
    with pytest.raises(TypeError, match="expected tensors"):
        utils.parameters_to_vector([p, "weight"])
