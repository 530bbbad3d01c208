"""Array backend: the only module that imports NumPy (or CuPy) by name.

Everything else asks this module for the array namespace (``xp``) or for the module that
owns a given array (``get_array_module``), so the engine reads the same on the CPU and on
a GPU.  Dtype policy (PyTorch's) lives here too: the default floating dtype, the promotion
rules between tensors and Python numbers, and the global random generator.
"""

from __future__ import annotations

import numpy

xp = numpy
ndarray = numpy.ndarray
generic = numpy.generic  # NumPy scalars (numpy.float64(1.0)): they keep their dtype like arrays
# Shape arithmetic only (tuples in, tuple out): the same on every device.
broadcast_shapes = numpy.broadcast_shapes

try:  # CuPy is optional: a GPU is never required.
    import cupy  # type: ignore
except Exception:  # pragma: no cover - depends on the machine
    cupy = None

float16 = numpy.dtype(numpy.float16)
float32 = numpy.dtype(numpy.float32)
float64 = numpy.dtype(numpy.float64)
int8 = numpy.dtype(numpy.int8)
int16 = numpy.dtype(numpy.int16)
int32 = numpy.dtype(numpy.int32)
int64 = numpy.dtype(numpy.int64)
uint8 = numpy.dtype(numpy.uint8)
bool_ = numpy.dtype(numpy.bool_)

_default_dtype = float32


# ---------------------------------------------------------------- devices and array modules


class DeviceType:
    """One kind of device: its name, its array module and array type, and the two transfers.

    ``cpu`` (NumPy) is always there; ``cuda`` (CuPy) is registered when CuPy imports.  Tests
    register a stand-in (NumPy wrapped in a distinct array type) to prove that every code
    path asks :func:`get_array_module` instead of calling NumPy directly.

    Args:
        name: the device type, as in ``bricks.device('name:index')``.
        module: the array module (``numpy``, ``cupy``): ``module.zeros`` etc.
        array_type: the module's array class (``numpy.ndarray``, ``cupy.ndarray``).
        to_numpy: ``to_numpy(array)`` copies an array of this type to a NumPy array.
        from_numpy: ``from_numpy(array, index)`` copies a NumPy array to device ``index``.
        index_of: ``index_of(array)``, the device index an array lives on (None: no index).
        count: ``count()``, how many devices of this type the machine has.
        use: ``use(index)``, a context manager that makes device ``index`` the current one.
        from_numpy_pinned: ``from_numpy`` through page-locked host memory (the data
            loader's ``pin_memory=True``); default ``from_numpy``.
        pointer_of: ``pointer_of(array)``, the address of its first element (an int).
    """

    def __init__(self, name, module, array_type, to_numpy, from_numpy, index_of=None,
                 count=None, use=None, from_numpy_pinned=None, pointer_of=None):
        self.name, self.module, self.array_type = name, module, array_type
        self.to_numpy, self.from_numpy = to_numpy, from_numpy
        self.from_numpy_pinned = from_numpy_pinned or from_numpy
        self.pointer_of = pointer_of
        self.index_of = index_of or (lambda array: None)
        self.count = count or (lambda: 1)
        self.use = use or (lambda index: _nullcontext)

    def __repr__(self):
        return f"DeviceType({self.name!r}, module={self.module.__name__})"


class _NullContext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


_nullcontext = _NullContext()

_CPU = DeviceType("cpu", numpy, ndarray, numpy.asarray, lambda a, index: a,
                  pointer_of=lambda a: a.__array_interface__["data"][0])
_device_types = {"cpu": _CPU}
_type_of_array = {ndarray: _CPU}  # array class -> DeviceType: one dict lookup per call


def register_device_type(kind: DeviceType) -> DeviceType:
    """Make arrays of ``kind.array_type`` live on device type ``kind.name``.

    After this, ``get_array_module`` returns ``kind.module`` for such arrays, and
    ``bricks.device(kind.name)`` is a valid device.  Registering a name again replaces it.
    """
    old = _device_types.get(kind.name)
    if old is not None:
        _type_of_array.pop(old.array_type, None)
    _device_types[kind.name] = kind
    _type_of_array[kind.array_type] = kind
    return kind


def unregister_device_type(name: str) -> None:
    """Forget a device type added by :func:`register_device_type` (not ``cpu``)."""
    if name == "cpu":
        raise ValueError("unregister_device_type: the cpu device type cannot be removed")
    kind = _device_types.pop(name, None)
    if kind is not None:
        _type_of_array.pop(kind.array_type, None)


def device_type(name: str) -> DeviceType | None:
    """The registered :class:`DeviceType` called ``name``, or None."""
    return _device_types.get(name)


