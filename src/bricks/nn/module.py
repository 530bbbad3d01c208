"""Modules: the bricks a network is built from.

A :class:`Module` holds parameters, buffers and child modules, each registered simply by
assigning it as an attribute (``self.fc = Linear(2, 3)``), into ordered dicts, so that
``parameters()`` and ``state_dict()`` come out in a deterministic order with dotted names
(``"fc.weight"``).  ``module(x)`` runs the forward pre-hooks, ``forward`` and the forward
hooks.  Containers (:class:`Sequential`, :class:`ModuleList`, :class:`ModuleDict`) snap
modules together.

Example:
    >>> class TwoLayer(bricks.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = bricks.nn.Linear(2, 4)
    ...         self.out = bricks.nn.Linear(4, 1)
    ...
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).tanh())
    >>> [name for name, _ in TwoLayer().named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple

from bricks import autograd as _autograd
from bricks import backend
from bricks import devices as _devices
from bricks.autograd import Deferred, no_grad
from bricks.backend import as_dtype, get_array_module, is_floating
from bricks.functions.creation import zeros
from bricks.tensor import Tensor, _to_args, const, tensor

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Buffer"]


class Parameter(Tensor):
    """A tensor that a Module registers as a learnable parameter when assigned to it.

    ``Parameter(data)`` shares ``data``'s memory when it is a Tensor (as in PyTorch) and
    requires grad by default.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            array = zeros(0).data
        elif isinstance(data, Tensor):
            array = data.data
        else:
            array = tensor(data).data
        self.data = array
        self.grad = None
        self.grad_fn = None
        self._requires_grad = False
        self._output_nr = 0
        self._vc = [0]
        self._hooks = None
        self._retains_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def parameter_dtype(dtype, device, layer: str):
    """The dtype for a layer's parameters (the default float dtype when None), checked for
    ``layer``'s errors; ``device`` exists only for PyTorch's signature."""
    if device not in (None, "cpu") and not (isinstance(device, _devices.device)
                                             and device.type == "cpu"):
        raise ValueError(f"{layer}: device={device!r} is not supported here: layers are made "
                         f"on the CPU; move them with .to(device) (e.g. "
                         f"model = {layer}(...).to('cuda'))")
    dtype = as_dtype(dtype) or backend.get_default_dtype()
    if not is_floating(dtype):
        raise TypeError(f"{layer}: parameters must have a floating dtype, got {dtype}")
    return dtype


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned: ``self.x = Buffer(t)``."""

    __slots__ = ("persistent",)

    def __init__(self, data, persistent=True):
        t = data if isinstance(data, Tensor) else Tensor(data)
        self.data = t.data
        self.grad = None
        self.grad_fn = None
        self._requires_grad = False
        self._output_nr = 0
        self._vc = [0]
        self._hooks = None
        self._retains_grad = False
        self.persistent = persistent


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _RemovableHandle:
    _next_id = 0

    def __init__(self, hooks: OrderedDict):
        self.hooks = hooks
        self.id = _RemovableHandle._next_id
        _RemovableHandle._next_id += 1

    def remove(self):
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Module:
    """Base class of every layer and network.

    Subclasses call ``super().__init__()`` first, assign parameters, buffers and submodules
    as attributes, and define ``forward``.
    """

    training: bool

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", [])
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args, **kwargs):
        if args and isinstance(args[0], Deferred):
            return args[0]._defer(self, args, kwargs)  # a symbolic value: build, don't run
        tracer = _autograd._state.tracer
        if tracer is not None:
            tracer.module(self)  # bricks.compile keys its plans on each module's train/eval
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called; call "
                f"super().__init__() first in {type(self).__name__}.__init__"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name, keep=params)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
        elif isinstance(value, Buffer):
            self._forget(name, keep=buffers)
            self.register_buffer(name, const(value.data),
                                 value.persistent)
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as parameter "
                                f"{name!r} (a Parameter or None is expected)")
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} as buffer {name!r} "
                                f"(a Tensor or None is expected)")
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as submodule "
                                f"{name!r} (a Module or None is expected)")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep=None):
        # Drop ``name`` from every store except ``keep``, where the caller re-assigns it in
        # place: re-assigning must not move an entry to the end of state_dict's order.
        for d in (self.__dict__, self._parameters, self._buffers, self._modules):
            if d is not keep:
                d.pop(name, None)
        if name in self._non_persistent_buffers:
            self._non_persistent_buffers.remove(name)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def register_parameter(self, name: str, param) -> None:
        """Register ``param`` (a Parameter or None) under ``name``."""
        _check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got "
                            f"{type(param).__name__}")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register a tensor that is state but not learned (running means, masks).

        Persistent buffers are part of ``state_dict``; non-persistent ones are not.
        """
        _check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.append(name)

    def register_module(self, name: str, module) -> None:
        """Register a child module under ``name`` (same as assigning it)."""
        _check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"register_module: {name!r} must be a Module or None, got "
                            f"{type(module).__name__}")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    add_module = register_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at a dotted path such as ``"encoder.0"``."""
        mod = self
        for part in target.split(".") if target else []:
            if part not in mod._modules:
                raise AttributeError(f"get_submodule: {type(mod).__name__} has no submodule "
                                     f"{part!r} (path {target!r})")
            mod = mod._modules[part]
        return mod

    # ------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(name, module) for this module and every descendant, each shared one once."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if remove_duplicate:
                if id(mod) in memo:
                    continue
                memo.add(id(mod))
            yield name, mod
            children = [(name + ("." if name else "") + n, m)
                        for n, m in mod._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_name, mod in mods:
            for name, value in getattr(mod, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (mod_name + "." if mod_name else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """(dotted name, Parameter) pairs in registration order; shared ones once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Total number of parameter elements (each shared parameter counted once)."""
        return int(builtin_sum(p.numel() for p in self.parameters()
                               if p.requires_grad or not trainable_only))

    # ------------------------------------------------------------ state
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An OrderedDict of every parameter and persistent buffer by dotted name.

        Values are detached tensors sharing memory with the module (``keep_vars=True``
        returns the Parameters themselves).
        """
        out = OrderedDict() if destination is None else destination
        for mod_name, mod in self.named_modules(prefix=prefix.rstrip("."),
                                                remove_duplicate=False):
            base = mod_name + "." if mod_name else ""
            for name, p in mod._parameters.items():
                if p is not None:
                    out[base + name] = p if keep_vars else p.detach()
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent_buffers:
                    out[base + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values from ``state_dict`` (tensors or arrays) into this module, in place.

        With ``strict=True`` missing and unexpected keys raise an error naming them; a
        shape mismatch always does.  Returns ``(missing_keys, unexpected_keys)``.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            value = state_dict[k]
            array = value.data if isinstance(value, Tensor) else backend.to_numpy(value)
            if tuple(array.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {k}: copying a value of shape "
                              f"{tuple(array.shape)}, the module's is {tuple(target.shape)}")
        if strict:
            if missing:
                errors.append("missing keys: " + ", ".join(repr(k) for k in missing))
            if unexpected:
                errors.append("unexpected keys: " + ", ".join(repr(k) for k in unexpected))
        if errors:
            raise RuntimeError(f"error(s) in loading state_dict for {type(self).__name__}:\n  "
                               + "\n  ".join(errors))
        with no_grad():
            for k, target in own.items():
                if k in state_dict:
                    value = state_dict[k]
                    array = value.data if isinstance(value, Tensor) else backend.to_numpy(value)
                    # Into the module's own device, wherever the value comes from.
                    array = backend.asarray_like(array, target.data)
                    target.data[...] = array.astype(target.data.dtype, copy=False)
                    target._vc[0] += 1
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ modes and helpers
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch statistics) here and in all children."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode: ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to None, or to zeros)."""
        if _autograd._state.tracer is not None:
            _autograd._state.tracer.event(self.zero_grad, (set_to_none,))
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = const(get_array_module(p.grad.data).zeros_like(p.grad.data))

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn) -> Module:
        """Call ``fn(module)`` on every child (depth first) and then on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, *args, device=None, dtype=None, non_blocking=False) -> Module:
        """Move parameters and buffers to ``device`` and/or convert the floating ones to
        ``dtype``, in place (the Parameter objects stay the same, so an optimizer built
        before still holds them); returns self.  PyTorch's forms: ``to(dtype)``,
        ``to(device)``, ``to(device, dtype)``, ``to(tensor)``, keywords.
        """
        device, dtype = _to_args(args, device, dtype)
        dtype = backend.as_dtype(dtype)
        if device is not None:
            _devices.check_available(device, "Module.to")
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is None:
                        continue
                    if device is not None:
                        t.data = backend.to_device(t.data, device.type, device.index)
                        if t.grad is not None:
                            t.grad = Tensor._make(backend.to_device(
                                t.grad.data, device.type, device.index), False, None, 0)
                    if dtype is not None and backend.is_floating(t.data.dtype):
                        t.data = t.data.astype(dtype)
                        if t.grad is not None:
                            t.grad = const(t.grad.data.astype(dtype))
        return self

    def cuda(self, device=None) -> Module:
        """Move parameters and buffers to a GPU (``device``: an index or ``'cuda:N'``)."""
        return self.to(_devices.device("cuda", device) if isinstance(device, int)
                       else device or "cuda")

    def cpu(self) -> Module:
        """Move parameters and buffers to main memory."""
        return self.to(_devices.CPU)

    def float(self) -> Module:
        return self.to(backend.float32)

    def double(self) -> Module:
        return self.to(backend.float64)

    # ------------------------------------------------------------ hooks
    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after every forward; a non-None return
        value replaces the output.  Returns a handle with ``remove()``."""
        handle = _RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, inputs)`` before every forward; a non-None return value
        replaces the inputs.  Returns a handle with ``remove()``."""
        handle = _RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (override in layers)."""
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        body = type(self).__name__ + "("
        if not lines:
            return body + ")"
        if len(lines) == 1 and not self._modules:
            return body + lines[0] + ")"
        return body + "\n  " + "\n  ".join(lines) + "\n)"

    def summary(self, input_shape, dtype=None, device=None) -> str:
        """A table of every leaf layer: name, type, output shape and parameter count.

        Runs one forward pass on zeros of ``input_shape`` (batch dimension included)
        under ``no_grad`` and in eval mode, and returns the table as text.
        """
        rows, handles = [], []
        for name, mod in self.named_modules():
            if mod is self and self._modules:
                continue
            if mod._modules and not mod._parameters:
                continue

            def record(m, inputs, output, name=name):
                if isinstance(output, tuple) and output and isinstance(output[0], Tensor):
                    output = output[0]  # a recurrent layer's (output, state): the output
                shape = tuple(output.shape) if isinstance(output, Tensor) else "-"
                own = builtin_sum(p.numel() for p in m._parameters.values() if p is not None)
                rows.append((name or type(m).__name__, type(m).__name__, shape, own))

            handles.append(mod.register_forward_hook(record))
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                x = zeros(tuple(input_shape), dtype=dtype, device=device or _first_device(self))
                self(x)
        finally:
            for h in handles:
                h.remove()
            self.train(was_training)
        head = ("layer", "type", "output shape", "params")
        table = [head] + [(n, t, str(s), f"{p:,}") for n, t, s, p in rows]
        widths = [max(len(r[i]) for r in table) for i in range(4)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths[:3]) + f"  {{:>{widths[3]}}}"
        rule = "-" * (builtin_sum(widths) + 6)
        out = [fmt.format(*head), rule] + [fmt.format(*r) for r in table[1:]]
        total = self.num_parameters()
        trainable = self.num_parameters(trainable_only=True)
        out += [rule, f"total parameters: {total:,} (trainable: {trainable:,})"]
        return "\n".join(out)


