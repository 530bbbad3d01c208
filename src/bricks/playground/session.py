"""One playground session: data, model, optimizer, the training loop and the page's state.

A :class:`Session` turns a validated config (see :mod:`bricks.playground.schema`) into a
data set, a bricks MLP and an optimizer, trains it an epoch at a time with bricks' one
training loop, :meth:`bricks.train.Trainer.train_epoch` (``step``, or a background thread
between ``play`` and ``pause``), and answers the page with a
:meth:`Session.snapshot`: losses, accuracy, confusion matrix, the output heatmap over the
plane, a thumbnail and a formula per neuron, the weights and the per-layer gradient norms.
Every public method takes the session's lock, so commands from the server land between
epochs. Speed: a step is a handful of bricks ops on a 10-row batch, so the loop keeps
everything else out of it (features are precomputed arrays, the evaluation and the
heatmap are single batched forwards under ``no_grad``).
"""

from __future__ import annotations

import io
import math
import struct
import threading
import time

import bricks
import bricks.nn as nn
import bricks.optim as optim
from bricks.backend import xp
from bricks.data import datasets
from bricks.playground import schema
from bricks.train import Trainer
from bricks.train.callbacks import NaNGuard, TrainingDiverged

__all__ = ["Session", "make_dataset", "feature_matrix"]

_HISTORY_POINTS = 500
_THUMB = 25
_SLICE = 0.02  # seconds of mini-batches per hold of the session lock

_ACTIVATION_MODULES = {
    "tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": nn.Identity,
    "leaky_relu": nn.LeakyReLU, "prelu": nn.PReLU, "elu": nn.ELU, "selu": nn.SELU,
    "gelu": nn.GELU, "silu": nn.SiLU, "mish": nn.Mish, "softplus": nn.Softplus,
    "softsign": nn.Softsign, "hardtanh": nn.Hardtanh, "step": nn.Step,
}
_ACTIVATION_CODE = {
    "tanh": "nn.Tanh()", "relu": "nn.ReLU()", "sigmoid": "nn.Sigmoid()",
    "linear": "nn.Identity()", "leaky_relu": "nn.LeakyReLU()", "prelu": "nn.PReLU()",
    "elu": "nn.ELU()", "selu": "nn.SELU()", "gelu": "nn.GELU()", "silu": "nn.SiLU()",
    "mish": "nn.Mish()", "softplus": "nn.Softplus()", "softsign": "nn.Softsign()",
    "hardtanh": "nn.Hardtanh()", "step": "nn.Step()",
}
# Initializer name -> (function name in bricks.nn.init, extra keyword arguments).
_INITIALIZERS = {
    "xavier_uniform": ("xavier_uniform_", {}), "xavier_normal": ("xavier_normal_", {}),
    "kaiming_uniform": ("kaiming_uniform_", {"nonlinearity": "relu"}),
    "kaiming_normal": ("kaiming_normal_", {"nonlinearity": "relu"}),
    "orthogonal": ("orthogonal_", {}), "uniform": ("uniform_", {"a": -0.5, "b": 0.5}),
    "normal": ("normal_", {"std": 0.5}), "trunc_normal": ("trunc_normal_", {"std": 0.5}),
}
_FEATURE_CODE = {
    "x1": "X[:, 0]", "x2": "X[:, 1]", "x1sq": "X[:, 0] ** 2", "x2sq": "X[:, 1] ** 2",
    "x1x2": "X[:, 0] * X[:, 1]", "sinx1": "xp.sin(X[:, 0])", "sinx2": "xp.sin(X[:, 1])",
}
_FEATURE_TEXT = {"x1": "x1", "x2": "x2", "x1sq": "x1^2", "x2sq": "x2^2", "x1x2": "x1*x2",
                 "sinx1": "sin(x1)", "sinx2": "sin(x2)"}


def feature_matrix(X, features):
    """The input features (X1, X2, X1², X2², X1·X2, sin X1, sin X2) of points ``X`` (n, 2)."""
    x1, x2 = X[:, 0], X[:, 1]
    cols = {"x1": lambda: x1, "x2": lambda: x2, "x1sq": lambda: x1 * x1,
            "x2sq": lambda: x2 * x2, "x1x2": lambda: x1 * x2, "sinx1": lambda: xp.sin(x1),
            "sinx2": lambda: xp.sin(x2)}
    return xp.stack([cols[f]() for f in features], axis=1).astype(xp.float32)


