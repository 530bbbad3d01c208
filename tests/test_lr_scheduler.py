"""Tests for bricks.optim.lr_scheduler: the same values as torch's schedulers, step by step."""

import json
import math

import numpy as np
import pytest
import torch

import bricks
from bricks import optim
from bricks.optim import lr_scheduler

STEPS = 100
LRS = (0.1, 0.05)


class Halving:
    """A callable object: LambdaLR saves its __dict__ (functions are not saved)."""

    def __init__(self, every):
        self.every = every

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


# (name, scheduler kwargs, optimizer name, optimizer kwargs)
CASES = [
    ("LambdaLR", {"lr_lambda": lambda e: 0.95 ** e}, "SGD", {}),
    ("LambdaLR", {"lr_lambda": [lambda e: 1 / (e + 1), Halving(7)]}, "SGD", {}),
    ("StepLR", {"step_size": 7, "gamma": 0.5}, "SGD", {}),
    ("MultiStepLR", {"milestones": [60, 10, 30, 30], "gamma": 0.3}, "SGD", {}),
    ("ExponentialLR", {"gamma": 0.97}, "SGD", {}),
    ("CosineAnnealingLR", {"T_max": 30, "eta_min": 0.001}, "SGD", {}),
    ("CosineAnnealingLR", {"T_max": STEPS}, "Adam", {}),
    ("LinearLR", {"start_factor": 0.1, "total_iters": 10}, "SGD", {}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 40}, "SGD", {}),
    ("LinearLR", {}, "SGD", {}),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "total_steps": STEPS}, "SGD", {"momentum": 0.9}),
    ("OneCycleLR", {"max_lr": 0.3, "epochs": 10, "steps_per_epoch": 10,
                    "anneal_strategy": "linear", "pct_start": 0.25}, "SGD", {"momentum": 0.9}),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": STEPS, "three_phase": True,
                    "base_momentum": [0.8, 0.7], "max_momentum": 0.9}, "RMSprop",
     {"momentum": 0.5}),
    ("OneCycleLR", {"max_lr": 0.01, "total_steps": STEPS, "div_factor": 10.0,
                    "final_div_factor": 100.0}, "Adam", {}),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": STEPS, "cycle_momentum": False},
     "Adagrad", {}),
]


def _params(lib):
    make = bricks.zeros if lib is bricks else torch.zeros
    return [make(3, requires_grad=True), make(2, requires_grad=True)]


def _make(lib, sched_name, sched_kwargs, opt_name, opt_kwargs):
    params = _params(lib)
    groups = [{"params": [params[0]], "lr": LRS[0]}, {"params": [params[1]], "lr": LRS[1]}]
    if lib is bricks:
        opt = getattr(optim, opt_name)(groups, **opt_kwargs)
        sched = getattr(lr_scheduler, sched_name)(opt, **sched_kwargs)
    else:
        opt = getattr(torch.optim, opt_name)(groups, **opt_kwargs)
        sched = getattr(torch.optim.lr_scheduler, sched_name)(opt, **sched_kwargs)
    return opt, sched


def _snapshot(opt, sched):
    values = list(sched.get_last_lr()) + [g["lr"] for g in opt.param_groups]
    for g in opt.param_groups:
        if "momentum" in g:
            values.append(g["momentum"])
        if "betas" in g:
            values.extend(g["betas"])
    return values


def _run(opt, sched, steps):
    trace = []
    for _ in range(steps):
        trace.append(_snapshot(opt, sched))
        opt.step()
        sched.step()
    trace.append(_snapshot(opt, sched))
    return trace


def _case_id(case):
    sched, kwargs, opt, _ = case
    return f"{sched}-{opt}-" + "-".join(f"{k}" for k in kwargs)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_schedule_equals_torch_step_by_step(case):
    ours = _run(*_make(bricks, *case), STEPS)
    theirs = _run(*_make(torch, *case), STEPS)
    assert len(ours) == len(theirs) == STEPS + 1
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"step {step}"
    assert len({tuple(t) for t in ours}) > 1  # the schedule did change something


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_resume_from_state_dicts_gives_the_uninterrupted_schedule(case):
    straight = _run(*_make(bricks, *case), STEPS)
    opt, sched = _make(bricks, *case)
    first = _run(opt, sched, 40)
    opt_state = opt.state_dict()
    sched_state = json.loads(json.dumps(sched.state_dict()))  # plain values only
    fresh_opt, fresh_sched = _make(bricks, *case)
    fresh_opt.load_state_dict(opt_state)
    fresh_sched.load_state_dict(sched_state)
    rest = _run(fresh_opt, fresh_sched, STEPS - 40)
    assert first[:-1] + rest == straight


PLATEAU_LOSSES = ([5.0, 4.0, 3.9, 3.9, 3.9, 3.9, 3.9, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5]
                  + [3.0 + 0.1 * math.sin(i) for i in range(40)]
                  + [2.0 - 0.001 * i for i in range(30)] + [2.5] * 17)

