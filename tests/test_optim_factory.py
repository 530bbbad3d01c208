"""Tests for bricks.optim.create and the one table of optimizer names, OPTIMIZERS."""

import numpy as np
import pytest

import bricks
from bricks import optim

# What `bricks train --optimizer NAME` has always built (cli.py's own table until the
# factory): class, default lr, implied options.  The factory must not change any of it.
CLI_TABLE = {
    "sgd": ("SGD", 0.1, {}),
    "momentum": ("SGD", 0.05, {"momentum": 0.9}),
    "nesterov": ("SGD", 0.05, {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", 0.01, {}),
    "rmsprop": ("RMSprop", 0.001, {}),
    "adadelta": ("Adadelta", 1.0, {}),
    "adam": ("Adam", 0.002, {}),
    "adamw": ("AdamW", 0.002, {}),
    "lbfgs": ("LBFGS", 1.0, {}),
}
CLOSURE_NAMES = {"lbfgs": "LBFGS", "bfgs": "BFGS", "cg": "ConjugateGradient",
                 "newton": "Newton", "hessian_free": "HessianFree"}


def _params():
    return [bricks.tensor(np.array([3.0, -2.0]), requires_grad=True)]


@pytest.mark.parametrize("name", list(CLI_TABLE))
def test_the_cli_names_build_what_the_cli_built(name):
    cls_name, lr, options = CLI_TABLE[name]
    params = _params()
    opt = optim.create(name, params)
    direct = getattr(optim, cls_name)(_params(), lr=lr, **options)
    assert type(opt) is type(direct)
    strip = ("params",)
    assert ({k: v for k, v in opt.param_groups[0].items() if k not in strip}
            == {k: v for k, v in direct.param_groups[0].items() if k not in strip})
    assert opt.param_groups[0]["params"][0] is params[0]


def test_the_table_has_the_closure_methods_and_says_which_need_full_batch():
    for name, cls_name in CLOSURE_NAMES.items():
        spec = optim.OPTIMIZERS[name]
        assert spec.cls is getattr(optim, cls_name)
        assert spec.full_batch and spec.cls.requires_closure
    first_order = [n for n, s in optim.OPTIMIZERS.items() if not s.full_batch]
    assert first_order == ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta",
                           "adam", "adamw"]
    assert all(spec.title for spec in optim.OPTIMIZERS.values())


def test_optimizers_declare_what_their_closure_must_do():
    assert not optim.SGD.requires_closure and optim.SGD.closure_does_backward
    assert optim.LBFGS.requires_closure and optim.LBFGS.closure_does_backward
    for cls in (optim.Newton, optim.HessianFree):
        assert cls.requires_closure and not cls.closure_does_backward


@pytest.mark.parametrize("lr", [None, "missing"])
def test_no_lr_means_the_names_default(lr):
    kwargs = {} if lr == "missing" else {"lr": lr}
    assert optim.create("adam", _params(), **kwargs).param_groups[0]["lr"] == 0.002
    assert optim.create("newton", _params(), **kwargs).param_groups[0]["lr"] == 1.0


def test_the_callers_options_win_and_are_passed_as_given():
    opt = optim.create("momentum", _params(), lr=0.3, momentum=0.5, weight_decay=1e-4)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.3, 0.5, 1e-4)
    opt = optim.create("lbfgs", _params(), line_search_fn="strong_wolfe", max_iter=7)
    assert opt.param_groups[0]["line_search_fn"] == "strong_wolfe"
    assert opt.param_groups[0]["max_iter"] == 7


def test_an_invalid_value_is_refused_not_changed():
    # nesterov needs momentum > 0: the factory must not clamp 0 to something positive
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        optim.create("nesterov", _params(), momentum=0.0)
    with pytest.raises(ValueError, match="invalid lr=-1"):
        optim.create("sgd", _params(), lr=-1)


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'") as err:
        optim.create("adamm", _params())
    for name in optim.OPTIMIZERS:
        assert name in str(err.value)
    with pytest.raises(ValueError, match="unknown optimizer"):
        optim.create(None, _params())


def test_an_option_the_class_does_not_take_is_named_with_the_valid_ones():
    with pytest.raises(ValueError, match="Adam takes no option 'momentum'") as err:
        optim.create("adam", _params(), momentum=0.9)
    assert "betas" in str(err.value) and "amsgrad" in str(err.value)
    assert optim.OPTIMIZERS["adam"].parameters[:3] == ("lr", "betas", "eps")


def test_the_table_is_read_only():
    with pytest.raises(TypeError):
        optim.OPTIMIZERS["mine"] = optim.OPTIMIZERS["sgd"]
    with pytest.raises(TypeError):
        optim.OPTIMIZERS["nesterov"].options["momentum"] = 0.1
    with pytest.raises(AttributeError):
        optim.OPTIMIZERS["sgd"].lr = 1.0


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_every_name_decreases_a_quadratic(name):
    w = bricks.tensor(np.array([3.0, -2.0]), requires_grad=True)
    spec = optim.OPTIMIZERS[name]
    opt = optim.create(name, [w], lr=0.5 if name in ("adam", "adamw", "rmsprop") else None)

    def closure():
        opt.zero_grad()
        loss = ((w - 1.0) ** 2).sum()
        if spec.cls.closure_does_backward:
            loss.backward()
        return loss

    start = float(((w - 1.0) ** 2).sum())
    for _ in range(3 if spec.full_batch else 20):
        if spec.full_batch:
            opt.step(closure)
        else:
            closure()
            opt.step()
    assert float(((w - 1.0) ** 2).sum()) < start
