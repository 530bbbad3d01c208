"""The configuration of a ``bricks train`` run: every option, its default, and its checks.

A run is described by one flat dict (:data:`DEFAULTS` gives its keys).  The command line
fills it from defaults < a ``--config`` TOML file < flags; :func:`check_config` checks each
value's type and range (a config file skips argparse's checks), and the run folder's
``config.toml`` and its checkpoint's metadata keep it (:func:`saved_config`).
"""

from __future__ import annotations

import math
import os

from bricks.optim import OPTIMIZERS

__all__ = ["DEFAULTS", "RESUMABLE", "TASKS", "SCALERS", "TARGET_SCALERS", "AUGMENTS",
           "SCHEDULES", "RunError", "check_config", "image_size", "saved_config",
           "toml_text"]

CHECKPOINT = "checkpoint.safetensors"

DEFAULTS = {
    "data": "mnist",
    "target": None,
    "task": None,
    "model": "mlp:512,256",
    "activation": "relu",
    "dropout": 0.2,
    "batch_norm": False,
    "compile": True,       # bricks.compile: the same numbers, faster (docs/cli.md)
    "optimizer": "adam",
    "lr": None,            # None: the optimizer's own default (bricks.optim.OPTIMIZERS)
    "epochs": 30,
    "batch_size": 128,
    "seed": 0,
    "test_size": 0.15,
    "scaler": "standard",
    "target_scaler": "standard",  # regression targets: standardized, predictions mapped back
    "augment": None,       # None: shift by 1 pixel for image data, nothing otherwise
    "image_size": None,    # --data FOLDER: resize every image to HxW (None: keep)
    "image_mode": "RGB",   # --data FOLDER: RGB or L (grey)
    "schedule": "cosine",
    "threads": 1,
    "device": "cpu",       # cuda / cuda:N: train on a GPU (docs/gpu.md)
    "out": None,
    "quiet": False,
}
"""Every option of ``bricks train`` and its default; a ``--config`` file may set each."""

TASKS = ("classification", "regression")
SCALERS = ("standard", "minmax", "none")
TARGET_SCALERS = ("standard", "none")
AUGMENTS = ("shift", "rotate", "noise", "none")
SCHEDULES = ("cosine", "step", "none")
# Options that a resumed run may change; the others must match the checkpoint.
RESUMABLE = ("epochs", "out", "quiet", "threads", "compile", "device")


class RunError(ValueError):
    """A mistake the user can fix (an option, a file, a run folder); the message says
    which and what was expected.  ``bricks`` prints it as one line, exit status 2."""


def check_config(cfg: dict) -> dict:
    """Check the types and ranges of every option of ``cfg`` (a full config: DEFAULTS'
    keys); return it with numbers normalized (floats, ``image_size`` as 'HxW').

    Raises:
        RunError: naming the first wrong option and what it should be.
    """
    def need(ok, what):
        if not ok:
            raise RunError(what)

    for key in ("epochs", "batch_size", "threads"):
        v = cfg[key]
        need(isinstance(v, int) and not isinstance(v, bool) and v >= 1,
             f"{key.replace('_', '-')} must be a positive integer, got {v!r}")
    need(isinstance(cfg["seed"], int) and not isinstance(cfg["seed"], bool)
         and 0 <= cfg["seed"] < 2**32,
         f"seed must be an integer from 0 to 2**32-1, got {cfg['seed']!r}")
    for key in ("dropout", "test_size"):
        v = cfg[key]
        need(isinstance(v, (int, float)) and not isinstance(v, bool),
             f"{key.replace('_', '-')} must be a number, got {v!r}")
        cfg[key] = float(v)
    need(0.0 <= cfg["dropout"] < 1.0, f"dropout must be in [0, 1), got {cfg['dropout']}")
    need(0.0 < cfg["test_size"] < 1.0,
         f"test-size must be a fraction in (0, 1), got {cfg['test_size']}")
    if cfg["lr"] is not None:
        need(isinstance(cfg["lr"], (int, float)) and not isinstance(cfg["lr"], bool)
             and math.isfinite(cfg["lr"]) and cfg["lr"] > 0,
             f"lr must be a positive finite number, got {cfg['lr']!r}")
        cfg["lr"] = float(cfg["lr"])
    for key, choices in (("optimizer", OPTIMIZERS), ("scaler", SCALERS),
                         ("target_scaler", TARGET_SCALERS), ("schedule", SCHEDULES)):
        need(cfg[key] in choices, f"{key} must be one of {', '.join(choices)}, got "
                                  f"{cfg[key]!r}")
    need(cfg["task"] is None or cfg["task"] in TASKS,
         f"task must be classification or regression, got {cfg['task']!r}")
    need(cfg["augment"] is None or cfg["augment"] in AUGMENTS,
         f"augment must be one of {', '.join(AUGMENTS)}, got {cfg['augment']!r}")
    for key in ("batch_norm", "quiet", "compile"):
        need(isinstance(cfg[key], bool), f"{key.replace('_', '-')} must be true or false, "
                                         f"got {cfg[key]!r}")
    for key in ("data", "model", "activation", "device"):
        need(isinstance(cfg[key], str), f"{key} must be a string, got {cfg[key]!r}")
    cfg["device"] = _available_device(cfg["device"])
    need(cfg["image_mode"] in ("RGB", "L"), f"image-mode must be RGB or L, got "
                                            f"{cfg['image_mode']!r}")
    if cfg["image_size"] is not None:
        cfg["image_size"] = image_size(cfg["image_size"])
    if cfg["target"] is not None:
        cfg["target"] = str(cfg["target"])
    return cfg


def _available_device(name: str) -> str:
    """``name`` checked: a device bricks knows and this machine has (else a RunError)."""
    from bricks.devices import as_device, check_available

    try:
        return str(check_available(as_device(name), "--device"))
    except (RuntimeError, ValueError, TypeError) as err:
        raise RunError(str(err)) from None


def image_size(value) -> str:
    """'64' or '64x48' (or an int from a config file) -> 'HxW', checked."""
    text = str(value).strip().lower()
    parts = text.split("x") if "x" in text else [text, text]
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise RunError(f"image-size must be HxW or one size in pixels (e.g. 64x64), got "
                       f"{value!r}")
    return f"{int(parts[0])}x{int(parts[1])}"


def saved_config(cfg: dict) -> dict:
    """The options a run folder records: all but where it was written (``out``), which a
    resumed or rerun run must never take from a file."""
    return {k: v for k, v in cfg.items() if k not in ("out", "resume")}


def toml_text(cfg: dict, run: str) -> str:
    """``config.toml`` of the run folder ``run``: rerunning it repeats the run."""
    from bricks.io import toml_dumps

    return toml_dumps({k.replace("_", "-"): v for k, v in saved_config(cfg).items()},
                      comment=f"bricks train configuration; rerun with: bricks train "
                              f"--config {os.path.join(run, 'config.toml')}")