PLATEAU_CASES = [
    {},
    {"patience": 2},
    {"patience": 3, "factor": 0.5, "cooldown": 2, "min_lr": 0.01},
    {"patience": 1, "factor": 0.5, "threshold": 0.01, "threshold_mode": "abs",
     "min_lr": [0.02, 0.0]},
    {"mode": "max", "patience": 2, "factor": 0.7},
    {"mode": "max", "patience": 0, "threshold_mode": "abs", "threshold": 0.05, "eps": 1e-3},
]


def _run_plateau(opt, sched, losses):
    trace = []
    for loss in losses:
        opt.step()
        sched.step(loss)
        trace.append(list(sched.get_last_lr()) + [g["lr"] for g in opt.param_groups])
    return trace


@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=[str(i) for i in range(len(PLATEAU_CASES))])
def test_reduce_lr_on_plateau_equals_torch_on_a_fixed_loss_sequence(kwargs):
    assert len(PLATEAU_LOSSES) == 100
    ours = _run_plateau(*_make(bricks, "ReduceLROnPlateau", kwargs, "SGD", {}), PLATEAU_LOSSES)
    theirs = _run_plateau(*_make(torch, "ReduceLROnPlateau", kwargs, "SGD", {}),
                          PLATEAU_LOSSES)
    assert ours == theirs
    assert ours[-1][:2] != list(LRS)  # it did reduce


@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=[str(i) for i in range(len(PLATEAU_CASES))])
def test_reduce_lr_on_plateau_resume(kwargs):
    straight = _run_plateau(*_make(bricks, "ReduceLROnPlateau", kwargs, "SGD", {}),
                            PLATEAU_LOSSES)
    opt, sched = _make(bricks, "ReduceLROnPlateau", kwargs, "SGD", {})
    first = _run_plateau(opt, sched, PLATEAU_LOSSES[:45])
    opt_state = opt.state_dict()
    sched_state = json.loads(json.dumps(sched.state_dict()))
    fresh_opt, fresh_sched = _make(bricks, "ReduceLROnPlateau", kwargs, "SGD", {})
    fresh_opt.load_state_dict(opt_state)
    fresh_sched.load_state_dict(sched_state)
    assert first + _run_plateau(fresh_opt, fresh_sched, PLATEAU_LOSSES[45:]) == straight


def test_lambda_lr_saves_callable_objects_state_but_not_functions():
    opt = optim.SGD([{"params": _params(bricks)[:1]}, {"params": _params(bricks)[1:]}], lr=1.0)
    halving = Halving(3)
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 1.0, halving])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"every": 3}]
    halving.every = 100
    sched.load_state_dict(state)
    assert halving.every == 3
    assert state["lr_lambdas"] == [None, {"every": 3}]  # not consumed by loading


def test_scheduler_changes_the_optimizer_steps():
    # the learning rate a scheduler sets is the one the optimizer uses
    w = bricks.tensor([1.0], dtype=bricks.float64, requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        w.grad = bricks.ones(1, dtype=bricks.float64)
        opt.step()
        sched.step()
    np.testing.assert_allclose(w.data, [1.0 - 1.0 - 0.5 - 0.25])


def test_scheduler_errors():
    opt = optim.SGD(_params(bricks), lr=0.1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)]), 3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.ReduceLROnPlateau(object())
    with pytest.raises(ValueError, match="step_size=0"):
        lr_scheduler.StepLR(opt, 0)
    with pytest.raises(ValueError, match="T_max=0"):
        lr_scheduler.CosineAnnealingLR(opt, 0)
    with pytest.raises(ValueError, match="start_factor=0"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="end_factor=1.5"):
        lr_scheduler.LinearLR(opt, end_factor=1.5)
    with pytest.raises(ValueError, match="factor=1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode='lowest'"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="lowest")
    with pytest.raises(ValueError, match="threshold_mode='relative'"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="relative")
    with pytest.raises(ValueError, match="one per group"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2])
    with pytest.raises(ValueError, match="one per group"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0, lambda e: 2.0])
    with pytest.raises(ValueError, match="total_steps"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="total_steps=0"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="anneal_strategy='cosine'"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="cosine")
    with pytest.raises(ValueError, match="pct_start=1.5"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="cycle_momentum"):
        lr_scheduler.OneCycleLR(optim.Adagrad(_params(bricks)), max_lr=1.0, total_steps=10)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(optim.SGD(_params(bricks)), 3, last_epoch=5)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="tried to step 4 times"):
        sched.step()


def test_construction_sets_the_first_rate_and_records_initial_lr():
    opt = optim.SGD(_params(bricks), lr=0.5)
    sched = lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=4)
    assert opt.param_groups[0]["initial_lr"] == 0.5
    assert sched.base_lrs == [0.5]
    assert sched.last_epoch == 0
    assert sched.get_last_lr() == [pytest.approx(0.05)]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
