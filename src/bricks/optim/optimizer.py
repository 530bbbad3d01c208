"""The Optimizer base class: parameter groups, per-parameter state, zero_grad, state_dict.

An optimizer holds references to the parameters it updates, organised in *parameter groups*
(dicts with a ``"params"`` list and the group's hyperparameters, so that e.g. the last layer
can have its own learning rate), and a per-parameter ``state`` dict (momentum buffers, running
averages, step counts) keyed by the parameter object itself.  Subclasses implement ``step``.

The contract is PyTorch's (``torch.optim.Optimizer``), so training scripts port by changing
imports::

    opt = bricks.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in loader:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

``state_dict()`` has PyTorch's layout: ``{"state": {0: {...}, 1: {...}}, "param_groups":
[{"lr": ..., ..., "params": [0, 1]}]}``, parameters referred to by their position across
all groups, state values as arrays and plain numbers (nothing that needs pickle).  The
live ``opt.state[p]`` holds Tensors (``opt.state[p]["exp_avg"].norm()``), as in PyTorch.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict

from bricks import autograd as _autograd
from bricks.autograd import no_grad
from bricks.backend import get_array_module, is_floating
from bricks.optim._flat import evaluate_closure
from bricks.tensor import Tensor, const

__all__ = ["Optimizer"]


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors (usually ``model.parameters()``), of
            ``(name, tensor)`` pairs (``model.named_parameters()``), or of dicts, each a
            parameter group: ``{"params": [...], "lr": 0.01, ...}``; options a group leaves
            out come from ``defaults``.
        defaults: the default hyperparameters (the subclass's constructor arguments).

    Attributes:
        param_groups: the list of parameter groups (dicts); a scheduler changes
            ``group["lr"]`` in place.
        state: per-parameter state, ``state[p]`` a dict (empty until the first step).
        defaults: the default hyperparameters.

    Class attributes (what a training loop must know, so it never tests for classes):
        requires_closure: ``step`` needs ``step(closure)`` (the closure methods: L-BFGS,
            BFGS, CG, Newton, Hessian-free), which re-evaluate the loss, usually on the
            whole training set; False here: ``step()`` reads ``.grad``.
        closure_does_backward: the closure should call ``loss.backward()`` before it
            returns the loss (PyTorch's closure); False where the optimizer differentiates
            the returned loss itself (Newton, Hessian-free), so a backward there would be
            wasted work.
    """

    requires_closure = False
    closure_does_backward = True

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._check_hyperparameters(self.defaults)
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, "
                f"got a single Tensor; pass [tensor] or model.parameters()"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE)
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._work_of: dict = {}  # parameter -> its scratch arrays (see _work)
        self._work_pool: dict = {}  # (dtype, array type) -> flat scratch buffers
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------ hyperparameters
    def _check_hyperparameters(self, group: dict) -> None:
        """Raise ValueError for an invalid option in ``group``; subclasses extend this."""

    def _invalid(self, name, value, expected):
        return ValueError(f"{type(self).__name__}: invalid {name}={value!r} "
                          f"(expected {expected})")

    def _require(self, group, name, low=0.0, high=None, high_open=False):
        """``low <= group[name]`` (and ``<= high`` or ``< high``), NaN and infinities
        rejected."""
        if name not in group:
            return
        value = group[name]
        try:
            ok = value >= low and math.isfinite(value)
        except TypeError:  # not a number at all
            ok = False
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:  # also catches NaN, for which every comparison is False
            if high is None:
                expected = f"a finite {name} >= {low}"
            else:
                expected = f"{low} <= {name} {'<' if high_open else '<='} {high}"
            raise self._invalid(name, value, expected)

    # ------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a parameter group (e.g. a layer unfrozen during fine-tuning).

        Args:
            param_group: ``{"params": tensors, **options}``; missing options take the
                optimizer's defaults.

        Raises:
            TypeError: params is a set (its order changes between runs) or holds non-Tensors.
            ValueError: a parameter is not a leaf, appears twice, or is already in another
                group; an option has an invalid value.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        if "params" not in group:
            raise ValueError("add_param_group: the group has no 'params' entry")
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE)
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("add_param_group: give all parameters with names or none")
            group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, but one of "
                                f"the params is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor "
                                 f"(one made by an op); optimize the leaves it came from")
            if not is_floating(p.data.dtype):
                raise TypeError(f"{type(self).__name__}: can only optimize floating-point "
                                f"tensors, got dtype {p.data.dtype}")
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check_hyperparameters(group)

        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{type(self).__name__}: a parameter group contains the same "
                             f"parameter more than once")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if not taken.isdisjoint(ids):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one "
                             f"parameter group")
        for g in self.param_groups:
            if ("param_names" in g) != ("param_names" in group):
                raise ValueError("add_param_group: all parameter groups should be given with "
                                 "names or all without")
        self.param_groups.append(group)

    # ------------------------------------------------------------ gradients
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters.

        Args:
            set_to_none: drop the gradient (``p.grad = None``; no memory, and the next
                ``backward`` assigns instead of adding); with False, fill it with zeros.
        """
        if _autograd._state.tracer is not None:  # bricks.compile replays this call
            _autograd._state.tracer.event(self.zero_grad, (set_to_none,))
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    with no_grad():
                        g.zero_()

    def step(self, closure=None):
        """Update the parameters once from their ``.grad``; return the closure's loss.

        Args:
            closure: optional callable that re-evaluates the model (zero_grad, forward,
                backward) and returns the loss; it runs with gradient recording on.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def _evaluate(self, closure):
        # Every step() starts here: bricks.compile records the step, to replay it as is.
        if _autograd._state.tracer is not None:
            _autograd._state.tracer.event(self.step, (), closure=closure)
        return None if closure is None else evaluate_closure(closure)

    # ------------------------------------------------------------ for the steps
    def _work(self, p, n=1) -> tuple:
        """``n`` scratch arrays shaped like ``p.data`` (a tuple).

        They are views of ``n`` flat buffers per dtype, as large as the largest parameter
        and kept (not in the state: ``state_dict`` is unchanged): all parameters share
        them, since a step updates one parameter at a time, so the scratch costs what one
        temporary of the largest parameter would.  Their contents do not survive the
        parameter's update.
        """
        d = p.data
        entry = self._work_of.get(p)
        if entry is not None and entry[0] is d and len(entry[1]) == n:  # the usual case
            return entry[1]
        flats = self._work_pool.setdefault((d.dtype.str, type(d)), [])
        if len(flats) < n or flats[0].size < d.size:  # grow; the views made so far go
            size = max([d.size] + [f.size for f in flats])
            flats[:] = [get_array_module(d).empty(size, d.dtype)
                        for _ in range(max(n, len(flats)))]
            self._work_of.clear()
        views = tuple(f[:d.size].reshape(d.shape) for f in flats[:n])
        self._work_of[p] = (d, views)  # valid while p.data is this array
        return views

    def _params_with_grad(self, group, *names):
        """Yield ``(p, xp, constants)`` for each parameter of ``group`` that has a
        gradient: its array module and the group's options ``names`` as scalars of its
        dtype (see :func:`_scalars`; cast again only where the dtype changes)."""
        dtype = kind = None
        for p in group["params"]:
            if p.grad is None:
                continue
            d = p.data
            if d.dtype is not dtype or type(d) is not kind:  # usually once per group
                dtype, kind = d.dtype, type(d)
                xp = get_array_module(d)
                constants = _scalars(dtype, *[group[name] for name in names])
            yield p, xp, constants

    def _start_update(self, p, names, weight_decay, maximize, n):
        """The beginning of a first-order update of ``p``: its state (made on the first
        step: ``step = 0.0`` and a zero buffer for each of ``names``) with ``step``
        counted, the gradient the update uses (see :func:`_gradient`), and ``n`` scratch
        arrays that are not the gradient's.  Returns ``(state, g, scratch)``."""
        state = self.state[p]
        if not state:
            xp = get_array_module(p.data)
            state["step"] = 0.0
            for name in names:
                state[name] = _buffer(xp.zeros_like(p.data))
        state["step"] += 1
        if weight_decay != 0 or maximize:  # the gradient needs an array of its own
            work = self._work(p, n + 1)
            return state, _gradient(p, weight_decay, maximize, work[0]), work[1:]
        return state, p.grad.data, self._work(p, n)

    # ------------------------------------------------------------ state dict
    def state_dict(self) -> dict:
        """A snapshot of the optimizer: ``{"state": {...}, "param_groups": [...]}``.

        PyTorch's layout: parameters are numbered by their position across all groups (in
        group order), ``state`` maps those numbers to the per-parameter state (arrays and
        numbers: the live ``opt.state`` holds Tensors, as PyTorch's does, the snapshot their
        arrays), each group lists its hyperparameters and ``"params"`` as numbers.  Arrays
        are copies, so the snapshot does not change when training goes on (PyTorch returns
        references and leaves the copy to ``torch.save``).
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            key = index[id(p)] if isinstance(p, Tensor) else p
            state[key] = {k: _copy_value(v) for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a snapshot from :meth:`state_dict` (the same model and groups).

        The groups' hyperparameters come from the snapshot, the parameters stay this
        optimizer's own; state arrays are copied and cast to their parameter's dtype.
        Resuming this way continues exactly the trajectory of an uninterrupted run.

        Raises:
            ValueError: the snapshot has a different number of groups, a group of another
                size, or a state array whose shape differs from its parameter's.
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError("load_state_dict: expected a dict with keys 'state' and "
                             "'param_groups' (as made by state_dict())")
        saved_groups = copy.deepcopy(list(state_dict["param_groups"]))
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: the state dict has {len(saved_groups)} "
                             f"parameter groups, the optimizer {len(self.param_groups)}")
        id_map = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"load_state_dict: parameter group {i} has "
                                 f"{len(saved['params'])} parameters in the state dict and "
                                 f"{len(group['params'])} in the optimizer")
            id_map.update(zip(saved["params"], group["params"]))
        state: defaultdict = defaultdict(dict)
        for key, value in state_dict["state"].items():
            param = id_map.get(key)
            if param is None:
                try:  # keys may have become strings on a trip through JSON
                    param = id_map.get(int(key))
                except (TypeError, ValueError):
                    param = None
            if param is None:
                state[key] = copy.deepcopy(value)
                continue
            state[param] = {k: _cast_value(param, k, v, key) for k, v in value.items()}
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            self._check_hyperparameters(saved)
            new_groups.append(saved)
        self.state = state
        self.param_groups = new_groups

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


_SET_MESSAGE = ("optimizer parameters need to be an ordered collection, but the order of "
                "tensors in a set changes between runs; use a list instead")


def _copy_value(v):
    if isinstance(v, list):
        return [_copy_value(a) for a in v]
    if isinstance(v, Tensor):
        return v.data.copy()
    if hasattr(v, "copy") and hasattr(v, "dtype"):  # an array (numpy or cupy)
        return v.copy()
    return copy.deepcopy(v)


def _buffer(array) -> Tensor:
    """An optimizer state buffer (momentum, running averages) as a Tensor, as in PyTorch:
    ``opt.state[p]["exp_avg"].norm()`` works; the updates change its ``.data`` in place."""
    return const(array)


def _cast_value(param, key, value, index):
    """A state entry from a state dict, made to fit ``param``: arrays copied to its dtype
    and wrapped as Tensors (numbers such as ``step`` stay numbers)."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    xp = get_array_module(param.data)
    array = xp.asarray(value)
    if array.ndim == 0:  # a count such as "step" stored as a 0-d array
        return array.item()
    if array.shape != param.data.shape:
        raise ValueError(f"load_state_dict: state[{index}][{key!r}] has shape "
                         f"{tuple(array.shape)}, its parameter {tuple(param.data.shape)}")
    return _buffer(array.astype(param.data.dtype, copy=True))


