"""A stand-in GPU for machines without one: NumPy behind a distinct array type.

``StandInArray`` wraps a NumPy array the way a CuPy array wraps GPU memory, and behaves like
one where it matters for bricks' backend rule (STYLE rule 6, issue 17 item 5):

* NumPy refuses it: ``numpy.exp(a)``, ``numpy.asarray(a)``, ``numpy.concatenate([a])``, and
  ``numpy_array + a`` all raise, as they do (or silently copy to the host) with CuPy;
* it refuses plain NumPy arrays: mixing one with a stand-in array in an operator, an index,
  an assignment or a module function raises, as CuPy does (NumPy *scalars* and Python numbers
  are fine, as in CuPy);
* reductions give 0-d arrays, never NumPy scalars (CuPy's rule);
* the module (``standin``) and its arrays offer only the names CuPy 14.2 has (listed in
  ``cupy_namespace.json``, read from the real package), so ``xp.errstate`` fails here as it
  would on a GPU.

``register()`` makes it the device type ``'standin'``: ``bricks.device('standin')``,
``tensor.to('standin')`` and ``get_array_module`` then treat it like ``'cuda'``.  Any code
path of bricks that calls NumPy directly on a tensor's data instead of asking
``get_array_module`` fails loudly when run on it.
"""

from __future__ import annotations

import json
import operator
import pathlib
import weakref

import numpy as np

from bricks import backend

NAME = "standin"
_CUPY = json.loads((pathlib.Path(__file__).parent / "cupy_namespace.json").read_text())
_MODULE_NAMES = frozenset(_CUPY["cupy"])
_ARRAY_NAMES = frozenset(_CUPY["ndarray"])
_LINALG_NAMES = frozenset(_CUPY["cupy.linalg"])
_UFUNC_NAMES = frozenset(_CUPY["ufunc"])
_STRIDE_TRICKS = frozenset(_CUPY["cupy.lib.stride_tricks"])


class MixedArrayError(TypeError):
    """A plain NumPy array met a stand-in device array (CuPy raises TypeError too)."""


def _in(x, where):
    """An argument on its way into NumPy: unwrap stand-in arrays, refuse NumPy arrays."""
    t = type(x)
    if t is StandInArray:
        return x._a
    if isinstance(x, np.ndarray):
        raise MixedArrayError(
            f"{where}: a NumPy array (shape {x.shape}, dtype {x.dtype}) was mixed with "
            f"arrays of the '{NAME}' device: the code called NumPy directly instead of "
            f"get_array_module, or forgot to move the array to the device")
    if t is list or t is tuple:
        return t(_in(v, where) for v in x)
    if t is slice:
        return slice(_in(x.start, where), _in(x.stop, where), _in(x.step, where))
    return x


# NumPy array (by id) -> its live wrapper, so that ``a.base`` is the very base object, as
# in CuPy (a wrapper holds its array, so an id cannot be reused while the wrapper lives).
_wrappers = weakref.WeakValueDictionary()


def _out(y):
    """A NumPy result on its way out: arrays and NumPy scalars become stand-in arrays."""
    if isinstance(y, np.ndarray):
        known = _wrappers.get(id(y))
        return StandInArray(y) if known is None else known
    if isinstance(y, np.generic):  # CuPy reductions return 0-d arrays, never scalars
        return StandInArray(np.asarray(y))
    if type(y) is tuple or type(y) is list:
        return type(y)(_out(v) for v in y)
    return y


def _call(f, where, args, kwargs):
    args = [_in(a, where) for a in args]
    kwargs = {k: _in(v, where) for k, v in kwargs.items()}
    return _out(f(*args, **kwargs))


