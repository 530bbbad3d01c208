"""Tests for bricks.optim: trajectories equal torch.optim's, the Optimizer contract, _flat."""

import json
import tracemalloc

import numpy as np
import pytest
import torch

import bricks
from bricks import optim
from bricks.optim import _flat

# ---------------------------------------------------------------- the problem
# A small MLP least-squares problem, y = tanh(x W1 + b1) W2 + b2, in float64, built from
# bricks ops and mirrored in torch, full batch (so SGD here is plain gradient descent).

RNG = np.random.default_rng(1234)
X = RNG.standard_normal((16, 3))
Y = RNG.standard_normal((16, 2))
INIT = [RNG.standard_normal((3, 4)) * 0.5, RNG.standard_normal(4) * 0.1,
        RNG.standard_normal((4, 2)) * 0.5, RNG.standard_normal(2) * 0.1]
UNUSED = RNG.standard_normal(3)  # a parameter the loss never touches: grad stays None


def _bricks_loss(params):
    w1, b1, w2, b2 = params[:4]
    h = bricks.tanh(bricks.tensor(X) @ w1 + b1)
    return ((h @ w2 + b2 - bricks.tensor(Y)) ** 2).mean()


def _torch_loss(params):
    w1, b1, w2, b2 = params[:4]
    h = torch.tanh(torch.from_numpy(X) @ w1 + b1)
    return ((h @ w2 + b2 - torch.from_numpy(Y)) ** 2).mean()


def _bricks_params(init=None):
    init = INIT + [UNUSED] if init is None else init
    return [bricks.tensor(a.copy(), requires_grad=True) for a in init]


def _torch_params():
    return [torch.tensor(a.copy(), requires_grad=True) for a in INIT + [UNUSED]]


def _groups(params, groups):
    """``groups``: None (all params, one group) or a list of (indices, options)."""
    if groups is None:
        return params
    return [{"params": [params[i] for i in idx], **opts} for idx, opts in groups]


TORCH_EXTRA = {"foreach": False}  # the single-tensor path, which bricks mirrors


def train(opt, params, steps):
    """``steps`` full-batch updates of ``params`` by ``opt`` on the problem."""
    for _ in range(steps):
        opt.zero_grad()
        _bricks_loss(params).backward()
        opt.step()


def run_bricks(name, kwargs, steps, groups=None, params=None):
    params = _bricks_params() if params is None else params
    opt = getattr(optim, name)(_groups(params, groups), **kwargs)
    train(opt, params, steps)
    return params, opt


def run_torch(name, kwargs, steps, groups=None):
    params = _torch_params()
    opt = getattr(torch.optim, name)(_groups(params, groups), **kwargs, **TORCH_EXTRA)
    for _ in range(steps):
        opt.zero_grad()
        _torch_loss(params).backward()
        opt.step()
    return params, opt


def assert_same_params(ours, theirs, rtol=1e-10, atol=1e-13):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=rtol, atol=atol)


