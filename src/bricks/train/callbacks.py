"""Callbacks: code that :func:`bricks.train.fit` runs at fixed points of training.

A callback subclasses :class:`Callback` and overrides the hooks it needs.  Through
``self.trainer`` it sees the model, the optimizer and the history, and it ends training by
setting ``self.trainer.stop_training = True``.  Epoch numbers are 0-based in the API (as in
``history.epoch``); messages count from 1, as the progress bar does.

Provided: :class:`EarlyStopping`, :class:`ModelCheckpoint`, :class:`LRSchedulerCallback`,
:class:`CSVLogger`, :class:`JSONLogger` and :class:`NaNGuard`.
"""

from __future__ import annotations

import json
import math
import os
import warnings

from bricks.io import atomic_write, save_checkpoint
from bricks.optim.lr_scheduler import ReduceLROnPlateau


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite (raised by ``NaNGuard(raise_error=True)``).

    ``err.history`` holds the History up to the failure.
    """

    def __init__(self, message: str, history=None):
        super().__init__(message)
        self.history = history


class Callback:
    """Base class: every hook does nothing until overridden.

    ``rank_zero_only = True`` marks a callback that writes files: in data-parallel training
    (``bricks.distributed``) only rank 0 runs it.
    """

    trainer = None
    rank_zero_only = False

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    @property
    def model(self):
        return self.trainer.model

    def on_train_begin(self, logs: dict) -> None:
        pass

    def on_train_end(self, logs: dict) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        """``logs``: this epoch's numbers, e.g. ``{'loss': .., 'val_loss': .., 'lr': ..}``."""

    def on_batch_end(self, step: int, logs: dict) -> None:
        """``logs``: ``{'loss', 'epoch', 'step', 'global_step'}`` (step counts from 0)."""

    def _stop(self, reason: str) -> None:
        self.trainer.stop_training = True
        self.trainer.history.stopped_reason = reason


_MAX_NAMES = ("acc", "accuracy", "top5", "top_k", "precision", "recall", "f1", "r2")