def _make_blobs(n, noise, seed, k):
    """k Gaussian blobs on a circle of radius 3.5 (k-class "gaussians")."""
    rng = xp.random.default_rng(seed)
    y = xp.arange(n) % k
    angle = 2 * math.pi * y / k
    centers = 3.5 * xp.stack([xp.cos(angle), xp.sin(angle)], axis=1)
    X = centers + rng.standard_normal((n, 2)) * (0.6 + 3 * noise)
    X = xp.clip(X, -schema.DOMAIN, schema.DOMAIN)
    order = rng.permutation(n)
    return X[order].astype(xp.float32), y[order].astype(xp.int64)


def make_dataset(name, n, noise, seed, n_classes=2):
    """Points ``X`` (n, 2) in [-6, 6]² and labels ``y`` of a playground data set.

    ``noise`` is the fraction in [0, 0.5] (the page's percent / 100). Returns
    ``(X, y, task, k)`` with task ``"classification"`` or ``"regression"`` and ``k`` the
    number of classes (1 for regression).
    """
    if name == "moons":
        X, y = datasets.make_moons(n, noise=noise, seed=seed)
        # scikit-learn's moons live in [-1, 2] x [-0.5, 1]; stretch them onto the plane
        # (noise is jitter, so clip the rare point that would leave it).
        X = (X - xp.asarray([0.5, 0.25], dtype=xp.float32)) * 3.5
        X = xp.clip(X, -schema.DOMAIN, schema.DOMAIN).astype(xp.float32)
        return X, y, "classification", 2
    if name == "blobs":
        X, y = _make_blobs(n, noise, seed, n_classes)
        return X, y, "classification", n_classes
    if name == "spiral":
        X, y = datasets.make_spiral(n, noise=noise, seed=seed, n_classes=n_classes)
        X = xp.clip(X, -schema.DOMAIN, schema.DOMAIN)
        return X, y, "classification", n_classes
    maker = {"circle": datasets.make_circle, "xor": datasets.make_xor,
             "gauss": datasets.make_gauss, "plane": datasets.make_plane,
             "multi_gauss": datasets.make_multi_gauss}[name]
    X, y = maker(n, noise=noise, seed=seed)
    task = "regression" if name in schema.REGRESSION_DATASETS else "classification"
    return X, y, task, (1 if task == "regression" else 2)


def _split(n, ratio, seed):
    """A boolean is_test mask with round(n * ratio / 100) training points, by ``seed``."""
    n_train = int(round(n * ratio / 100))
    order = xp.random.default_rng(seed + 1).permutation(n)
    is_test = xp.ones(n, dtype=bool)
    is_test[order[:n_train]] = False
    return is_test


def _finite(v):
    return v if v is not None and math.isfinite(v) else None


def _rounded(a, decimals=4):
    """A nested list of ``a`` rounded in float64 (float32 would print 0.12340000271...)."""
    return xp.round(xp.asarray(a, dtype=xp.float64), decimals).tolist()


def _fmt(w):
    return f"{w:.3g}"