CASES = [
    ("SGD", {}),
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.02, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.01, "momentum": 0.5, "maximize": True}),
    ("SGD", {"lr": 0.01, "weight_decay": 0.1, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.05, "initial_accumulator_value": 0.3}),
    ("Adagrad", {"lr": 0.1, "eps": 1e-3, "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.005, "alpha": 0.9, "eps": 1e-6}),
    ("RMSprop", {"lr": 0.005, "centered": True}),
    ("RMSprop", {"lr": 0.002, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.002, "momentum": 0.9, "centered": True, "weight_decay": 0.05}),
    ("RMSprop", {"lr": 0.002, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.5, "eps": 1e-4, "weight_decay": 0.05}),
    ("Adadelta", {"maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adam", {"lr": 0.02, "amsgrad": True}),
    ("Adam", {"lr": 0.02, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.02, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("Adam", {"lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.02, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.02, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
]


def _case_id(case):
    name, kwargs = case
    return name + "-" + ("-".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults")


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_trajectory_equals_torch(case):
    name, kwargs = case
    ours, opt = run_bricks(name, kwargs, 50)
    theirs, topt = run_torch(name, kwargs, 50)
    assert_same_params(ours, theirs)
    # the parameters moved, and the one without a gradient did not
    assert not np.allclose(ours[0].data, INIT[0])
    np.testing.assert_array_equal(ours[4].data, UNUSED)
    # the state has torch's entries with torch's values
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for i, tstate in tsd["state"].items():
        assert sorted(sd["state"][i]) == sorted(tstate)
        for key, value in tstate.items():
            np.testing.assert_allclose(np.asarray(sd["state"][i][key]), value.numpy(),
                                       rtol=1e-9, atol=1e-13, err_msg=f"state[{i}][{key!r}]")


def test_full_batch_gradient_descent_reaches_least_squares_solution():
    # plain gradient descent is SGD on the whole dataset; linear least squares has a known
    # minimum, the normal equations' solution
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 3))
    b = a @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.standard_normal(50)
    w = bricks.zeros(3, dtype=bricks.float64, requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    for _ in range(300):
        opt.zero_grad()
        ((bricks.tensor(a) @ w - bricks.tensor(b)) ** 2).mean().backward()
        opt.step()
    np.testing.assert_allclose(w.data, np.linalg.lstsq(a, b, rcond=None)[0], atol=1e-8)


GROUP_CASES = [
    ("SGD", {"lr": 0.05}, [([0, 1], {"momentum": 0.9, "nesterov": True}),
                           ([2, 3], {"lr": 0.1, "weight_decay": 0.1})]),
    ("Adagrad", {"lr": 0.1}, [([0, 1], {"lr_decay": 0.1}), ([2, 3], {"eps": 1e-2})]),
    ("RMSprop", {"lr": 0.005}, [([0, 2], {"centered": True}),
                                ([1, 3], {"momentum": 0.5, "alpha": 0.9})]),
    ("Adadelta", {}, [([0, 1, 2], {"rho": 0.8}), ([3], {"lr": 0.5, "weight_decay": 0.1})]),
    ("Adam", {"lr": 0.01}, [([0, 1], {"amsgrad": True, "betas": (0.5, 0.9)}),
                            ([2, 3], {"lr": 0.03, "weight_decay": 0.2})]),
    ("AdamW", {"lr": 0.01}, [([0], {"weight_decay": 0.5}), ([1, 2, 3], {"amsgrad": True})]),
]


@pytest.mark.parametrize("name,kwargs,groups", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_param_groups_with_different_options_equal_torch(name, kwargs, groups):
    ours, opt = run_bricks(name, kwargs, 50, groups)
    theirs, _ = run_torch(name, kwargs, 50, groups)
    assert_same_params(ours, theirs)
    assert len(opt.param_groups) == 2
    for group, (_, opts) in zip(opt.param_groups, groups):
        for key, value in opts.items():
            assert group[key] == value
        for key, value in kwargs.items():
            if key not in opts:
                assert group[key] == value


# ---------------------------------------------------------------- state_dict and resume

RESUME_CASES = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("RMSprop", {"lr": 0.002, "momentum": 0.9, "centered": True}),
    ("Adadelta", {"weight_decay": 0.01}),
    ("Adam", {"lr": 0.02, "amsgrad": True, "weight_decay": 0.05}),
    ("AdamW", {"lr": 0.02}),
]


def _is_plain(value):
    if isinstance(value, dict):
        return all(isinstance(k, (int, str)) and _is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return isinstance(value, (np.ndarray, bool, int, float, str)) or value is None


@pytest.mark.parametrize("name,kwargs", RESUME_CASES, ids=[c[0] for c in RESUME_CASES])
def test_state_dict_resume_gives_the_uninterrupted_trajectory(name, kwargs):
    groups = [([0, 1], {}), ([2, 3], {"lr": kwargs.get("lr", 1.0) / 2})]
    straight, _ = run_bricks(name, kwargs, 50, groups)

    first, opt = run_bricks(name, kwargs, 20, groups)
    saved = opt.state_dict()
    params = _bricks_params([p.data for p in first])  # copies
    assert _is_plain(saved)
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2, 3]]
    # the snapshot does not change when the old optimizer goes on
    before = {i: {k: np.copy(v) for k, v in s.items()} for i, s in saved["state"].items()}
    train(opt, first, 3)
    for i, s in saved["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(v, before[i][k])

    fresh = getattr(optim, name)(_groups(params, groups), **kwargs)
    fresh.load_state_dict(saved)
    train(fresh, params, 30)
    for a, b in zip(params, straight):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_layout_equals_torch():
    groups = [([0, 1], {"momentum": 0.5}), ([2, 3], {"lr": 0.02})]
    _, opt = run_bricks("SGD", {"lr": 0.1, "momentum": 0.9}, 3, groups)
    _, topt = run_torch("SGD", {"lr": 0.1, "momentum": 0.9}, 3, groups)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == sorted(tsd["state"]) == [0, 1, 2, 3]
    for ours, theirs in zip(sd["param_groups"], tsd["param_groups"]):
        assert ours["params"] == theirs["params"]
        for key in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"):
            assert ours[key] == theirs[key]
    np.testing.assert_allclose(sd["state"][3]["momentum_buffer"],
                               tsd["state"][3]["momentum_buffer"].numpy(), rtol=1e-12)


def test_load_state_dict_from_json_round_trip():
    # arrays as lists and integer keys as strings, as after a trip through JSON
    kwargs = {"lr": 0.02, "amsgrad": True}
    straight, _ = run_bricks("Adam", kwargs, 10)
    first, opt = run_bricks("Adam", kwargs, 5)

    def to_json(v):
        return v.tolist() if isinstance(v, np.ndarray) else v

    text = json.dumps({"state": {i: {k: to_json(v) for k, v in s.items()}
                                 for i, s in opt.state_dict()["state"].items()},
                       "param_groups": opt.state_dict()["param_groups"]})
    params = _bricks_params([p.data for p in first])
    fresh = optim.Adam(params, **kwargs)
    fresh.load_state_dict(json.loads(text))
    assert fresh.param_groups[0]["betas"] == [0.9, 0.999]
    assert fresh.state[params[0]]["exp_avg"].dtype == np.float64
    train(fresh, params, 5)
    for a, b in zip(params, straight):
        np.testing.assert_array_equal(a.data, b.data)


def test_load_state_dict_errors():
    params = _bricks_params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    opt.zero_grad()
    _bricks_loss(params).backward()
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.SGD([{"params": params[:2]}, {"params": params[2:]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="group 0 has 5 parameters"):
        optim.SGD(params[:3], lr=0.1).load_state_dict(saved)
    shapes = _bricks_params([a.T if a.ndim == 2 else a for a in INIT] + [UNUSED])
    message = r"state\[0\]\['momentum_buffer'\] has shape \(3, 4\), its parameter \(4, 3\)"
    with pytest.raises(ValueError, match=message):
        optim.SGD(shapes, lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_load_state_dict_casts_state_to_the_parameters_dtype():
    w = bricks.tensor([1.0, 2.0], requires_grad=True)  # float32
    opt = optim.Adam([w])
    opt.load_state_dict({"state": {0: {"step": np.float64(3.0), "exp_avg": np.ones(2),
                                       "exp_avg_sq": np.ones(2)}},
                         "param_groups": opt.state_dict()["param_groups"]})
    assert opt.state[w]["exp_avg"].dtype == np.float32
    assert opt.state[w]["step"] == 3.0 and isinstance(opt.state[w]["step"], float)


# ---------------------------------------------------------------- errors

ERROR_CASES = [
    ("SGD", {"lr": -0.1}, "lr=-0.1"),
    ("SGD", {"lr": float("nan")}, "lr=nan"),
    ("SGD", {"momentum": -0.5}, "momentum=-0.5"),
    ("SGD", {"weight_decay": -1e-4}, "weight_decay=-0.0001"),
    ("SGD", {"nesterov": True}, "nesterov=True needs momentum > 0.*momentum=0.0"),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "dampening=0.1"),
    ("Adagrad", {"lr": -1.0}, "lr=-1.0"),
    ("Adagrad", {"lr_decay": -0.1}, "lr_decay=-0.1"),
    ("Adagrad", {"initial_accumulator_value": -1.0}, "initial_accumulator_value=-1.0"),
    ("Adagrad", {"eps": -1e-10}, "eps=-1e-10"),
    ("Adagrad", {"weight_decay": -1.0}, "weight_decay=-1.0"),
    ("RMSprop", {"alpha": -0.1}, "alpha=-0.1"),
    ("RMSprop", {"eps": -1.0}, "eps=-1.0"),
    ("RMSprop", {"momentum": -0.9}, "momentum=-0.9"),
    ("Adadelta", {"rho": 1.5}, r"rho=1.5 \(expected 0.0 <= rho <= 1.0\)"),
    ("Adadelta", {"lr": -1.0}, "lr=-1.0"),
    ("Adam", {"betas": (1.0, 0.999)}, r"betas\[0\]=1.0 \(expected 0 <= betas\[0\] < 1\)"),
    ("Adam", {"betas": (0.9, -0.1)}, r"betas\[1\]=-0.1"),
    ("Adam", {"eps": -1e-8}, "eps=-1e-08"),
    ("Adam", {"weight_decay": -0.1}, "weight_decay=-0.1"),
    ("AdamW", {"lr": -1e-3}, "lr=-0.001"),
    ("AdamW", {"betas": (0.9, 1.0)}, r"betas\[1\]=1.0"),
]


@pytest.mark.parametrize("name,kwargs,message", ERROR_CASES)
def test_invalid_hyperparameters_raise_value_error_naming_them(name, kwargs, message):
    with pytest.raises(ValueError, match=f"{name}: .*{message}"):
        getattr(optim, name)(_bricks_params(), **kwargs)


def test_invalid_option_in_a_param_group_raises():
    params = _bricks_params()
    with pytest.raises(ValueError, match=r"Adam: invalid lr=-0.5"):
        optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": -0.5}])


def test_params_argument_errors():
    params = _bricks_params()
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(params[0])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="set"):
        optim.SGD(set(params))
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([params[0], params[1], params[0]])
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.SGD([params[0], np.ones(3)])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([params[0] * 2])
    opt = optim.SGD(params[:2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [params[1], params[2]]})
    assert len(opt.param_groups) == 1


def test_add_param_group_fills_defaults_and_the_new_group_is_trained():
    params = _bricks_params()
    opt = optim.Adam(params[:2], lr=0.02)
    opt.add_param_group({"params": params[2:4], "lr": 0.05})
    assert opt.param_groups[1]["lr"] == 0.05
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    tparams = _torch_params()
    topt = torch.optim.Adam(tparams[:2], lr=0.02, foreach=False)
    topt.add_param_group({"params": tparams[2:4], "lr": 0.05})
    for _ in range(20):
        opt.zero_grad()
        topt.zero_grad()
        _bricks_loss(params).backward()
        _torch_loss(tparams).backward()
        opt.step()
        topt.step()
    assert_same_params(params, tparams)


def test_named_parameters_are_accepted():
    params = _bricks_params()
    opt = optim.SGD([("w1", params[0]), ("b1", params[1])], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w1", "b1"]
    assert opt.param_groups[0]["params"][0] is params[0]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w1", "b1"]


# ---------------------------------------------------------------- behaviour


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW"])
def test_params_without_grad_are_skipped(name):
    params = _bricks_params()
    kwargs = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    opt = getattr(optim, name)(params, **kwargs)
    train(opt, params, 3)
    assert params[4].grad is None
    np.testing.assert_array_equal(params[4].data, UNUSED)
    if name == "Adagrad":  # made at construction, as in torch, but never advanced
        assert opt.state[params[4]]["step"] == 0.0
    else:
        assert params[4] not in opt.state
    assert opt.state[params[0]]


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW"])
def test_update_is_in_place_and_bumps_the_version(name):
    params = _bricks_params()
    arrays = [p.data for p in params]
    versions = [p._vc[0] for p in params]
    opt = getattr(optim, name)(params, lr=0.1)
    _bricks_loss(params).backward()
    opt.step()
    assert all(p.data is a for p, a in zip(params, arrays))
    assert [p._vc[0] for p in params[:4]] == [v + 1 for v in versions[:4]]
    assert params[4]._vc[0] == versions[4]


def test_a_graph_that_saved_a_parameter_notices_the_step():
    w = bricks.tensor([1.0, 2.0], dtype=bricks.float64, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    loss = (w * w).sum()  # saves w for backward
    opt.step()
    with pytest.raises(RuntimeError):
        loss.backward()


LEAN_CASES = [
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1}),
    ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True}),
    ("Adagrad", {"weight_decay": 0.1}),
    ("RMSprop", {"centered": True, "momentum": 0.9, "maximize": True}),
    ("Adadelta", {"weight_decay": 0.1}),
    ("Adam", {"amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"maximize": True}),
]


@pytest.mark.parametrize("name,kwargs", LEAN_CASES, ids=[_case_id(c) for c in LEAN_CASES])
def test_a_step_allocates_nothing_once_the_state_exists(name, kwargs):
    # The steps run in place in scratch arrays kept by the optimizer: after the first step
    # (state and scratch made) a step allocates no array, for a 1 MB parameter.
    w = bricks.zeros(125_000, dtype=bricks.float64, requires_grad=True)
    w.grad = bricks.ones(125_000, dtype=bricks.float64)
    opt = getattr(optim, name)([w], **kwargs)
    opt.step()
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= 16 * 1024, f"peak {peak} bytes"


@pytest.mark.parametrize("name,kwargs", LEAN_CASES, ids=[_case_id(c) for c in LEAN_CASES])
def test_parameters_share_scratch_and_still_follow_torch(name, kwargs):
    # All parameters share the scratch buffers (views, grown to the largest parameter);
    # each update must still be its own, and p.grad untouched.  Parameters of one shape
    # and of others, the largest last (the buffers grow during the first step).
    rng = np.random.default_rng(7)
    shapes = [(3, 4), (3, 4), (5,), (3, 4), (4, 6)]
    init = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(6)]
    ours = [bricks.tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(optim, name)(ours, lr=0.05, **kwargs)
    topt = getattr(torch.optim, name)(theirs, lr=0.05, **kwargs, **TORCH_EXTRA)
    for step in grads:
        for p, t, g in zip(ours, theirs, step):
            p.grad = bricks.tensor(g.copy())
            t.grad = torch.tensor(g.copy())
        opt.step()
        topt.step()
        for p, g in zip(ours, step):
            np.testing.assert_array_equal(p.grad.data, g)
    assert_same_params(ours, theirs)
    # the scratch is no part of the state (the same entries as torch's), and costs at most
    # three arrays of the largest parameter (Adadelta with weight decay)
    sd, tsd = opt.state_dict()["state"], topt.state_dict()["state"]
    assert {i: sorted(s) for i, s in sd.items()} == {i: sorted(s) for i, s in tsd.items()}
    scratch = [f for flats in opt._work_pool.values() for f in flats]
    assert 1 <= len(scratch) <= 3 and all(f.size == 24 for f in scratch)


def test_a_parameter_whose_array_is_replaced_gets_new_scratch():
    w = bricks.tensor(np.ones(4), requires_grad=True)
    opt = optim.Adam([w], lr=0.1, weight_decay=0.1)
    w.grad = bricks.tensor(np.ones(4))
    opt.step()
    w.data = np.ones((2, 2), np.float32)  # another shape and dtype, as .to() might do
    opt.state.clear()
    w.grad = bricks.tensor(np.ones((2, 2), np.float32))
    opt.step()
    v = bricks.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    reference = optim.Adam([v], lr=0.1, weight_decay=0.1)
    v.grad = bricks.tensor(np.ones((2, 2), np.float32))
    reference.step()
    assert w.data.dtype == np.float32
    np.testing.assert_array_equal(w.data, v.data)


def test_step_returns_the_closure_loss_and_runs_it_with_grad_enabled():
    params = _bricks_params()
    opt = optim.SGD(params, lr=0.1)
    calls = []

    def closure():
        calls.append(bricks.is_grad_enabled())
        opt.zero_grad()
        loss = _bricks_loss(params)
        loss.backward()
        return loss

    with bricks.no_grad():
        loss = opt.step(closure)
    assert calls == [True]
    assert isinstance(loss, bricks.Tensor)
    np.testing.assert_allclose(float(loss), _torch_loss(_torch_params()).item(), rtol=1e-12)
    assert opt.step() is None
    assert float(_bricks_loss(params)) < float(loss)


def test_zero_grad():
    params = _bricks_params()
    opt = optim.SGD(params, lr=0.1)
    _bricks_loss(params).backward()
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) for p in params[:4])
    assert params[4].grad is None
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_maximize_climbs():
    w = bricks.tensor([0.5], dtype=bricks.float64, requires_grad=True)
    opt = optim.Adam([w], lr=0.05, maximize=True)
    for _ in range(200):
        opt.zero_grad()
        (-(w - 2.0) ** 2).sum().backward()  # maximum at 2
        opt.step()
    assert abs(float(w.data[0]) - 2.0) < 1e-2


def test_float32_parameters_stay_float32_and_follow_torch():
    ours = [bricks.tensor(a.astype(np.float32), requires_grad=True) for a in INIT]
    theirs = [torch.tensor(a.astype(np.float32), requires_grad=True) for a in INIT]
    opt = optim.Adam(ours, lr=0.01)
    topt = torch.optim.Adam(theirs, lr=0.01, foreach=False)
    x32, y32 = X.astype(np.float32), Y.astype(np.float32)
    for _ in range(20):
        opt.zero_grad()
        topt.zero_grad()
        w1, b1, w2, b2 = ours
        ((bricks.tanh(bricks.tensor(x32) @ w1 + b1) @ w2 + b2 - bricks.tensor(y32)) ** 2
         ).mean().backward()
        t1, c1, t2, c2 = theirs
        ((torch.tanh(torch.from_numpy(x32) @ t1 + c1) @ t2 + c2 - torch.from_numpy(y32)) ** 2
         ).mean().backward()
        opt.step()
        topt.step()
    assert all(p.data.dtype == np.float32 for p in ours)
    assert all(s["exp_avg"].dtype == np.float32 for s in opt.state.values())
    assert_same_params(ours, theirs, rtol=1e-4, atol=1e-6)


def test_repr_lists_the_groups():
    text = repr(optim.SGD(_bricks_params(), lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


# ---------------------------------------------------------------- the flat helper


def test_flat_gather_and_scatter():
    params = _bricks_params()
    n = sum(a.size for a in INIT + [UNUSED])
    assert _flat.numel(params) == n
    x = _flat.flat_data(params)
    np.testing.assert_array_equal(x, np.concatenate([a.ravel() for a in INIT + [UNUSED]]))
    x[0] = 123.0  # a copy: the parameters do not change
    assert params[0].data[0, 0] != 123.0

    _bricks_loss(params).backward()
    g = _flat.flat_grad(params)
    tparams = _torch_params()
    _torch_loss(tparams).backward()
    expected = np.concatenate([p.grad.numpy().ravel() for p in tparams[:4]] + [np.zeros(3)])
    np.testing.assert_allclose(g, expected, rtol=1e-12)  # no grad -> zeros, like LBFGS

    versions = [p._vc[0] for p in params]
    new = np.arange(n, dtype=np.float64)
    arrays = [p.data for p in params]
    _flat.set_flat_data_(params, new)
    assert all(p.data is a for p, a in zip(params, arrays))
    np.testing.assert_array_equal(_flat.flat_data(params), new)
    assert params[2].data.shape == (4, 2)
    np.testing.assert_array_equal(params[2].data, np.arange(16, 24).reshape(4, 2))
    assert [p._vc[0] for p in params] == [v + 1 for v in versions]

    _flat.add_flat_(params, np.ones(n), alpha=-0.5)
    np.testing.assert_array_equal(_flat.flat_data(params), new - 0.5)
    with pytest.raises(ValueError, match=f"length {n}"):
        _flat.set_flat_data_(params, np.zeros(n + 1))
    with pytest.raises(ValueError, match="length"):
        _flat.add_flat_(params, np.zeros((n, 1)))


def test_flat_closure_helpers():
    params = _bricks_params()
    x = _flat.flat_data(params)

    def closure():
        for p in params:
            p.grad = None
        loss = _bricks_loss(params)
        loss.backward()
        return loss

    with bricks.no_grad():
        loss, g = _flat.loss_and_flat_grad(closure, params)
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, _torch_loss(_torch_params()).item(), rtol=1e-12)

    d = -g
    t = 0.1
    loss_t, g_t = _flat.directional_evaluate(closure, params, x, t, d)
    np.testing.assert_array_equal(_flat.flat_data(params), x)  # restored
    moved = _bricks_params()
    _flat.add_flat_(moved, d, t)
    expected_loss = float(_bricks_loss(moved))
    np.testing.assert_allclose(loss_t, expected_loss, rtol=1e-12)
    assert loss_t < loss  # a small step along -g goes downhill
    assert g_t.shape == x.shape and not np.allclose(g_t, g)
    assert _flat.evaluate_closure(lambda: bricks.is_grad_enabled()) is True


STATE_CASES = [("SGD", {"lr": 0.1, "momentum": 0.9}, "momentum_buffer"),
               ("Adam", {"amsgrad": True}, "exp_avg"), ("AdamW", {}, "exp_avg_sq"),
               ("RMSprop", {"momentum": 0.5, "centered": True}, "grad_avg"),
               ("Adagrad", {}, "sum"), ("Adadelta", {}, "acc_delta")]


@pytest.mark.parametrize("name,kwargs,key", STATE_CASES, ids=[c[0] for c in STATE_CASES])
def test_optimizer_state_holds_tensors_as_in_torch(name, kwargs, key):
    """opt.state[p][...] is a Tensor (detach, clone, norm work), equal to torch's; the
    state_dict keeps arrays, and loading it resumes bit for bit."""
    params, opt = run_bricks(name, kwargs, 3)
    _, topt = run_torch(name, kwargs, 3)
    tparams = [p for g in topt.param_groups for p in g["params"]]
    for p, tp in zip(params, tparams):
        if p.grad is None:  # the unused parameter: no update, state as torch's (if any)
            assert bool(opt.state.get(p)) == bool(topt.state.get(tp))
            continue
        buf = opt.state[p][key]
        assert isinstance(buf, bricks.Tensor) and not buf.requires_grad
        np.testing.assert_allclose(buf.detach().clone().numpy(),
                                   topt.state[tp][key].numpy(), rtol=1e-10, atol=1e-12)
        assert float(buf.norm()) == pytest.approx(float(topt.state[tp][key].norm()),
                                                  rel=1e-10)
    sd = opt.state_dict()
    assert all(isinstance(v, np.ndarray) for s in sd["state"].values() for k, v in s.items()
               if k != "step")
    straight, _ = run_bricks(name, kwargs, 5)
    resumed = _bricks_params([p.data.copy() for p in params])
    fresh = getattr(optim, name)(resumed, **kwargs)
    fresh.load_state_dict(sd)
    assert isinstance(fresh.state[resumed[0]][key], bricks.Tensor)
    for _ in range(2):
        fresh.zero_grad()
        _bricks_loss(resumed).backward()
        fresh.step()
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a.data, b.data)


def test_closure_optimizer_state_holds_tensors():
    w = bricks.tensor([-1.2, 1.0], dtype=bricks.float64, requires_grad=True)
    opt = optim.LBFGS([w], max_iter=3)

    def closure():
        opt.zero_grad()
        loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
        loss.backward()
        return loss

    opt.step(closure)
    state = opt.state[w]
    assert isinstance(state["d"], bricks.Tensor) and state["d"].shape == (2,)
    assert all(isinstance(v, bricks.Tensor) for v in state["old_dirs"])
    sd = opt.state_dict()["state"][0]
    assert isinstance(sd["d"], np.ndarray) and isinstance(sd["old_dirs"][0], np.ndarray)
    opt.step(closure)  # and the method goes on from Tensor state
