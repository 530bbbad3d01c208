"""Devices: where a tensor's array lives (``cpu``: NumPy, ``cuda:N``: CuPy on GPU N).

PyTorch's names: ``bricks.device('cuda:0')``, ``tensor.device``, ``tensor.to(device)``,
``module.to(device)`` and ``device=`` on the functions that make tensors.  A device is a
type (a registered :class:`bricks.backend.DeviceType`) and an optional index.

Example:
    >>> d = bricks.device("cpu")
    >>> d, d.type, d.index
    (device(type='cpu'), 'cpu', None)
    >>> bricks.zeros(2, device="cpu").device
    device(type='cpu')
"""

from __future__ import annotations

from bricks import backend

__all__ = ["device", "as_device", "device_of", "CPU"]


class device:  # noqa: N801 - PyTorch's name
    """A device: ``device('cpu')``, ``device('cuda')``, ``device('cuda:1')`` or
    ``device('cuda', 1)``.

    Equal devices compare equal (also to their string: ``device('cuda:0') == 'cuda:0'``);
    ``device('cuda')`` (the current GPU) and ``device('cuda:0')`` are different devices, as
    in PyTorch.
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 - PyTorch's argument name
        if isinstance(type, device):
            if index is not None:
                raise ValueError("device: an index was given with a device that has one")
            type, index = type.type, type.index
        elif not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0' or a device, "
                            f"got {type.__class__.__name__}")
        else:
            kind, sep, number = type.partition(":")
            if sep:
                if index is not None:
                    raise ValueError(f"device: index given twice in device({type!r}, {index})")
                if not number.isdigit():
                    raise RuntimeError(f"device: invalid device string {type!r}; expected "
                                       f"'type' or 'type:index' with a non-negative index")
                index = int(number)
            type = kind
        # 'cuda' is always a valid name (as in PyTorch); using it without CuPy or a GPU fails
        # with a clear message in check_available.
        if type != "cuda" and backend.device_type(type) is None:
            raise RuntimeError(
                f"device: unknown device type {type!r}; expected one of "
                f"{', '.join(map(repr, sorted(set(backend.device_types()) | {'cuda'})))}")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise RuntimeError(f"device: index must be a non-negative int, got {index!r}")
            if type == "cpu" and index != 0:
                raise RuntimeError(f"device: the cpu has only index 0, got {index}")
        self.type = type
        self.index = index

    def _key(self):
        return self.type, self.index

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, ValueError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type={self.type!r})"
        return f"device(type={self.type!r}, index={self.index})"


CPU = device("cpu")


def as_device(value) -> device:
    """``value`` (a device, a string or an int GPU index, as PyTorch allows) as a device."""
    if isinstance(value, device):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return device("cuda", value)
    return device(value)


def device_of(array) -> device:
    """The device an array lives on (NumPy arrays and scalars: cpu)."""
    kind = backend.device_type_of(array)
    if kind.name == "cpu":
        return CPU
    index = kind.index_of(array)
    return device(kind.name, index)


def check_available(dev: device, who: str) -> device:
    """Raise a clear error when ``dev`` names a device this machine does not have."""
    kind = backend.device_type(dev.type)
    if kind is None:
        raise RuntimeError(
            f"{who}: device {str(dev)!r} is not available: CuPy is not installed "
            f"(pip install 'bricks[gpu]' on a machine with an NVIDIA GPU and CUDA 12)")
    count = kind.count()
    if count == 0 or (dev.index is not None and dev.index >= count):
        if dev.type == "cuda":
            raise RuntimeError(
                f"{who}: device {str(dev)!r} is not available "
                f"({'no GPU found' if count == 0 else f'this machine has {count} GPU(s)'}; "
                f"bricks.cuda.is_available() tells before you try)")
        raise RuntimeError(f"{who}: device {str(dev)!r} is not available "
                           f"({count} device(s) of type {dev.type!r})")
    return dev


def array_module(dev, who):
    """The array module and a "make it current" context for ``device=`` (None: the CPU).

    Functions that make tensors call this: ``with where: module.zeros(...)``.
    """
    if dev is None:
        return backend.device_type("cpu").module, backend._nullcontext
    dev = check_available(as_device(dev), who)
    kind = backend.device_type(dev.type)
    return kind.module, kind.use(dev.index)


def move(array, dev, who):
    """``array`` on ``dev`` (None: unchanged), after checking that the device exists."""
    if dev is None:
        return array
    dev = check_available(as_device(dev), who)
    return backend.to_device(array, dev.type, dev.index)