builtin_sum = sum


def _first_device(module):
    """The device of the module's first parameter or buffer (the CPU when it has none)."""
    for t in itertools.chain(module.parameters(), module.buffers()):
        return t.device
    return _devices.CPU


def _check_name(name, what):
    if not isinstance(name, str):
        raise TypeError(f"{what} name must be a str, got {type(name).__name__}")
    if "." in name or not name:
        raise KeyError(f"{what} name {name!r} must be a non-empty string without '.'")


def _delete_and_renumber(container, index):
    # Delete, then renumber "0".."n-1" as PyTorch does, so that a later append (which
    # names the new module str(len)) cannot overwrite a surviving module.
    names = list(container._modules)
    for name in names[index] if isinstance(index, slice) else [names[index]]:
        del container._modules[name]
    modules = list(container._modules.values())
    container._modules.clear()
    for i, m in enumerate(modules):
        container._modules[str(i)] = m


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(2, 8), ReLU(), Linear(8, 1))``.

    Also takes an OrderedDict of named modules; supports indexing, slicing, ``len`` and
    ``append``.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.register_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.register_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        try:
            return items[index][1]
        except IndexError:
            raise IndexError(f"Sequential index {index} is out of range for "
                             f"{len(items)} modules") from None

    def __setitem__(self, index, module):
        name = list(self._modules)[index]
        self.register_module(name, module)

    def __delitem__(self, index):
        _delete_and_renumber(self, index)

    def append(self, module) -> Sequential:
        self.register_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain list would hide them)."""

    def __init__(self, modules=None):
        super().__init__()
        for m in modules or []:
            self.append(m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        values = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(values[index])
        return values[index]

    def __setitem__(self, index, module):
        name = list(self._modules)[index]
        self.register_module(name, module)

    def __delitem__(self, index):
        _delete_and_renumber(self, index)

    def append(self, module) -> ModuleList:
        self.register_module(str(len(self._modules)), module)
        return self

    def extend(self, modules) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module) -> None:
        values = list(self._modules.values())
        values.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(values):
            self.register_module(str(i), m)

    def forward(self, *args):
        raise NotImplementedError("ModuleList has no forward(); iterate over its modules")

    def __repr__(self):
        # Like PyTorch: runs of identical children print once, as "(0-2): 3 x Linear(...)".
        reprs = [repr(m) for m in self._modules.values()]
        if not reprs:
            return type(self).__name__ + "()"
        runs = []  # [first index, last index, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = []
        for first, last, r in runs:
            r = r.replace("\n", "\n  ")
            lines.append(f"({first}): {r}" if first == last
                         else f"({first}-{last}): {last - first + 1} x {r}")
        return type(self).__name__ + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules whose parameters are registered, in insertion order."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.register_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def pop(self, key) -> Module:
        """Remove the module under ``key`` and return it."""
        return self._modules.pop(key)

    def clear(self) -> None:
        self._modules.clear()

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self.register_module(k, m)

    def forward(self, *args):
        raise NotImplementedError("ModuleDict has no forward(); index it by name")
