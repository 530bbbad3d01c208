"""One playground session: its data, network, optimizer, training state and status.

A :class:`Session` turns a validated config (see :mod:`bricks.playground.schema`) into a
data set (:mod:`~bricks.playground.data`), a bricks MLP (:mod:`~bricks.playground.model`)
and an optimizer (``bricks.optim.create``), trains it an epoch at a time with bricks' one
training loop, :meth:`bricks.train.Trainer.train_epoch` (``step``, or a background thread
between ``play`` and ``pause``), and takes the page's commands (config changes, points,
weight edits).  What the page is sent is built by :mod:`~bricks.playground.frames`, the
downloads by :mod:`~bricks.playground.export`.  Every public method takes the session's
lock, so commands from the server land between slices of mini-batches.  Speed: a step is a
handful of bricks ops on a 10-row batch, so it runs as a ``bricks.compile`` plan and the
loop keeps everything else out of it (features are precomputed arrays, the evaluation and
the heatmap are single batched forwards under ``no_grad``).
"""

from __future__ import annotations

import math
import threading
import time

import bricks
import bricks.nn as nn
import bricks.optim as optim
from bricks.backend import xp
from bricks.playground import export, frames, schema
from bricks.playground.data import (
    BATCH_STREAM,
    INIT_STREAM,
    feature_matrix,
    generator,
    make_dataset,
    split_mask,
)
from bricks.playground.model import Head, build_mlp, optimizer_options
from bricks.train import Trainer
from bricks.train.callbacks import NaNGuard, TrainingDiverged

__all__ = ["Session"]

_SLICE = 0.02  # seconds of mini-batches per hold of the session lock