class Session:
    """A playground training session (the server keeps one per browser tab).

    Args:
        config: a partial or full config (validated with :func:`schema.validate_config`).
        data: optional ``(X, y, is_test, task, n_classes)`` to train on instead of
            generating the config's data set (compare mode passes a copy of another
            session's data).
    """

    def __init__(self, config=None, data=None):
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
        self._set_data(X, y, _split(len(y), c["train_ratio"], c["seed"]), task, k)

    def _set_data(self, X, y, is_test, task, n_classes):
        self.X, self.y, self.is_test = X.astype(xp.float32), y, is_test.astype(bool)
        self.task, self.n_classes = task, int(n_classes)
        self.data_version += 1
        self.version += 1
        self._features_changed()

    def _features_changed(self):
        feats = self.config["features"]
        self.X_train, self.X_test = self.X[~self.is_test], self.X[self.is_test]
        self.y_train, self.y_test = self.y[~self.is_test], self.y[self.is_test]
        self.F_train = feature_matrix(self.X_train, feats)
        self.F_test = feature_matrix(self.X_test, feats)
        self.T_train = self._targets(self.y_train)
        self.T_test = self._targets(self.y_test)

    def _targets(self, y):
        """Targets in the form the loss wants (per task and loss)."""
        if self.task == "regression":
            return y.astype(xp.float32)[:, None]
        if self.n_classes == 2:
            if self.config["loss"] == "mse":
                return (2.0 * y - 1.0).astype(xp.float32)[:, None]
            return y.astype(xp.float32)[:, None]
        if self.config["loss"] == "cross_entropy":
            return y.astype(xp.int64)
        return xp.eye(self.n_classes, dtype=xp.float32)[y.astype(xp.int64)]

    def data_message(self) -> dict:
        """The page's ``data`` message: every point with its label and split."""
        with self.lock:
            def part(mask):
                return {"x": _rounded(self.X[mask]),
                        "y": (self.y[mask].tolist() if self.task == "classification"
                              else _rounded(self.y[mask]))}
            return {"type": "data", "version": self.data_version, "task": self.task,
                    "n_classes": self.n_classes if self.task == "classification" else 1,
                    "domain": [-schema.DOMAIN, schema.DOMAIN],
                    "train": part(~self.is_test), "test": part(self.is_test)}

    def data_tuple(self):
        """``(X, y, is_test, task, n_classes)``: copies, for a compare session."""
        with self.lock:
            return self.X.copy(), self.y.copy(), self.is_test.copy(), self.task, self.n_classes

    # ---------------------------------------------------------------- model
    @property
    def n_outputs(self):
        if self.task == "regression" or self.n_classes == 2:
            return 1
        return self.n_classes

    def _build_model(self):
        c = self.config
        rng = xp.random.default_rng(c["seed"] + 7)
        sizes = [len(c["features"])] + c["hidden"] + [self.n_outputs]
        layers, self.linears, self._capture = [], [], []
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            lin = nn.Linear(n_in, n_out)
            self._init_linear(lin, rng)
            layers.append(lin)
            self.linears.append(lin)
            if k == len(sizes) - 2:
                break
            if c["batch_norm"][k]:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(_ACTIVATION_MODULES[c["activation"][k]]())
            if c["dropout"][k] > 0:
                layers.append(nn.Dropout(c["dropout"][k]))
            self._capture.append(len(layers) - 1)
        self.model = nn.Sequential(*layers)
        self.weights = [lin.weight for lin in self.linears]
        self.epoch = 0
        self.history = {"epoch": [], "train_loss": [], "test_loss": []}
        self.train_loss = self.test_loss = None
        self.grad_norms = [0.0] * len(self.linears)
        self.stop_reason = None
        self.failure = None
        self._batch_rng = xp.random.default_rng(c["seed"] + 11)
        self._build_optimizer()
        self._evaluate()
        self.version += 1

    def _init_linear(self, lin, rng):
        c = self.config
        with bricks.no_grad():
            if c["zero_init"]:
                nn.init.zeros_(lin.weight)
            else:
                name, kwargs = _INITIALIZERS[c["init"]]
                getattr(nn.init, name)(lin.weight, generator=rng, **kwargs)
            nn.init.zeros_(lin.bias)

    def _build_optimizer(self):
        c = self.config
        params = list(self.model.parameters())
        lr, name = c["learning_rate"], c["optimizer"]
        if name == "sgd":
            self.optimizer = optim.SGD(params, lr=lr)
        elif name == "momentum":
            self.optimizer = optim.SGD(params, lr=lr, momentum=c["momentum"])
        elif name == "nesterov":
            self.optimizer = optim.SGD(params, lr=lr, momentum=max(c["momentum"], 1e-3),
                                       nesterov=True)
        elif name == "adagrad":
            self.optimizer = optim.Adagrad(params, lr=lr)
        elif name == "rmsprop":
            self.optimizer = optim.RMSprop(params, lr=lr)
        elif name == "adadelta":
            self.optimizer = optim.Adadelta(params, lr=lr)
        elif name == "adam":
            self.optimizer = optim.Adam(params, lr=lr)
        elif name == "adamw":
            self.optimizer = optim.AdamW(params, lr=lr)
        else:
            self.optimizer = optim.LBFGS(params, lr=lr, max_iter=20,
                                         line_search_fn="strong_wolfe")
        # bricks' one training loop; a diverging loss ends the session's run ("diverged").
        guard = NaNGuard(raise_error=True)
        self.trainer = Trainer(self.model, self._objective, self.optimizer,
                               callbacks=[guard], verbose=False)
        guard.on_train_begin({})  # training begins when the network is built

    def _apply_live(self):
        c = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = c["learning_rate"]
            if c["optimizer"] in ("momentum", "nesterov"):
                group["momentum"] = max(c["momentum"], 1e-3)

    # ------------------------------------------------------------ training
    def _output(self, z):
        """The model's prediction from its raw output (the loss's view of it)."""
        if self.task == "regression":
            return z
        if self.n_classes == 2:
            return z.tanh() if self.config["loss"] == "mse" else z
        return z.softmax(dim=1) if self.config["loss"] == "mse" else z

    def _loss(self, z, target):
        out = self._output(z)
        if self.task == "classification" and self.config["loss"] == "cross_entropy":
            if self.n_classes == 2:
                loss = nn.functional.binary_cross_entropy_with_logits(out, target)
            else:
                loss = nn.functional.cross_entropy(out, target)
        else:
            loss = nn.functional.mse_loss(out, target)
        return loss

    def _penalty(self):
        c = self.config
        if c["regularization"] == "none" or c["reg_rate"] == 0:
            return None
        pen = nn.l1_penalty if c["regularization"] == "l1" else nn.l2_penalty
        return pen(self.weights) * c["reg_rate"]

    def _objective(self, z, target):
        """What training minimizes: the loss of the outputs ``z`` plus the penalty."""
        loss = self._loss(z, target)
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
            if self.config["optimizer"] in schema.FULL_BATCH_OPTIMIZERS:
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
                v = float(self._loss(z[sl], bricks.tensor(T)).item())
                losses.append(v if math.isfinite(v) else None)
        self.train_loss, self.test_loss = losses
        zd = z.data
        if self.task == "classification":
            pred = (zd[:, 0] > 0).astype(xp.int64) if self.n_classes == 2 else zd.argmax(1)
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
                self._apply_live()
                self.version += 1
            return "none"
        self.pause()
        with self.lock:
            self.config = new
            if data_change:
                if new["dataset"] == "custom":
                    if len(self.y):
                        self.is_test = _split(len(self.y), new["train_ratio"], new["seed"])
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
            is_test = _split(len(rows), self.config["train_ratio"], self.config["seed"])
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

    # ------------------------------------------------------------- snapshot
    def _grid(self, size):
        g = xp.linspace(-schema.DOMAIN, schema.DOMAIN, size, dtype=xp.float32)
        x1 = xp.tile(g, size)
        x2 = xp.repeat(g[::-1], size)
        return xp.stack([x1, x2], axis=1)

    def _confusion(self, y, pred):
        k = self.n_classes
        m = xp.zeros((k, k), dtype=xp.int64)
        xp.add.at(m, (y.astype(xp.int64), pred), 1)
        return m.tolist()

    def _heatmap_values(self, od):
        """(values, labels or None, vmin, vmax) of the heatmap from the output probabilities."""
        if self.task == "regression":
            return (od[:, 0], None, float(min(-1.0, self.y.min(initial=-1.0))),
                    float(max(1.0, self.y.max(initial=1.0))))
        if self.n_classes == 2:
            values = (od[:, 0] + 1) / 2 if self.config["loss"] == "mse" else od[:, 0]
            return values, None, 0.0, 1.0
        return od.max(1), od.argmax(1), 0.0, 1.0

    def heatmap_frame(self) -> bytes:
        """The output heatmap as a compact binary frame (docs/playground-protocol.md).

        Little-endian: ``b"BKH1"``, u32 epoch, u32 data_version, u16 size, u8 flags (1 =
        labels follow), u8 0, f32 vmin, f32 vmax, then ``size*size`` u8 values (0..255
        over vmin..vmax, row-major, row 0 at the top), then as many u8 class labels for
        k classes. 2.5 KB for the default 50x50 map against ~73 KB of JSON state.
        """
        with self.lock:
            c = self.config
            size = c["heatmap_size"]
            key = (size, tuple(c["features"]))
            if self._grid_cache[0] != key:
                self._grid_cache = (key, bricks.tensor(feature_matrix(self._grid(size),
                                                                      c["features"])))
            self.model.eval()
            with bricks.no_grad():
                out = self._output(self.model(self._grid_cache[1]))
                if self.task == "classification" and c["loss"] == "cross_entropy":
                    out = out.sigmoid() if self.n_classes == 2 else out.softmax(dim=1)
            values, labels, vmin, vmax = self._heatmap_values(out.data)
            epoch, data_version = self.epoch, self.data_version
        scaled = (values.astype(xp.float64) - vmin) * (255.0 / ((vmax - vmin) or 1.0))
        body = xp.clip(xp.rint(xp.nan_to_num(scaled)), 0, 255).astype(xp.uint8).tobytes()
        if labels is not None:
            body += labels.astype(xp.uint8).tobytes()
        head = struct.pack("<4sIIHBBff", b"BKH1", epoch & 0xFFFFFFFF, data_version,
                           size, 1 if labels is not None else 0, 0, vmin, vmax)
        return head + body

    def snapshot(self, heatmap: bool = True) -> dict:
        """The page's ``state`` frame (docs/playground-protocol.md).

        With ``heatmap=False`` the heatmap's ``values`` and ``labels`` are left out (the
        page gets them from :meth:`heatmap_frame`, 25x smaller).
        """
        with self.lock:
            c = self.config
            size = c["heatmap_size"]
            G = feature_matrix(self._grid(size), c["features"])
            self.model.eval()
            acts = [G]
            with bricks.no_grad():
                h = bricks.tensor(G)
                for k, mod in enumerate(self.model):
                    h = mod(h)
                    if k in self._capture:
                        acts.append(h.data)
                out = self._output(h)
                if self.task == "classification" and c["loss"] == "cross_entropy":
                    out = out.sigmoid() if self.n_classes == 2 else out.softmax(dim=1)
            od = out.data
            values, labels, vmin, vmax = self._heatmap_values(od)
            labels = None if labels is None else labels.tolist()
            acts.append(od if self.n_classes > 2 and self.task == "classification"
                        else values[:, None])
            t = min(_THUMB, size)
            pick = xp.round(xp.linspace(0, size - 1, t)).astype(xp.int64)
            cells = (pick[:, None] * size + pick[None, :]).ravel()
            thumbs = [_rounded(a[cells].T, 3) for a in acts]
            classif = self.task == "classification"
            n_tr = len(self.y_train)
            frame = {
                "type": "state", "epoch": self.epoch, "status": self.status,
                "stop_reason": self.stop_reason, "data_version": self.data_version,
                "train_loss": _finite(self.train_loss), "test_loss": _finite(self.test_loss),
                "train_accuracy": (float((self._pred_train == self.y_train).mean())
                                   if classif and n_tr else None),
                "test_accuracy": (float((self._pred_test == self.y_test).mean())
                                  if classif and len(self.y_test) else None),
                "confusion": ({"train": self._confusion(self.y_train, self._pred_train),
                               "test": self._confusion(self.y_test, self._pred_test)}
                              if classif else None),
                "history": self._thinned_history(),
                "layers": [len(c["features"])] + c["hidden"] + [self.n_outputs],
                "features": list(c["features"]),
                "heatmap": ({"size": size, "domain": [-schema.DOMAIN, schema.DOMAIN],
                             "values": _rounded(values),
                             "labels": labels, "vmin": vmin, "vmax": vmax} if heatmap else
                            {"size": size, "domain": [-schema.DOMAIN, schema.DOMAIN],
                             "binary": True, "vmin": vmin, "vmax": vmax}),
                "neurons": {"size": t, "layers": thumbs},
                "formulas": self.formulas(),
                "weights": [{"w": _rounded(lin.weight.data),
                             "b": _rounded(lin.bias.data)}
                            for lin in self.linears],
                "grad_norms": [_finite(g) for g in self.grad_norms],
                "learning_rate": c["learning_rate"],
            }
            return frame

    def _thinned_history(self):
        h = self.history
        n = len(h["epoch"])
        if n <= _HISTORY_POINTS:
            idx = range(n)
        else:
            idx = sorted(set(xp.linspace(0, n - 1, _HISTORY_POINTS).round().astype(int)
                             .tolist()))
        return {key: [(_finite(h[key][i]) if key != "epoch" else h[key][i]) for i in idx]
                for key in h}

    def formulas(self) -> list[list[str]]:
        """A formula per neuron with the current weights, e.g. ``h1_0 = tanh(0.5*x1 + 0.1)``."""
        c = self.config
        names = [_FEATURE_TEXT[f] for f in c["features"]]
        out = [list(names)]
        n_hidden = len(c["hidden"])
        for k, lin in enumerate(self.linears):
            W, b = lin.weight.data, lin.bias.data
            layer = []
            new_names = []
            for i in range(W.shape[0]):
                terms = " ".join(f"{'-' if w < 0 else '+'} {_fmt(abs(w))}*{n}"
                                 for w, n in zip(W[i].tolist(), names))
                terms = terms[2:] if terms.startswith("+ ") else "-" + terms[2:]
                s = f"{terms} {'-' if b[i] < 0 else '+'} {_fmt(abs(float(b[i])))}"
                if k < n_hidden:
                    if c["batch_norm"][k]:
                        s = f"BN({s})"
                    name = f"h{k + 1}_{i}"
                    layer.append(f"{name} = {c['activation'][k]}({s})")
                else:
                    name = "out" if W.shape[0] == 1 else f"out_{i}"
                    fn = self._output_name()
                    layer.append(f"{name} = {fn}({s})" if fn else f"{name} = {s}")
                new_names.append(name)
            out.append(layer)
            names = new_names
        return out

    def _output_name(self):
        if self.task == "regression":
            return ""
        if self.n_classes == 2:
            return "tanh" if self.config["loss"] == "mse" else "sigmoid"
        return "softmax"

    def summary(self) -> dict:
        with self.lock:
            return {"status": self.status, "epoch": self.epoch,
                    "stop_reason": self.stop_reason}

    # --------------------------------------------------------------- export
    def export_weights(self) -> bytes:
        """The model's ``state_dict`` as safetensors bytes (read with ``bricks.io.load``)."""
        from safetensors.numpy import save as st_save

        with self.lock:
            # xp.array, not ascontiguousarray: that one turns a 0-d buffer (batch norm's
            # num_batches_tracked) into shape (1,), which load_state_dict then refuses.
            state = {k: xp.array(v.data, order="C") for k, v in
                     self.model.state_dict().items()}
            meta = {"format": "bricks", "source": "bricks playground",
                    "features": ",".join(self.config["features"]),
                    "epoch": str(self.epoch)}
        return st_save(state, metadata=meta)

    def export_data(self) -> str:
        """Train and test points as CSV: ``x1,x2,label,split``."""
        with self.lock:
            buf = io.StringIO()
            buf.write("x1,x2,label,split\n")
            for (x1, x2), y, t in zip(self.X.tolist(), self.y.tolist(),
                                      self.is_test.tolist()):
                label = y if self.task == "classification" else f"{y:.6g}"
                buf.write(f"{x1:.6g},{x2:.6g},{label},{'test' if t else 'train'}\n")
            return buf.getvalue()

    def export_script(self) -> str:
        """A runnable bricks script that rebuilds this data, model and optimizer and trains."""
        with self.lock:
            return _script(self)