def device_type_of(x) -> DeviceType:
    """The :class:`DeviceType` of an array (NumPy scalars and Python numbers: cpu)."""
    return _type_of_array.get(type(x), _CPU)


def device_types() -> tuple:
    """The names of the registered device types, cpu first."""
    return tuple(_device_types)


def get_array_module(x, *more):
    """Return the array module (numpy, cupy, ...) that owns ``x`` (or the first of ``x,
    *more`` that is not a NumPy array: Chainer's rule, so ``get_array_module(a, b)`` is
    cupy when either is on the GPU).

    Ops call this on their inputs instead of using NumPy, so that they run on whatever
    device their inputs live on.  It is one dict lookup: cheap enough for every op.
    """
    kind = _type_of_array.get(type(x), _CPU)
    if more and kind is _CPU:
        for y in more:
            kind = _type_of_array.get(type(y), _CPU)
            if kind is not _CPU:
                break
    return kind.module


def data_pointer(x) -> int:
    """The address of an array's first element, on whatever device it lives."""
    return _type_of_array.get(type(x), _CPU).pointer_of(x)


def is_array(x) -> bool:
    """True for an array of any registered device type (NumPy, CuPy, ...)."""
    return type(x) in _type_of_array or isinstance(x, ndarray)


def errstate(module, **settings):
    """``numpy.errstate(**settings)`` for NumPy; nothing for modules that do not warn (CuPy
    has no floating-point warnings, and no ``errstate``)."""
    if module is numpy:
        return numpy.errstate(**settings)
    return _nullcontext


def to_numpy(x):
    """Return ``x`` as a NumPy array (copies from the GPU when needed)."""
    kind = _type_of_array.get(type(x))
    if kind is None:
        return numpy.asarray(x)
    return kind.to_numpy(x)


def asarray_like(value, like, dtype=None):
    """``value`` (a number, NumPy scalar or array) as an array on the device of ``like``
    (None: the CPU)."""
    kind = _type_of_array.get(type(like), _CPU)
    if kind is _CPU or type(value) is kind.array_type:
        return kind.module.asarray(value, dtype=dtype)
    return kind.from_numpy(numpy.asarray(value, dtype=dtype), kind.index_of(like))


def to_device(array, name: str, index=None, pinned: bool = False):
    """A copy of ``array`` on device ``name:index`` (``array`` itself when it is there);
    ``pinned``: copy through page-locked host memory where the device type has it."""
    target = _device_types.get(name)
    if target is None:
        raise RuntimeError(f"to: unknown device type {name!r}; expected one of "
                           f"{', '.join(map(repr, _device_types))}")
    source = _type_of_array.get(type(array), _CPU)
    if source is target and (index is None or source.index_of(array) in (None, index)):
        return array
    host = source.to_numpy(array)
    return (target.from_numpy_pinned if pinned else target.from_numpy)(host, index)


if cupy is not None:  # pragma: no cover - needs CuPy

    def _cupy_from_numpy(array, index):
        with cupy.cuda.Device(0 if index is None else index):
            return cupy.asarray(array)

    def _cupy_count():
        try:
            return int(cupy.cuda.runtime.getDeviceCount())
        except Exception:  # no driver, no device: CuPy raises at the first call
            return 0

    _pinned_buffers = {}  # (shape, dtype) -> page-locked staging array, reused per batch

    def _cupy_from_numpy_pinned(array, index):
        # Page-locked memory lets the GPU copy by DMA, without a staging copy of its own.
        # The copy is waited for before returning, so the one buffer per (shape, dtype) is
        # free for the next batch.
        import cupyx  # type: ignore

        key = (array.shape, array.dtype.str)
        staging = _pinned_buffers.get(key)
        if staging is None:
            staging = _pinned_buffers[key] = cupyx.empty_pinned(array.shape, array.dtype)
        staging[...] = array
        with cupy.cuda.Device(0 if index is None else index):
            out = cupy.empty(array.shape, array.dtype)
            out.set(staging)
            cupy.cuda.get_current_stream().synchronize()
        return out

    register_device_type(DeviceType(
        "cuda", cupy, cupy.ndarray, cupy.asnumpy, _cupy_from_numpy,
        index_of=lambda a: a.device.id, count=_cupy_count,
        use=lambda index: cupy.cuda.Device(0 if index is None else index),
        from_numpy_pinned=_cupy_from_numpy_pinned, pointer_of=lambda a: a.data.ptr))


def get_default_dtype():
    """The floating dtype given to Python floats and lists (float32, as in PyTorch)."""
    return _default_dtype


def set_default_dtype(dtype):
    """Change the default floating dtype (float32 or float64)."""
    global _default_dtype
    dtype = as_dtype(dtype)
    if dtype not in (float32, float64):
        raise ValueError(f"set_default_dtype: expected float32 or float64, got {dtype}")
    _default_dtype = dtype