class StandInArray:
    """A NumPy array that only the stand-in module and its own methods may touch."""

    __slots__ = ("_a", "__weakref__")
    __array_ufunc__ = None  # numpy.exp(a) and ndarray + a raise (NumPy defers, then refuses)

    def __init__(self, array):
        assert isinstance(array, np.ndarray)
        self._a = array
        _wrappers[id(array)] = self

    @property
    def base(self):  # CuPy's: the array this one is a view of (the same object), or None
        base = self._a.base
        return None if base is None else _out(base)

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} was called on a '{NAME}' device array: "
                        f"use get_array_module(x).{func.__name__}")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"implicit conversion of a '{NAME}' device array to a NumPy array "
                        f"(as CuPy refuses it): use backend.to_numpy or tensor.cpu()")

    def __getattr__(self, name):
        if name not in _ARRAY_NAMES:
            raise AttributeError(f"'{NAME}' device arrays (like cupy.ndarray) have no "
                                 f"attribute {name!r}")
        value = getattr(self._a, name)
        if callable(value):
            def method(*args, **kwargs):
                return _call(value, f"ndarray.{name}", args, kwargs)
            return method
        return _out(value)

    def get(self):  # cupy.ndarray.get(): the copy to the host
        return self._a.copy()

    def __repr__(self):
        return f"standin({self._a!r})"

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (StandInArray(np.asarray(v)) for v in self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def __getitem__(self, key):
        return _out(self._a[_in(key, "__getitem__")])

    def __setitem__(self, key, value):
        self._a[_in(key, "__setitem__")] = _in(value, "__setitem__")

    def __copy__(self):
        return StandInArray(self._a.copy())

    def __deepcopy__(self, memo):
        return StandInArray(self._a.copy())

    __hash__ = None


def _binary(op, name):
    def forward(self, other):
        return _out(op(self._a, _in(other, name)))

    def reflected(self, other):
        return _out(op(_in(other, name), self._a))

    def inplace(self, other):
        op_inplace = getattr(operator, f"i{name.strip('_')}")
        self._a = op_inplace(self._a, _in(other, name))
        return self

    return forward, reflected, inplace


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and",
              "or", "xor", "lshift", "rshift"):
    _f, _r, _i = _binary(getattr(operator, _name if _name not in ("and", "or") else
                                 _name + "_"), f"__{_name}__")
    setattr(StandInArray, f"__{_name}__", _f)
    setattr(StandInArray, f"__r{_name}__", _r)
    setattr(StandInArray, f"__i{_name}__", _i)
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(StandInArray, f"__{_name}__", _binary(getattr(operator, _name), f"__{_name}__")[0])
for _name in ("neg", "pos", "abs", "invert"):
    setattr(StandInArray, f"__{_name}__",
            (lambda op: lambda self: _out(op(self._a)))(getattr(operator, _name)))


class _Ufunc:
    """A NumPy ufunc seen through the stand-in: calls and ``.at/.reduce/...`` wrap."""

    def __init__(self, ufunc):
        self._u = ufunc

    def __call__(self, *args, **kwargs):
        return _call(self._u, self._u.__name__, args, kwargs)

    def __getattr__(self, name):
        if name not in _UFUNC_NAMES:
            raise AttributeError(f"cupy ufuncs have no attribute {name!r}")
        value = getattr(self._u, name)
        if not callable(value):
            return value
        return lambda *a, **k: _call(value, f"{self._u.__name__}.{name}", a, k)


_TRANSFERS = frozenset({"asarray", "array", "ascontiguousarray", "asanyarray"})


class _Module:
    """``numpy`` (or one of its submodules) restricted to CuPy's names, on stand-in arrays."""

    def __init__(self, module, names, label, submodules=()):
        self._m, self._names, self._label = module, names, label
        self._sub = dict(submodules)
        self.__name__ = label

    def __getattr__(self, name):
        if name in self._sub:
            return self._sub[name]
        if name not in self._names:
            raise AttributeError(f"{self._label} (like CuPy) has no attribute {name!r}")
        if name == "ndarray":
            return StandInArray
        value = getattr(self._m, name)
        if isinstance(value, np.ufunc):
            return _Ufunc(value)
        if isinstance(value, type) or not callable(value):
            return value  # dtypes, constants (pi, inf, newaxis)
        if name in _TRANSFERS:  # cupy.asarray(numpy_array) is the host-to-device copy
            def transfer(obj, *args, **kwargs):
                if isinstance(obj, np.ndarray):
                    obj = obj.copy() if name != "asarray" else obj
                else:
                    obj = _in(obj, name)
                return _out(value(obj, *args, **kwargs))
            return transfer

        def function(*args, **kwargs):
            return _call(value, f"{self._label}.{name}", args, kwargs)
        return function


_stride_tricks = _Module(np.lib.stride_tricks, _STRIDE_TRICKS, "standin.lib.stride_tricks")
module = _Module(np, _MODULE_NAMES, "standin", submodules={
    "linalg": _Module(np.linalg, _LINALG_NAMES, "standin.linalg"),
    "lib": type("lib", (), {"stride_tricks": _stride_tricks})(),
})


def _to_numpy(a):
    return a._a.copy()


def _from_numpy(array, index):
    return StandInArray(np.array(array))


KIND = backend.DeviceType(NAME, module, StandInArray, _to_numpy, _from_numpy,
                          pointer_of=lambda a: a._a.__array_interface__["data"][0])


def register():
    """Make ``'standin'`` a device type of bricks (idempotent)."""
    backend.register_device_type(KIND)
    return KIND


def unregister():
    backend.unregister_device_type(NAME)