def _script(s: Session) -> str:
    c = s.config
    # The points exactly as the session holds them (float32 values round-trip through
    # their shortest repr), so the loaded weights reproduce the playground's numbers.
    X_tr = s.X_train.tolist()
    X_te = s.X_test.tolist()
    cast = lambda v: v.tolist()  # noqa: E731
    sizes = [len(c["features"])] + c["hidden"] + [s.n_outputs]
    lines = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        lines.append(f"    nn.Linear({n_in}, {n_out}),")
        if k == len(sizes) - 2:
            break
        if c["batch_norm"][k]:
            lines.append(f"    nn.BatchNorm1d({n_out}),")
        lines.append(f"    {_ACTIVATION_CODE[c['activation'][k]]},")
        if c["dropout"][k] > 0:
            lines.append(f"    nn.Dropout({c['dropout'][k]}),")
    init_name, init_kwargs = _INITIALIZERS[c["init"]]
    kw = "".join(f", {k}={v!r}" for k, v in init_kwargs.items())
    if c["zero_init"]:
        init_line = "        nn.init.zeros_(m.weight)"
    else:
        init_line = f"        nn.init.{init_name}(m.weight{kw}, generator=rng)"
    opt = {
        "sgd": "optim.SGD(model.parameters(), lr=LR)",
        "momentum": f"optim.SGD(model.parameters(), lr=LR, momentum={c['momentum']})",
        "nesterov": (f"optim.SGD(model.parameters(), lr=LR, momentum="
                     f"{max(c['momentum'], 1e-3)}, nesterov=True)"),
        "adagrad": "optim.Adagrad(model.parameters(), lr=LR)",
        "rmsprop": "optim.RMSprop(model.parameters(), lr=LR)",
        "adadelta": "optim.Adadelta(model.parameters(), lr=LR)",
        "adam": "optim.Adam(model.parameters(), lr=LR)",
        "adamw": "optim.AdamW(model.parameters(), lr=LR)",
        "lbfgs": ("optim.LBFGS(model.parameters(), lr=LR, max_iter=20, "
                  "line_search_fn='strong_wolfe')"),
    }[c["optimizer"]]
    feats = ", ".join(_FEATURE_CODE[f] for f in c["features"])
    if s.task == "regression":
        target = "y.astype(xp.float32)[:, None]"
        loss = "F.mse_loss(z, t)"
    elif s.n_classes == 2 and c["loss"] == "mse":
        target = "(2.0 * y - 1.0).astype(xp.float32)[:, None]"
        loss = "F.mse_loss(z.tanh(), t)"
    elif s.n_classes == 2:
        target = "y.astype(xp.float32)[:, None]"
        loss = "F.binary_cross_entropy_with_logits(z, t)"
    elif c["loss"] == "mse":
        target = f"xp.eye({s.n_classes}, dtype=xp.float32)[y]"
        loss = "F.mse_loss(z.softmax(dim=1), t)"
    else:
        target = "y.astype(xp.int64)"
        loss = "F.cross_entropy(z, t)"
    if c["regularization"] != "none" and c["reg_rate"] > 0:
        pen = "l1_penalty" if c["regularization"] == "l1" else "l2_penalty"
        penalty = (f"    loss = loss + {c['reg_rate']!r} * nn.{pen}"
                   f"([m.weight for m in model if isinstance(m, nn.Linear)])\n")
    else:
        penalty = ""
    if s.task == "classification":
        pred = ("(zt.data[:, 0] > 0).astype(xp.int64)" if s.n_classes == 2
                else "zt.data.argmax(1)")
        metric = ("        acc = float((" + pred + " == y_test).mean()) if len(y_test) "
                  "else float('nan')\n"
                  '        print(f"epoch {epoch}: train loss {tr:.4f}, test loss {te:.4f}, '
                  'test accuracy {acc:.3f}")')
    else:
        metric = '        print(f"epoch {epoch}: train loss {tr:.4f}, test loss {te:.4f}")'
    if s.task == "classification":
        metric_loaded = ("    acc = float((" + pred + " == y_test).mean()) if len(y_test) "
                         "else float('nan')\n"
                         '    print(f"loaded {path}: train loss {tr!r}, test loss {te!r}, '
                         'test accuracy {acc!r}")')
    else:
        metric_loaded = '    print(f"loaded {path}: train loss {tr!r}, test loss {te!r}")'
    if c["optimizer"] in schema.FULL_BATCH_OPTIMIZERS:
        loop = """        def closure():
            optimizer.zero_grad()
            loss = objective(F_train, T_train)
            loss.backward()
            return loss
        optimizer.step(closure)
"""
    else:
        loop = f"""        order = rng.permutation(len(F_train))
        for s in range(0, len(order), {c['batch_size']}):
            idx = order[s:s + {c['batch_size']}]
            optimizer.zero_grad()
            loss = objective(F_train[idx], T_train[idx])
            loss.backward()
            optimizer.step()
"""
    ydt = "xp.int64" if s.task == "classification" else "xp.float32"
    return f'''"""A network exported from the bricks playground.

Data set: {c["dataset"]} ({len(s.y_train)} train / {len(s.y_test)} test points),
features: {", ".join(c["features"])}, hidden layers: {c["hidden"]},
optimizer: {c["optimizer"]}, learning rate: {c["learning_rate"]}, loss: {c["loss"]}.
Run: python this_script.py                 # load the exported weights, evaluate them
     python this_script.py --retrain --epochs 100   # train from new initial weights
The weights are the playground's "weights (.safetensors)" export, looked for next to this
script as bricks_playground.safetensors (or give --weights PATH).
"""

import argparse
import sys
from pathlib import Path

import bricks
import bricks.io
import bricks.nn as nn
import bricks.nn.functional as F
import bricks.optim as optim
from bricks.backend import xp

LR = {c["learning_rate"]!r}
SEED = {c["seed"]!r}

X_train = xp.asarray({X_tr!r}, dtype=xp.float32).reshape(-1, 2)
y_train = xp.asarray({cast(s.y_train)!r}, dtype={ydt})
X_test = xp.asarray({X_te!r}, dtype=xp.float32).reshape(-1, 2)
y_test = xp.asarray({cast(s.y_test)!r}, dtype={ydt})


def features(X):
    """The input features: {", ".join(c["features"])}."""
    return xp.stack([{feats}], axis=1).astype(xp.float32)


def targets(y):
    return {target}


def objective(F_batch, T_batch):
    z = model(bricks.tensor(F_batch))
    t = bricks.tensor(T_batch)
    loss = {loss}
{penalty}    return loss


model = nn.Sequential(
{chr(10).join(lines)}
)
rng = xp.random.default_rng(SEED)
with bricks.no_grad():
    for m in model:
        if not isinstance(m, nn.Linear):
            continue
{init_line}
        nn.init.zeros_(m.bias)
optimizer = {opt}

F_train, T_train = features(X_train), targets(y_train)
F_test, T_test = features(X_test), targets(y_test)


def evaluate(F_eval, T_eval):
    model.eval()
    with bricks.no_grad():
        z = model(bricks.tensor(F_eval))
        t = bricks.tensor(T_eval)
        value = float({loss}.item()) if len(F_eval) else float("nan")
    model.train()
    return value, z


def train(epochs):
    for epoch in range(1, epochs + 1):
        model.train()
{loop}        tr, _ = evaluate(F_train, T_train)
        te, zt = evaluate(F_test, T_test)
{metric}
    return model


def load_weights(path):
    """Put the playground's exported weights (a safetensors state_dict) into the model."""
    if not Path(path).is_file():
        print(f"no weights at {{path}}: download them from the playground (Export, "
              f"weights .safetensors), pass --weights PATH, or train with --retrain",
              file=sys.stderr)
        sys.exit(2)
    model.load_state_dict(bricks.io.load(path))
    tr, _ = evaluate(F_train, T_train)
    te, zt = evaluate(F_test, T_test)
{metric_loaded}
    return model


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(Path(__file__).with_name(
        "bricks_playground.safetensors")), help="the exported weights (safetensors)")
    parser.add_argument("--retrain", action="store_true",
                        help="train from new initial weights instead of loading them")
    parser.add_argument("--epochs", type=int, default=100, help="epochs with --retrain")
    args = parser.parse_args()
    if args.retrain:
        train(args.epochs)
    else:
        load_weights(args.weights)
'''
