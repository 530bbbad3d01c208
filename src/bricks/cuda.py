"""``bricks.cuda``: is there a GPU, how many, and which one is current (PyTorch's names).

bricks runs on an NVIDIA GPU through CuPy (``pip install "bricks[gpu]"``).  Nothing here
raises when CuPy or a GPU is missing: ``is_available()`` is then False.

Example:
    >>> isinstance(bricks.cuda.is_available(), bool)
    True
"""

from __future__ import annotations

from bricks import backend

__all__ = ["is_available", "device_count", "current_device", "set_device", "synchronize"]


def _kind():
    return backend.device_type("cuda")


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CuPy, a driver or a GPU)."""
    kind = _kind()
    if kind is None:
        return 0
    try:
        return int(kind.count())
    except Exception:  # a broken driver counts as no GPU, never a crash
        return 0


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return device_count() > 0


def _require(who):
    if not is_available():
        raise RuntimeError(f"{who}: CUDA is not available (CuPy is "
                           f"{'installed but sees no GPU' if _kind() else 'not installed'})")
    return backend.cupy


def current_device() -> int:
    """The index of the current GPU (where new CUDA tensors go by default)."""
    return int(_require("cuda.current_device").cuda.runtime.getDevice())


def set_device(index) -> None:
    """Make GPU ``index`` (an int, ``'cuda:N'`` or a device) the current one."""
    from bricks.device import as_device

    dev = as_device(index)
    if dev.type != "cuda":
        raise ValueError(f"cuda.set_device: expected a cuda device, got {str(dev)!r}")
    _require("cuda.set_device").cuda.runtime.setDevice(dev.index or 0)


def synchronize() -> None:
    """Wait until the current GPU has finished its queued work (for timing)."""
    _require("cuda.synchronize").cuda.runtime.deviceSynchronize()