def _resolve_mode(mode: str, monitor: str, who: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    return "max" if name in _MAX_NAMES else "min"


def _monitored(logs: dict, monitor: str, who: str) -> float:
    if monitor not in logs:
        raise KeyError(f"{who}: monitor={monitor!r} is not among this epoch's numbers "
                       f"{sorted(logs)} (val_* needs val_data in fit)")
    return float(logs[monitor])


class _Best:
    """Tracks the best value of a monitored number (min or max mode, with a margin)."""

    def __init__(self, mode: str, min_delta: float = 0.0):
        self.mode, self.min_delta = mode, abs(min_delta)
        self.value = math.inf if mode == "min" else -math.inf

    def improves(self, current: float) -> bool:
        if self.mode == "min":
            return current < self.value - self.min_delta
        return current > self.value + self.min_delta


class EarlyStopping(Callback):
    """Stop when the monitored number has not improved for ``patience`` epochs.

    An epoch improves when ``current < best - min_delta`` (``mode='min'``) or
    ``current > best + min_delta`` (``'max'``); ``'auto'`` picks max for accuracy-like names
    (accuracy, f1, r2, ...) and min otherwise.  With ``restore_best`` the weights of the best
    epoch are put back when training ends, whether it stopped early or not.

    Attributes (after fit): ``best``, ``best_epoch``, ``stopped_epoch`` (None if it never
    stopped training).

    Example:
        >>> stop = bricks.train.EarlyStopping(monitor="val_loss", patience=3)
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best: bool = True):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode = _resolve_mode(mode, monitor, "EarlyStopping")
        self.restore_best = restore_best

    def on_train_begin(self, logs: dict) -> None:
        self._best = _Best(self.mode, self.min_delta)
        self.best, self.best_epoch, self.stopped_epoch = None, None, None
        self.wait, self._best_state = 0, None

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if self._best.improves(current):
            self._best.value, self.best, self.best_epoch, self.wait = current, current, epoch, 0
            if self.restore_best:
                self._best_state = {k: v.detach().data.copy()
                                    for k, v in self.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            best = "none" if self.best is None else f"{self.best:.6g}"
            where = "" if self.best_epoch is None else f" at epoch {self.best_epoch + 1}"
            self._stop(f"EarlyStopping: {self.monitor} did not improve for {self.wait} "
                       f"epochs (best {best}{where}); stopped after epoch {epoch + 1}")

    def on_train_end(self, logs: dict) -> None:
        if self.restore_best and self._best_state is not None:
            from bricks.tensor import Tensor
            self.model.load_state_dict({k: Tensor(v) for k, v in self._best_state.items()})


class LRSchedulerCallback(Callback):
    """Step a learning-rate schedule once per epoch, after the epoch's numbers are in.

    ``ReduceLROnPlateau`` gets the monitored number (``val_loss``, or ``loss`` when there is
    no validation data); every other schedule gets ``step()``.  ``fit(scheduler=...)`` wraps
    its scheduler in this callback.
    """

    def __init__(self, scheduler, monitor: str = "val_loss"):
        self.scheduler, self.monitor = scheduler, monitor

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if isinstance(self.scheduler, ReduceLROnPlateau):
            key = self.monitor if self.monitor in logs else "loss"
            self.scheduler.step(_monitored(logs, key, "LRSchedulerCallback"))
        else:
            self.scheduler.step()


def nonfinite_parameters(model) -> list:
    """Names of the model's parameters and buffers that hold NaN or an infinity.

    Example:
        >>> layer = bricks.nn.Linear(2, 1)
        >>> layer.bias.data[0] = float("nan")
        >>> bricks.train.callbacks.nonfinite_parameters(layer)
        ['bias']
    """
    from bricks.backend import get_array_module, is_floating

    bad = []
    for name, value in model.state_dict().items():
        data = getattr(value, "data", value)
        if is_floating(data.dtype) and not bool(get_array_module(data).isfinite(data).all()):
            bad.append(name)
    return bad


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` (creating its folder) with :func:`bricks.io.atomic_write`:
    a temporary file and a rename, so a crash leaves the old file or the new one."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path, "w", newline="") as f:
        f.write(text)


def _scalar(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class CSVLogger(Callback):
    """Write the history to a CSV file after every epoch: a header ``epoch,loss,...`` and one
    row per epoch (scalar numbers only; a confusion matrix goes to :class:`JSONLogger`).
    The whole file is rewritten atomically each epoch.
    """

    rank_zero_only = True

    def __init__(self, path):
        self.path = os.fspath(path)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        history = self.trainer.history
        keys = [k for k, v in history.history.items() if v and _scalar(v[-1])]
        lines = [",".join(["epoch", *keys])]
        for i, e in enumerate(history.epoch):
            lines.append(",".join([str(e), *(repr(float(history.history[k][i]))
                                             for k in keys)]))
        atomic_write_text(self.path, "\n".join(lines) + "\n")


class JSONLogger(Callback):
    """Write ``history.to_dict()`` as JSON after every epoch (atomically, the whole file)."""

    rank_zero_only = True

    def __init__(self, path):
        self.path = os.fspath(path)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._write()

    def on_train_end(self, logs: dict) -> None:
        self._write()  # the stopped_reason, set after the last epoch's write

    def _write(self) -> None:
        atomic_write_text(self.path, json.dumps(self.trainer.history.to_dict(), indent=2))


class ModelCheckpoint(Callback):
    """Save a checkpoint (model, optimizer, scheduler, epoch, history) with ``bricks.io``.

    ``save_best_only=True``: only when the monitored number improves on the best so far
    (mode as in :class:`EarlyStopping`); ``False``: after every epoch.  ``path`` may hold
    ``{epoch}`` (from 1) to keep one file per epoch, e.g. ``'run/ckpt-{epoch:03d}.safetensors'``.
    Writes are atomic (``bricks.io`` writes a temporary file and renames it); load with
    ``bricks.io.load_checkpoint(path, model=..., optimizer=...)``.  Weights that hold NaN or
    an infinity are never saved (a ``RuntimeWarning`` says so): a diverged epoch cannot
    replace a good checkpoint, so the file on disk stays the last finite one.

    The random states are saved too (the global generator, and the trainer's shuffle
    generator of a seeded run), so that a resumed run repeats the uninterrupted one bit
    for bit.  ``scaler`` (an input scaler with ``state_dict()``), ``extra`` and
    ``metadata`` (JSON-like values: what rebuilds the model, e.g. ``bricks train``'s
    configuration) go into every file as well; see :func:`bricks.io.save_checkpoint`.

    Attributes: ``best``, ``best_epoch``, ``saved`` (the paths written, in order),
    ``saved_epoch`` (the epoch of the last file written, None before the first).
    """

    rank_zero_only = True

    def __init__(self, path, monitor: str = "val_loss", save_best_only: bool = True,
                 mode: str = "auto", scheduler=None, scaler=None, extra=None,
                 metadata=None):
        self.path, self.monitor, self.save_best_only = os.fspath(path), monitor, save_best_only
        self.mode = _resolve_mode(mode, monitor, "ModelCheckpoint")
        self.scheduler = scheduler
        self.scaler, self.extra, self.metadata = scaler, extra, metadata

    def on_train_begin(self, logs: dict) -> None:
        self._best = _Best(self.mode)
        self.best, self.best_epoch, self.saved, self.saved_epoch = None, None, [], None

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not self._best.improves(current):
                return
            self._best.value, self.best, self.best_epoch = current, current, epoch
        bad = nonfinite_parameters(self.model)
        if bad:
            warnings.warn(f"ModelCheckpoint: not saved after epoch {epoch + 1}: the weights "
                          f"{', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''} hold NaN or "
                          f"infinite values", RuntimeWarning, stacklevel=2)
            return
        path = self.path.format(epoch=epoch + 1)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        scheduler = self.scheduler if self.scheduler is not None else self.trainer.scheduler
        generator = getattr(self.trainer, "generator", None)
        save_checkpoint(path, model=self.model, optimizer=self.trainer.optimizer,
                        scheduler=scheduler, scaler=self.scaler, epoch=epoch,
                        history=self.trainer.history.to_dict(), extra=self.extra,
                        metadata=self.metadata,
                        generators={"shuffle": generator} if generator is not None else None)
        self.saved.append(path)
        self.saved_epoch = epoch


class NaNGuard(Callback):
    """Stop training as soon as a batch loss, or a weight at the end of an epoch, is NaN or
    infinite.  :func:`~bricks.train.fit` adds one when its callbacks hold none, so training
    never goes on with NaN silently.

    The message names the epoch and step (both from 1) and the last finite loss, e.g.
    ``NaNGuard: the loss became inf at epoch 1, step 4 (global step 4); the last finite loss
    was 3.1e+12 (epoch 1, step 3). Try a smaller learning rate.``  By default training
    stops, ``history.stopped_reason`` holds the message and a ``RuntimeWarning`` repeats it;
    with ``raise_error=True`` a :class:`TrainingDiverged` error is raised instead.  The
    update of the failing step has been applied, so the weights may hold NaN.

    ``check_val_loss=True`` also stops when the validation loss of an epoch is NaN or
    infinite (finite weights whose outputs overflow: ``bricks train`` counts it as
    diverged).
    """

    def __init__(self, raise_error: bool = False, check_val_loss: bool = False):
        self.raise_error, self.check_val_loss = raise_error, check_val_loss

    def on_train_begin(self, logs: dict) -> None:
        self.last_finite, self.last_where, self.message = None, None, None

    def on_batch_end(self, step: int, logs: dict) -> None:
        loss = float(logs["loss"])
        where = f"epoch {logs['epoch'] + 1}, step {step + 1}"
        if math.isfinite(loss):
            self.last_finite, self.last_where = loss, where
            return
        last = ("no finite loss came before it" if self.last_finite is None else
                f"the last finite loss was {self.last_finite:.6g} ({self.last_where})")
        self.message = (f"NaNGuard: the loss became {loss} at {where} (global step "
                        f"{logs['global_step']}); {last}. Try a smaller learning rate.")
        self._fail(self.message)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if self.message is not None:
            return
        bad = nonfinite_parameters(self.model)
        if bad:
            self.message = (f"NaNGuard: after epoch {epoch + 1} the weights "
                            f"{', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''} hold NaN "
                            f"or infinite values. Try a smaller learning rate.")
            self._fail(self.message)
        elif self.check_val_loss and not math.isfinite(logs.get("val_loss", 0.0)):
            self.message = (f"NaNGuard: the validation loss became {logs['val_loss']} after "
                            f"epoch {epoch + 1}. Try a smaller learning rate.")
            self._fail(self.message)

    def _fail(self, message: str) -> None:
        self._stop(message)
        if self.raise_error:
            raise TrainingDiverged(message, self.trainer.history)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