def as_dtype(dtype):
    """Turn a dtype-like (``bricks.float32``, ``'float64'``, ``np.int64``) into a dtype."""
    if dtype is None:
        return None
    if dtype is float:
        return _default_dtype
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    try:
        return numpy.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}") from None


def is_floating(dtype) -> bool:
    return dtype.kind == "f"


def is_integer(dtype) -> bool:
    return dtype.kind in "iu"


def _category(dtype) -> int:
    # bool < integer < floating, PyTorch's promotion categories.
    if dtype.kind == "b":
        return 0
    if dtype.kind in "iu":
        return 1
    return 2


def promote_types(a, b):
    """PyTorch's ``promote_types``: int and float give the float type (NumPy gives float64)."""
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca == cb:
        return numpy.promote_types(a, b)
    return a if ca > cb else b


def _combine(higher, lower):
    # c10's combine_categories: a lower-priority operand only wins a higher category.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if is_floating(higher):
        return higher
    if higher == bool_ or is_floating(lower):
        return promote_types(higher, lower)
    return higher


def result_type(*operands):
    """Result dtype of an op over tensors-as-arrays and Python scalars, as PyTorch computes it.

    Operands are arrays (dimensioned or 0-d) or Python numbers.  Dimensioned arrays take
    priority over 0-d arrays, which take priority over Python numbers, except that an
    operand of a higher category (bool < int < float) lifts the result to its category.
    """
    dim = zero = wrapped = None
    for op in operands:
        if isinstance(op, bool):
            dt, slot = bool_, 2
        elif isinstance(op, int):
            dt, slot = int64, 2
        elif isinstance(op, float):
            dt, slot = _default_dtype, 2
        else:
            dt = op.dtype
            slot = 0 if op.ndim > 0 else 1
        if slot == 0:
            dim = dt if dim is None else promote_types(dim, dt)
        elif slot == 1:
            zero = dt if zero is None else promote_types(zero, dt)
        else:
            wrapped = dt if wrapped is None else promote_types(wrapped, dt)
    return _combine(dim, _combine(zero, wrapped))


# ---------------------------------------------------------------- random numbers
_generator = numpy.random.default_rng()


def manual_seed(seed: int):
    """Seed the global generator that every random op in bricks draws from."""
    global _generator
    if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    _generator = numpy.random.default_rng(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
    return _generator


def default_generator():
    """The global ``numpy.random.Generator`` (reseeded by ``manual_seed``)."""
    return _generator


def set_default_generator(generator):
    """Make ``generator`` the global one and return the one it replaces.

    ``bricks.distributed`` puts in, for one forward pass, a generator on the same stream
    that draws each random number of the whole global batch and keeps this process's rows.
    """
    global _generator
    previous, _generator = _generator, generator
    return previous


def get_rng_state() -> dict:
    """The global generator's state as a plain dict (JSON-friendly, no pickle)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by ``get_rng_state``."""
    _generator.bit_generator.state = state


# ---------------------------------------------------------------- special functions
try:  # SciPy's erf is exact and fast; without SciPy a vectorized series takes over.
    from scipy.special import erf as _scipy_erf
except Exception:  # pragma: no cover - depends on the environment
    _scipy_erf = None


def erf(x):
    """Elementwise error function, to double precision, with or without SciPy."""
    if _scipy_erf is not None and get_array_module(x) is numpy:
        return _scipy_erf(x)
    return _erf_numpy(x)


def _erf_numpy(x):
    # For |x| < 3 the all-positive series erf(x) = 2/sqrt(pi) exp(-x^2) sum 2^n x^(2n+1)/(2n+1)!!
    # has no cancellation; beyond, erfc's continued fraction converges in a few dozen terms.
    mod = get_array_module(x)
    x64 = mod.asarray(x, dtype=numpy.float64)
    a = mod.abs(x64)
    small = mod.minimum(a, 3.0)
    term = small.copy()
    total = small.copy()
    x2 = small * small
    for n in range(1, 90):
        term = term * (2.0 * x2) / (2 * n + 1)
        total = total + term
    series = 2.0 / numpy.sqrt(numpy.pi) * mod.exp(-x2) * total
    big = mod.maximum(a, 3.0)
    frac = mod.zeros_like(big)
    for k in range(60, 0, -1):
        frac = (k / 2.0) / (big + frac)
    erfc_big = mod.exp(-big * big) / numpy.sqrt(numpy.pi) / (big + frac)
    out = mod.where(a < 3.0, series, 1.0 - erfc_big)
    out = mod.copysign(out, x64)
    return out.astype(x.dtype if x.dtype.kind == "f" else numpy.float64, copy=False)