# ---------------------------------------------------------------- helpers for the updates
# The first-order steps run once per batch, so they are written for speed: in-place ufuncs
# with ``out=`` on the raw arrays, into scratch arrays that live as long as the optimizer
# (Optimizer._work), never a temporary or a Tensor per step.  Each keeps the order of the
# operations of PyTorch's single-tensor code, which the tests compare against.  The
# Optimizer methods _work and _start_update are the shared beginning of those steps.


def _scalars(dtype, *values) -> list:
    """The hyperparameters as NumPy scalars of the parameters' ``dtype``.

    A Python float in a ufunc with a float32 array is cast to float32 anyway (NumPy's
    promotion rules, NEP 50), so the results are the same bits; but the cast then happens
    in every call, which costs more than the arithmetic on a small array.
    """
    cast = dtype.type
    return [cast(v) for v in values]


def _gradient(p, weight_decay, maximize, out):
    """The gradient an update uses: ``p.grad`` (negated when maximizing) plus
    ``weight_decay * p`` (L2 regularization folded into the gradient).

    ``p.grad`` itself is never changed: when the result differs from it, it is written
    into ``out`` (returned); otherwise ``p.grad``'s own array comes back, read-only.
    """
    g = p.grad.data
    if weight_decay != 0:
        get_array_module(g).multiply(p.data, weight_decay, out=out)
        if maximize:
            out -= g
        else:
            out += g
        return out
    if maximize:
        return get_array_module(g).negative(g, out=out)
    return g


def _lerp_(a, b, weight, tmp):
    """``a += weight * (b - a)`` in place, in PyTorch's ``lerp_`` form (which switches to
    ``b - (b - a) * (1 - weight)`` for weights >= 0.5 so the result is exact at weight 1)."""
    get_array_module(a).subtract(b, a, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1 - weight
        get_array_module(a).subtract(b, tmp, out=a)


def _leaky_square_(avg, g, decay, tmp):
    """``avg = decay * avg + (1 - decay) * g * g`` in place (the second moment of Adam,
    RMSprop and Adadelta), in PyTorch's order of operations; ``tmp`` is scratch."""
    get_array_module(g).multiply(g, 1 - decay, out=tmp)
    tmp *= g
    avg *= decay
    avg += tmp