class Session:
    """A playground training session (the server keeps one per browser tab).

    Args:
        config: a partial or full config (validated with :func:`schema.validate_config`).
        data: optional ``(X, y, is_test, task, n_classes)`` to train on instead of
            generating the config's data set (compare mode passes a copy of another
            session's data).
        compile: run each mini-batch update as a :func:`bricks.compile` plan (bit for bit
            the numbers of eager training, about 2x the epochs a second); False trains
            eagerly.
    """

    def __init__(self, config=None, data=None, compile=True):  # noqa: A002
        self.compile = compile
        self.lock = threading.RLock()
        self.config = schema.validate_config(config or {})
        self.status = "paused"
        self.stop_reason = None
        self.version = 0            # bumped on every change the page should see
        self.data_version = 0
        self._thread = None
        self._stop = threading.Event()
        self.failure = None         # the error that stopped training, until a rebuild
        self._deadline = None       # when the running step must stop (monotonic seconds)
        self._grid_cache = (None, None)  # ((size, features), the heatmap grid's features)
        self._interrupted = False   # the last epoch was cut short (pause, deadline)
        if data is not None:
            X, y, is_test, task, k = data
            self._set_data(X.copy(), y.copy(), is_test.copy(), task, k)
        else:
            self._generate_data()
        self._build_model()

    # ----------------------------------------------------------------- data
    def _generate_data(self):
        c = self.config
        if c["dataset"] == "custom":
            X = xp.zeros((0, 2), dtype=xp.float32)
            self._set_data(X, xp.zeros(0, dtype=xp.int64), xp.zeros(0, dtype=bool),
                           "classification", 2)
            return
        X, y, task, k = make_dataset(c["dataset"], c["n_points"], c["noise"] / 100,
                                     c["seed"], c["n_classes"])
        self._set_data(X, y, split_mask(len(y), c["train_ratio"], c["seed"]), task, k)

    def _set_data(self, X, y, is_test, task, n_classes):
        self.X, self.y, self.is_test = X.astype(xp.float32), y, is_test.astype(bool)
        self.task, self.n_classes = task, int(n_classes)
        self.data_version += 1
        self.version += 1
        self._features_changed()

    def _features_changed(self):
        """Recompute what depends on the points, the features and the loss."""
        feats = self.config["features"]
        self.head = Head(self.task, self.n_classes, self.config["loss"])
        self.X_train, self.X_test = self.X[~self.is_test], self.X[self.is_test]
        self.y_train, self.y_test = self.y[~self.is_test], self.y[self.is_test]
        self.F_train = feature_matrix(self.X_train, feats)
        self.F_test = feature_matrix(self.X_test, feats)
        self.T_train = self.head.targets(self.y_train)
        self.T_test = self.head.targets(self.y_test)

    def data_message(self) -> dict:
        """The page's ``data`` message (:func:`frames.data_message`)."""
        with self.lock:
            return frames.data_message(self)

    def data_tuple(self):
        """``(X, y, is_test, task, n_classes)``: copies, for a compare session."""
        with self.lock:
            return self.X.copy(), self.y.copy(), self.is_test.copy(), self.task, self.n_classes

    # ---------------------------------------------------------------- model
    @property
    def n_outputs(self):
        return self.head.n_outputs

    def _build_model(self):
        c = self.config
        self.model, self.linears, self.capture = build_mlp(
            c, self.n_outputs, generator(c["seed"], INIT_STREAM))
        self.weights = [lin.weight for lin in self.linears]
        self.epoch = 0
        self.history = {"epoch": [], "train_loss": [], "test_loss": []}
        self.train_loss = self.test_loss = None
        self.grad_norms = [0.0] * len(self.linears)
        self.stop_reason = None
        self.failure = None
        self._batch_rng = generator(c["seed"], BATCH_STREAM)
        self._build_optimizer()
        self._evaluate()
        self.version += 1

    def _build_optimizer(self):
        c = self.config
        self.optimizer = optim.create(c["optimizer"], self.model.parameters(),
                                      **optimizer_options(c))
        self._build_trainer()

    def _build_trainer(self):
        """bricks' one training loop on the model, the objective and the optimizer.

        With ``compile`` each update runs as a bricks.compile plan (the same numbers,
        2-2.5x faster epochs on the page's networks: benchmarks/bench_playground.py).  A
        plan replays what it traced, so the penalty's kind and rate are frozen into it:
        changing them builds a new trainer (the learning rate and momentum are read live).
        Networks with batch norm train eagerly: a plan does not replay the
        ``num_batches_tracked.add_(1)`` of BatchNorm's forward (the weights and running
        statistics would match, that counter would not).
        """
        compile_ = self.compile and not any(self.config["batch_norm"])
        guard = NaNGuard(raise_error=True)  # a diverging loss ends the run ("diverged")
        self.trainer = Trainer(self.model, self._objective, self.optimizer,
                               callbacks=[guard], verbose=False, compile=compile_)
        guard.on_train_begin({})  # training begins when the network is built

    def _apply_live(self, changed):
        options = optimizer_options(self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = options["lr"]
            if "momentum" in options:
                group["momentum"] = options["momentum"]
        if changed & {"regularization", "reg_rate"}:
            self._build_trainer()

    # ------------------------------------------------------------ training
    def _penalty(self):
        c = self.config
        if c["regularization"] == "none" or c["reg_rate"] == 0:
            return None
        pen = nn.l1_penalty if c["regularization"] == "l1" else nn.l2_penalty
        return pen(self.weights) * c["reg_rate"]

    def _objective(self, z, target):
        """What training minimizes: the loss of the outputs ``z`` plus the penalty."""
        loss = self.head.loss(z, target)
        pen = self._penalty()
        return loss if pen is None else loss + pen

    def _record_grad_norms(self):
        self.grad_norms = [
            0.0 if w.grad is None else float(xp.sqrt((w.grad.data.astype(xp.float64) ** 2)
                                                     .sum()))
            for w in self.weights]

    def _train_epoch(self):
        """Train one epoch with :class:`bricks.train.Trainer`; False when ``pause``, the
        step's deadline or a diverging loss interrupted it (the rest is abandoned).

        The session's lock is held a time slice of mini-batches at a time (``_SLICE``
        seconds), not for the whole epoch, so ``state``, ``pause`` and ``DELETE`` answer
        within a slice even on the largest network (an epoch there is seconds long).
        """
        with self.lock:
            n = len(self.F_train)
            if n == 0:
                return True
            trainer = self.trainer
            trainer.stop_training = False
            if optim.OPTIMIZERS[self.config["optimizer"]].full_batch:
                batches = [(self.F_train, self.T_train)]  # one step(closure) on all points
            else:
                batches = self._sliced_batches(self._batch_rng.permutation(n))
            try:
                trainer.train_epoch(batches, self.epoch)
            except TrainingDiverged:
                self.stop_reason, self.status = "diverged", "stopped"
                self._evaluate_no_history()
                self.version += 1
                return False
            if self._interrupted:
                self._evaluate_no_history()  # the shown loss matches the weights
                self.version += 1
                return False
            self._record_grad_norms()  # the gradients of the epoch's last step
            self.epoch += 1
            self._evaluate()
        return True

    def _sliced_batches(self, order):
        """The epoch's mini-batches ``(features, targets)`` in ``order``. The caller holds
        the lock; after each ``_SLICE`` seconds of batches it is let go for a moment, and
        the epoch ends early (``self._interrupted``) on ``pause`` or the step's deadline."""
        self._interrupted = False
        F, T = self.F_train, self.T_train
        n = len(order)
        bs = min(self.config["batch_size"], n)
        skip_single = any(self.config["batch_norm"]) and n > 1
        t0 = time.perf_counter()
        for s in range(0, n, bs):
            if time.perf_counter() - t0 >= _SLICE:
                if self._stop.is_set() or (self._deadline is not None and
                                           time.monotonic() >= self._deadline):
                    self._interrupted = True
                    return
                # The weights moved: a long epoch (a big network, a loaded machine) still
                # animates the heatmap between its slices.
                self.version += 1
                self.lock.release()
                try:
                    time.sleep(0)  # let a waiting request take the lock
                finally:
                    self.lock.acquire()
                self.model.train()  # a snapshot between slices leaves it in eval mode
                t0 = time.perf_counter()
            idx = order[s:s + bs]
            if len(idx) == 1 and skip_single:
                continue  # batch norm cannot normalize a single row
            yield F[idx], T[idx]

    def _forward_eval(self, F):
        self.model.eval()
        with bricks.no_grad():
            z = self.model(bricks.tensor(F))
        return z

    def _evaluate(self):
        """Train and test loss (and predictions) in one batched forward under no_grad."""
        n_tr = len(self.F_train)
        F = xp.concatenate([self.F_train, self.F_test]) if len(self.F_test) else self.F_train
        if len(F) == 0:
            self.train_loss = self.test_loss = None
            self._pred_train = self._pred_test = xp.zeros(0, dtype=xp.int64)
            return
        z = self._forward_eval(F)
        with bricks.no_grad():
            losses = []
            for sl, T in ((slice(0, n_tr), self.T_train), (slice(n_tr, None), self.T_test)):
                if len(T) == 0:
                    losses.append(None)
                    continue
                v = float(self.head.loss(z[sl], bricks.tensor(T)).item())
                losses.append(v if math.isfinite(v) else None)
        self.train_loss, self.test_loss = losses
        zd = z.data
        if self.task == "classification":
            pred = self.head.classes(zd)
            self._pred_train, self._pred_test = pred[:n_tr], pred[n_tr:]
        if self.epoch > 0 or not self.history["epoch"]:
            self.history["epoch"].append(self.epoch)
            self.history["train_loss"].append(self.train_loss)
            self.history["test_loss"].append(self.test_loss)

    def _check_stop(self) -> bool:
        c = self.config
        monitored = self.test_loss if len(self.F_test) else self.train_loss
        if self.epoch > 0 and (self.train_loss is None or
                               (len(self.F_test) and self.test_loss is None)):
            self.stop_reason = "diverged"
        elif c["target_loss"] is not None and monitored is not None \
                and monitored <= c["target_loss"]:
            self.stop_reason = "target_loss"
        elif c["max_epochs"] is not None and self.epoch >= c["max_epochs"]:
            self.stop_reason = "max_epochs"
        else:
            return False
        self.status = "stopped"
        return True

    def _check_failed(self, command):
        if self.failure is not None:
            raise schema.SchemaError(
                f"{command}: training failed ({self.failure}); reset the network or change "
                f"the config", 409)

    def start_step(self, epochs: int = 1, timeout: float | None = None) -> int:
        """Start training ``epochs`` epochs in the background; returns the target epoch.

        A running session is paused first. The work stops at the target epoch, after
        ``timeout`` seconds, or at ``pause``/``reset``/``close``, whichever comes first.
        """
        self.pause()
        with self.lock:
            self._check_failed("step")
            target = self.epoch + epochs
            self.status, self.stop_reason = "stepping", None
            self._start(target, None if timeout is None else time.monotonic() + timeout)
            return target

    def step(self, epochs: int = 1, timeout: float | None = None) -> int:
        """Train ``epochs`` epochs now; returns how many were done (fewer on timeout/pause).

        Raises:
            SchemaError: (409) training raised an error; the session is stopped with it.
        """
        start = self.epoch
        target = self.start_step(epochs, timeout)
        self.wait()
        self._check_failed("step")
        return min(target, self.epoch) - start

    def play(self) -> None:
        """Start training in a background thread, an epoch at a time, until paused."""
        with self.lock:
            if self._thread is not None and self._thread.is_alive():
                if self.status == "playing":
                    return
        self.pause()  # a step in progress gives way to play
        with self.lock:
            self._check_failed("play")
            if len(self.F_train) == 0:
                raise schema.SchemaError("play: there are no training points")
            self.status, self.stop_reason = "playing", None
            self._start(None, None)
            self.version += 1

    def _start(self, target, deadline):
        self._stop.clear()
        self._deadline = deadline
        self._thread = threading.Thread(target=self._run, args=(target, deadline),
                                        daemon=True, name="bricks-playground-train")
        self._thread.start()

    def _run(self, target, deadline):
        """The training thread: play (``target`` None) or a bounded step."""
        try:
            while not self._stop.is_set():
                if target is not None and self.epoch >= target:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if not self._train_epoch():
                    break
                with self.lock:
                    self.version += 1
                    if target is None and self._check_stop():
                        break
                time.sleep(0)  # let a waiting request take the lock between epochs
        except Exception as err:  # a dead thread must not leave the page "playing"
            with self.lock:
                self.failure = f"{type(err).__name__}: {err}"
                self.stop_reason = f"error: {self.failure}"
                self.status = "stopped"
                self.version += 1
        finally:
            with self.lock:
                if self.status in ("playing", "stepping"):
                    self.status = "paused"
                    self.version += 1

    def pause(self) -> None:
        """Stop the background training (play or step) within a slice of mini-batches."""
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=30)
        with self.lock:
            self._thread = None
            if self.status in ("playing", "stepping"):
                self.status = "paused"
                self.version += 1

    @property
    def training_thread(self):
        """The thread training now (play or step), or None."""
        return self._thread

    def is_running(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def wait(self, timeout=None) -> None:
        """Block until a playing session stops by itself (target loss, max epochs)."""
        t = self._thread
        if t is not None:
            t.join(timeout)

    def reset(self) -> None:
        """New initial weights (the same seed gives the same weights), epoch 0, data kept."""
        self.pause()
        with self.lock:
            self._build_model()
            self.status = "paused"

    def close(self) -> None:
        self.pause()

    # ------------------------------------------------------------- commands
    def update_config(self, update) -> str:
        """Apply a partial config; returns what it reset: "none", "model" or "data"."""
        with self.lock:
            new = schema.validate_config(update, self.config)
        changed = {k for k in new if new[k] != self.config[k]}
        data_change = changed & set(schema.DATA_KEYS)
        model_change = changed & set(schema.MODEL_KEYS)
        if new["dataset"] == "custom" and self.config["dataset"] == "custom":
            data_change &= {"train_ratio", "seed"}
        if new["loss"] == "cross_entropy" and self.task == "regression" \
                and not data_change:
            raise schema.SchemaError("loss: cross_entropy needs a classification data set "
                                     "(these points are regression; use mse)")
        if not data_change and not model_change:
            with self.lock:
                self.config = new
                self._apply_live(changed)
                self.version += 1
            return "none"
        self.pause()
        with self.lock:
            self.config = new
            if data_change:
                if new["dataset"] == "custom":
                    if len(self.y):
                        self.is_test = split_mask(len(self.y), new["train_ratio"], new["seed"])
                    self._set_data(self.X, self.y, self.is_test, self.task, self.n_classes)
                else:
                    self._generate_data()
            else:
                self._features_changed()
            self._build_model()
            self.status = "paused"
        return "data" if data_change else "model"

    def _replace_custom(self, X, y, is_test, task, n_classes):
        """Switch to custom data; rebuild the model only when its output size changes."""
        self.pause()
        with self.lock:
            old_outputs = self.n_outputs
            old_task = self.task
            self.config = dict(self.config, dataset="custom")
            if task == "regression" and self.config["loss"] == "cross_entropy":
                self.config["loss"] = "mse"
            self._set_data(X, y, is_test, task, n_classes)
            if self.n_outputs != old_outputs or task != old_task:
                self._build_model()
            else:
                self._evaluate()
            self.status = "paused"

    def add_points(self, points) -> None:
        """Add ``(x1, x2, label, is_test)`` points (already validated) to the data."""
        with self.lock:
            if self.task == "regression":
                labels = [float(p[2]) for p in points]
                y_new = xp.asarray(labels, dtype=xp.float32)
            else:
                y_new = xp.asarray([int(p[2]) for p in points], dtype=xp.int64)
            total = len(self.y) + len(points)
            if total > schema.LIMITS["max_total_points"]:
                raise schema.SchemaError(
                    f"points: at most {schema.LIMITS['max_total_points']} points in a "
                    f"session, would have {total}")
            X = xp.concatenate([self.X, xp.asarray([p[:2] for p in points],
                                                   dtype=xp.float32)])
            y = xp.concatenate([self.y.astype(y_new.dtype), y_new])
            is_test = xp.concatenate([self.is_test, xp.asarray([p[3] for p in points],
                                                               dtype=bool)])
            k = (max(self.n_classes, int(y_new.max()) + 1)
                 if self.task == "classification" else 1)
            task = self.task
        self._replace_custom(X, y, is_test, task, k)

    def clear_points(self) -> None:
        """Remove every point (an empty custom data set to draw on)."""
        with self.lock:
            task, k = self.task, self.n_classes
            dtype = self.y.dtype
        self._replace_custom(xp.zeros((0, 2), dtype=xp.float32), xp.zeros(0, dtype=dtype),
                             xp.zeros(0, dtype=bool), task, max(k, 2) if task ==
                             "classification" else 1)

    def load_rows(self, rows, task, has_split) -> None:
        """Replace the data by parsed CSV rows ``(x1, x2, label, is_test)``."""
        X = xp.asarray([r[:2] for r in rows], dtype=xp.float32)
        if task == "classification":
            y = xp.asarray([r[2] for r in rows], dtype=xp.int64)
            k = max(2, int(y.max()) + 1)
        else:
            y = xp.asarray([r[2] for r in rows], dtype=xp.float32)
            k = 1
        if has_split:
            is_test = xp.asarray([r[3] for r in rows], dtype=bool)
        else:
            is_test = split_mask(len(rows), self.config["train_ratio"],
                                 self.config["seed"])
        self._replace_custom(X, y, is_test, task, k)

    def set_weight(self, layer: int, i: int, j: int | None, value: float) -> None:
        """Set one weight (``j`` given) or bias (``j`` None) of Linear layer ``layer``."""
        with self.lock:
            lin = self.linears[layer]
            if j is None:
                lin.bias.data[i] = value
            else:
                lin.weight.data[i, j] = value
            self._evaluate_no_history()
            self.version += 1

    def _evaluate_no_history(self):
        h = self.history
        n = len(h["epoch"])
        self._evaluate()
        for key in h:
            del h[key][n:]

    def weight_shapes(self) -> list[tuple[int, int]]:
        with self.lock:
            return [tuple(lin.weight.shape) for lin in self.linears]

    # ------------------------------------------------------------- frames
    def heatmap_frame(self) -> bytes:
        """The output heatmap as a compact binary frame (:func:`frames.heatmap_frame`)."""
        return frames.heatmap_frame(self)

    def snapshot(self, heatmap: bool = True) -> dict:
        """The page's ``state`` frame (:func:`frames.state_frame`)."""
        with self.lock:
            return frames.state_frame(self, heatmap)

    def formulas(self) -> list[list[str]]:
        """A formula per neuron with the current weights, e.g. ``h1_0 = tanh(0.5*x1 + 0.1)``."""
        with self.lock:
            return frames.formulas(self)

    def summary(self) -> dict:
        with self.lock:
            return {"status": self.status, "epoch": self.epoch,
                    "stop_reason": self.stop_reason}

    # --------------------------------------------------------------- export
    def export(self, kind: str):
        """A download: ``"script"`` (a runnable bricks script that rebuilds this data, model
        and optimizer), ``"weights"`` (the state_dict as safetensors bytes, read with
        ``bricks.io.load``) or ``"data"`` (the points as CSV ``x1,x2,label,split``)."""
        if kind not in export.DOWNLOADS:
            raise schema.SchemaError(f"export: unknown kind {kind!r} (expected "
                                     f"{', '.join(export.DOWNLOADS)})", 404)
        with self.lock:
            return export.DOWNLOADS[kind][0](self)
