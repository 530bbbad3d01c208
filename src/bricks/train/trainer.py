"""The training loop: ``fit``, ``evaluate`` and ``predict``.

One epoch of training is the lectures' loop, batch by batch::

    for x, y in batches:                  # shuffled anew each epoch
        optimizer.zero_grad()             # forget the last batch's gradients
        loss = loss_fn(model(x), y)       # forward: predictions and how wrong they are
        loss.backward()                   # backward: d loss / d every parameter
        optimizer.step()                  # update: e.g. w <- w - lr * grad

then the model is evaluated on the validation data (``model.eval()``, no gradients), the
numbers of the epoch go into a :class:`History`, the callbacks have their say (early
stopping, checkpoints, logs) and the learning-rate schedule takes a step.

Optimizers that re-evaluate the model several times per step (L-BFGS, BFGS, conjugate
gradients, Newton, Hessian-free) get the forward/backward pass as a *closure* instead:
``optimizer.step(closure)``.

Reproducibility: with ``seed=...`` the shuffle order comes from a generator seeded with
it and ``bricks.manual_seed(seed)`` seeds dropout and every other random op, so the same
seed, model initialization and data give the same History bit for bit.
"""

from __future__ import annotations

from bricks.autograd import no_grad
from bricks.backend import get_array_module, is_floating, manual_seed, to_numpy, xp
from bricks.data import DataLoader, TensorDataset
from bricks.distributed.fit import fit_hooks
from bricks.tensor import Tensor
from bricks.train.callbacks import Callback, LRSchedulerCallback, NaNGuard
from bricks.train.metrics import get_metric
from bricks.train.progress import EpochProgress


class History:
    """What happened in :func:`fit`, epoch by epoch (Keras' layout).

    Attributes:
        history: ``{'loss': [...], 'accuracy': [...], 'val_loss': [...], 'lr': [...]}``, one
            entry per epoch (metrics under their names, validation ones prefixed ``val_``).
        epoch: the epoch numbers, from 0.
        stopped_reason: why training ended before ``epochs`` (early stopping, a diverging
            loss), else ``None``.
    """

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []
        self.stopped_reason: str | None = None

    def append(self, epoch: int, logs: dict) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def __len__(self) -> int:
        return len(self.epoch)

    def to_dict(self) -> dict:
        """A JSON-able copy: ``{'epoch': [...], 'history': {...}, 'stopped_reason': ...}``."""
        return {"epoch": list(self.epoch),
                "history": {k: list(v) for k, v in self.history.items()},
                "stopped_reason": self.stopped_reason}

    @classmethod
    def from_dict(cls, state: dict) -> History:
        history = cls()
        history.epoch = list(state["epoch"])
        history.history = {k: list(v) for k, v in state["history"].items()}
        history.stopped_reason = state.get("stopped_reason")
        return history

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, keys={list(self.history)})"


# ---------------------------------------------------------------- data in, batches out
def _raw(a):
    return a.data if isinstance(a, Tensor) else xp.asarray(a)


def make_batches(data, batch_size: int = 32, shuffle: bool = False, generator=None):
    """A :class:`bricks.data.DataLoader` over ``data``: a DataLoader (used as it is, with
    its own batch size and shuffling), a Dataset, an ``(X, y)`` pair of arrays or Tensors,
    or inputs ``X`` alone (batches ``(x,)``, for :func:`predict`).

    ``generator`` draws the shuffle order (default: the global one, ``bricks.manual_seed``).
    """
    if isinstance(data, DataLoader) or (hasattr(data, "batch_size")
                                        and hasattr(data, "__iter__")):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = _raw(data[0]), _raw(data[1])
        if len(x) != len(y):
            raise ValueError(f"fit: X has {len(x)} samples but y has {len(y)}")
        data = TensorDataset(x, y)
    elif isinstance(data, Tensor) or hasattr(data, "ndim"):
        data = TensorDataset(_raw(data))
    elif not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise TypeError(f"expected a Dataset, a DataLoader or an (X, y) pair of arrays, "
                        f"got {type(data).__name__}")
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)


def _split(batch):
    """``(x, y)`` from a batch: a pair, or inputs alone (``y`` is then None)."""
    if isinstance(batch, (tuple, list)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


# ---------------------------------------------------------------- the trainer
class Trainer:
    """Trains ``model`` by minimizing ``loss_fn`` with ``optimizer``; :func:`fit` wraps it.

    Callbacks reach the run through it: ``trainer.model``, ``trainer.optimizer``,
    ``trainer.history``, and set ``trainer.stop_training = True`` to end it after the
    current batch.
    """

    def __init__(self, model, loss_fn, optimizer, metrics=None, callbacks=None,
                 scheduler=None, verbose: bool = True, compile: bool = False):  # noqa: A002
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        # A DistributedDataParallel model brings the hooks of data-parallel training (shards,
        # averaged gradients, numbers of all ranks, output on rank 0); any other: None.
        self.distributed = fit_hooks(model, optimizer)
        if self.distributed is not None:
            callbacks, verbose, compile = self.distributed.configure(callbacks, verbose,
                                                                     compile)
        # bricks.compile: the update is traced on the first batches of each shape and then
        # replayed as a plan (same numbers; falls back to eager with a warning if it can't).
        self._compiled = None
        if compile and not _needs_closure(optimizer):
            from bricks.symbolic import compile as compile_function

            self._compiled = compile_function(self._update)
        self.scheduler = scheduler
        self.generator = None  # the shuffle generator of a seeded run (checkpoints save it)
        self.metrics = [get_metric(m) for m in (metrics or [])]
        self.callbacks = list(callbacks or [])
        if scheduler is not None:
            # First, so that callbacks after it (ModelCheckpoint) see this epoch's step.
            self.callbacks.insert(0, LRSchedulerCallback(scheduler))
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"fit: callbacks must be Callback objects, got {cb!r}")
        if not any(isinstance(cb, NaNGuard) for cb in self.callbacks):
            self.callbacks.append(NaNGuard())  # never train on NaN silently
        for cb in self.callbacks:
            cb.set_trainer(self)
        self.verbose = verbose
        self.history = History()
        self.stop_training = False
        self.global_step = 0

    # -- one batch
    def _to_input(self, a):
        """A Tensor on the model's device; floating data converted to the model's dtype
        (NumPy gives float64)."""
        t = a if isinstance(a, Tensor) else Tensor(xp.asarray(a))
        param = next(iter(self.model.parameters()), None)
        if param is not None and is_floating(t.dtype) and t.dtype != param.dtype:
            t = t.to(param.dtype)
        if param is not None and type(t.data) is not type(param.data):
            t = t.to(param.device)  # a batch from the host for a model on a GPU
        return t

    def _update(self, x, y):
        self.optimizer.zero_grad()
        outputs = self.model(x)
        loss = self.loss_fn(outputs, y)
        loss.backward()
        if self.distributed is not None:
            loss = self.distributed.after_backward(loss)  # gradients averaged over ranks
        self.optimizer.step()
        return loss, outputs

    def train_step(self, x, y):
        """One update on the batch ``(x, y)``; returns ``(loss, outputs)`` before the update."""
        if self.distributed is not None and len(x) == 0:  # this rank's shard has run out
            return self.distributed.step_without_data(), x
        x, y = self._to_input(x), self._to_input(y)
        if not _needs_closure(self.optimizer):
            loss, outputs = (self._compiled or self._update)(x, y)
            return loss.item(), outputs.detach()

        first = []  # the first evaluation is at the parameters before the step

        def closure():
            self.optimizer.zero_grad()
            outputs = self.model(x)
            loss = self.loss_fn(outputs, y)
            # Newton and Hessian-free take their own derivatives
            if not _differentiates_itself(self.optimizer):
                loss.backward()
                if self.distributed is not None:  # averaged gradients, the global loss
                    loss = self.distributed.after_backward(loss)
            if not first:
                first.append((loss.item(), outputs.detach()))
            return loss

        self.optimizer.step(closure)
        return first[0]

    # -- one epoch
    def train_epoch(self, batches, epoch: int, progress=None) -> dict:
        """Train on every batch once; return the epoch's mean loss and metrics."""
        self.model.train()
        loss_sum, count, outputs, targets = 0.0, 0, [], []
        for step, batch in enumerate(batches):
            x, y = _split(batch)
            if y is None:
                raise ValueError("fit: the training data has no targets; pass (X, y)")
            loss, out = self.train_step(x, y)
            n = len(out)
            loss_sum, count = loss_sum + loss * n, count + n
            if self.metrics and n:  # metrics are computed on the host
                outputs.append(to_numpy(out.data))
                targets.append(to_numpy(_raw(y)))
            self.global_step += 1
            if progress is not None:
                progress.update(loss)
            for cb in self.callbacks:
                cb.on_batch_end(step, {"loss": loss, "epoch": epoch, "step": step,
                                       "global_step": self.global_step})
            if self.stop_training:
                break
        if self.distributed is not None:  # the sums and predictions of all ranks
            loss_sum, count, outputs, targets = self.distributed.reduce_epoch(
                loss_sum, count, outputs, targets)
        logs = {"loss": loss_sum / max(count, 1)}
        if self.metrics and outputs:
            logs.update(self._metrics(xp.concatenate(targets), xp.concatenate(outputs)))
        return logs

    def _metrics(self, y_true, y_pred, prefix: str = "") -> dict:
        logs = {}
        for name, fn in self.metrics:
            value = fn(y_true, y_pred)
            logs[prefix + name] = value.tolist() if hasattr(value, "tolist") else value
        return logs

    def fit(self, train_data, val_data=None, epochs: int = 1, batch_size: int = 32,
            shuffle: bool = True, seed: int | None = None, resume=None,
            initial_epoch: int = 0) -> History:
        """Train up to epoch ``epochs`` (fewer if a callback stops); see :func:`fit`.

        ``initial_epoch``: the first epoch to run (0-based), for a run whose state the caller
        restored itself (``bricks train --resume``); ``resume=PATH`` sets it from the file.
        """
        generator = None  # the global generator, seeded by bricks.manual_seed
        if seed is not None:
            manual_seed(seed)  # dropout and other random ops
            generator = xp.random.default_rng(seed)
        self.generator = generator
        start = initial_epoch
        if resume is not None:
            start = self._resume(resume)
        batches = make_batches(train_data, batch_size, shuffle, generator)
        if self.distributed is not None:
            batches = self.distributed.shard(batches)  # this rank's share of each batch
        self.stop_training = False
        for cb in self.callbacks:
            cb.on_train_begin({})
        for epoch in range(start, epochs):
            for cb in self.callbacks:
                cb.on_epoch_begin(epoch, {})
            lr = self.optimizer.param_groups[0]["lr"]  # the rate used in this epoch
            total = len(batches) if hasattr(batches, "__len__") else None
            progress = EpochProgress(epoch, epochs, total, self.verbose)
            try:
                logs = self.train_epoch(batches, epoch, progress)
                if val_data is not None:
                    val = evaluate(self.model, val_data, self.loss_fn,
                                   [fn for _, fn in self.metrics], batch_size,
                                   _names=self.metrics)
                    logs.update({"val_" + k: v for k, v in val.items()})
            except BaseException:  # a diverged batch, Ctrl-C: end the bar's line first
                progress.abort()
                raise
            logs["lr"] = float(lr)
            self.history.append(epoch, logs)
            progress.close(logs)
            for cb in self.callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in self.callbacks:
            cb.on_train_end({})
        return self.history


    def _resume(self, path) -> int:
        """Restore a ModelCheckpoint file (weights, optimizer, scheduler, history, random
        states); return the epoch to continue from."""
        from bricks.io import load_checkpoint

        generators = {"shuffle": self.generator} if self.generator is not None else None
        info = load_checkpoint(path, model=self.model, optimizer=self.optimizer,
                               scheduler=self.scheduler, generators=generators)
        if info.get("history") is not None:
            self.history = History.from_dict(info["history"])
        return 0 if info.get("epoch") is None else int(info["epoch"]) + 1


def _needs_closure(optimizer) -> bool:
    """L-BFGS, BFGS, CG, Newton and Hessian-free re-evaluate the model: step(closure)."""
    return getattr(optimizer, "requires_closure", False)


def _differentiates_itself(optimizer) -> bool:
    """Newton and Hessian-free differentiate the closure's loss themselves."""
    return not getattr(optimizer, "closure_does_backward", True)


# ---------------------------------------------------------------- the public functions
def fit(model, loss_fn, optimizer, train_data, val_data=None, epochs: int = 1,
        batch_size: int = 32, metrics=None, callbacks=None, scheduler=None,
        shuffle: bool = True, seed: int | None = None, verbose: bool = True,
        resume=None, compile: bool = False) -> History:  # noqa: A002
    """Train ``model`` on ``train_data``; return the :class:`History` of the run.

    Each epoch: mini-batch updates ``w <- optimizer(w, d loss / d w)`` over the shuffled
    training data (``model.train()``), then, if ``val_data`` is given, an evaluation on it
    (``model.eval()``, no gradients), then the callbacks and the scheduler's step.

    Args:
        model: a :class:`bricks.nn.Module` (or any callable with ``parameters()``,
            ``train()`` and ``eval()``).
        loss_fn: ``loss_fn(outputs, targets)`` returning a scalar Tensor, e.g.
            ``bricks.nn.CrossEntropyLoss()``.
        optimizer: e.g. ``bricks.optim.Adam(model.parameters())``; closure-based ones
            (``LBFGS``, ``Newton``, ...) get ``step(closure)``.
        train_data, val_data: a Dataset, a DataLoader, or an ``(X, y)`` pair of arrays or
            Tensors.  Floating inputs are converted to the model's dtype.
        epochs: passes over the training data.
        batch_size: samples per update (ignored for a DataLoader, which has its own).
        metrics: names (``'accuracy'``, ``'f1'``, ``'r2'``, ... see
            :mod:`bricks.train.metrics`) or functions ``fn(y_true, y_pred)``.
        callbacks: :class:`~bricks.train.callbacks.Callback` objects.  Without a
            :class:`~bricks.train.callbacks.NaNGuard` among them one is added, so a NaN or
            infinite loss stops training with a ``RuntimeWarning``; pass
            ``NaNGuard(raise_error=True)`` to get an exception instead.
        scheduler: a learning-rate schedule, stepped once per epoch (``ReduceLROnPlateau``
            with the validation loss, or the training loss without validation data).
        shuffle: reshuffle the training data every epoch.
        seed: seeds the shuffle order and ``bricks.manual_seed`` (dropout): the same seed
            gives the same history bit for bit.
        verbose: show a progress bar per epoch (a summary line when not on a terminal).
        resume: a checkpoint written by :class:`~bricks.train.callbacks.ModelCheckpoint`
            with ``save_best_only=False``: weights, optimizer, scheduler, history and random
            states are restored and training continues after its epoch up to ``epochs``.
            With the same arguments (and seed) the final weights equal those of an
            uninterrupted run, bit for bit.
        compile: run each update through :func:`bricks.compile`: traced on the first
            batches of each shape, then replayed as one optimized plan (the same numbers,
            faster on small models; anything it cannot trace runs eagerly, with a warning).
            Closure-based optimizers always run eagerly.

    Returns:
        History: ``history.history['loss']``, ``['val_loss']``, ``['accuracy']``,
        ``['lr']``, ... one value per epoch.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 2)); y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
        >>> model = bricks.nn.Linear(2, 2)
        >>> opt = bricks.optim.SGD(model.parameters(), lr=0.5)
        >>> h = bricks.train.fit(model, bricks.nn.CrossEntropyLoss(), opt, (X, y), epochs=5,
        ...                      metrics=["accuracy"], seed=0, verbose=False)
        >>> h.history["accuracy"][-1] > 0.9
        True
        >>> sorted(h.history)
        ['accuracy', 'loss', 'lr']
    """
    trainer = Trainer(model, loss_fn, optimizer, metrics, callbacks, scheduler, verbose,
                      compile=compile)
    return trainer.fit(train_data, val_data, epochs, batch_size, shuffle, seed, resume)


def _forward_all(model, data, batch_size: int):
    """Run ``model`` over ``data`` in eval mode without gradients; yield (out, y) per batch."""
    was_training = getattr(model, "training", False)
    model.eval()
    param = next(iter(model.parameters()), None)
    try:
        with no_grad():
            for batch in make_batches(data, batch_size, shuffle=False):
                x, y = _split(batch)
                x = x if isinstance(x, Tensor) else Tensor(xp.asarray(x))
                if param is not None and is_floating(x.dtype) and x.dtype != param.dtype:
                    x = x.to(param.dtype)
                if param is not None and type(x.data) is not type(param.data):
                    x = x.to(param.device)  # host data for a model on a GPU
                yield model(x), y
    finally:
        model.train(was_training)


def evaluate(model, data, loss_fn=None, metrics=None, batch_size: int = 256,
             _names=None) -> dict:
    """The loss and metrics of ``model`` on ``data`` (eval mode, no gradients).

    The loss is the sample-weighted mean of the batch losses (for a mean-reduced loss,
    the loss over the whole data); metrics are computed on all predictions at once.

    Args:
        model: the trained model.
        data: a Dataset, a DataLoader or an ``(X, y)`` pair.
        loss_fn: reported as ``'loss'`` when given.
        metrics: names or functions, as in :func:`fit`.
        batch_size: samples per forward pass (memory only; the numbers do not change).

    Returns:
        ``{'loss': ..., 'accuracy': ..., ...}`` as Python numbers.

    Example:
        >>> model = bricks.nn.Linear(2, 2)
        >>> X = np.array([[1.0, 0.0], [0.0, 1.0]]); y = np.array([0, 1])
        >>> sorted(bricks.train.evaluate(model, (X, y), bricks.nn.CrossEntropyLoss(),
        ...                              ["accuracy"]))
        ['accuracy', 'loss']
    """
    names = _names if _names is not None else [get_metric(m) for m in (metrics or [])]
    loss_sum, count, outputs, targets = 0.0, 0, [], []
    for out, y in _forward_all(model, data, batch_size):
        if y is None:
            raise ValueError("evaluate: the data has no targets; use predict() for inputs only")
        if loss_fn is not None:
            y_t = y if isinstance(y, Tensor) else Tensor(xp.asarray(y))
            if is_floating(y_t.dtype) and y_t.dtype != out.dtype:
                y_t = y_t.to(out.dtype)
            if type(y_t.data) is not type(out.data):
                y_t = y_t.to(out.device)
            loss_sum += loss_fn(out, y_t).item() * len(out)
        count += len(out)
        outputs.append(to_numpy(out.data))  # metrics are computed on the host
        targets.append(to_numpy(_raw(y)))
    logs = {} if loss_fn is None else {"loss": loss_sum / max(count, 1)}
    y_true, y_pred = xp.concatenate(targets), xp.concatenate(outputs)
    for name, fn in names:
        value = fn(y_true, y_pred)
        logs[name] = value.tolist() if hasattr(value, "tolist") else value
    return logs


def predict(model, data, batch_size: int = 256) -> Tensor:
    """The model's outputs for every sample of ``data``, in order (eval mode, no gradients).

    Args:
        model: the trained model.
        data: inputs ``X`` (array or Tensor), an ``(X, y)`` pair (``y`` ignored), a Dataset
            or a DataLoader (which should not shuffle).
        batch_size: samples per forward pass.

    Returns:
        a Tensor ``(N, ...)``: e.g. logits; ``predict(...).argmax(dim=1)`` gives classes.

    Example:
        >>> model = bricks.nn.Linear(3, 2)
        >>> bricks.train.predict(model, np.zeros((5, 3))).shape
        (5, 2)
    """
    outputs = [out.data for out, _ in _forward_all(model, data, batch_size)]
    return Tensor(get_array_module(*outputs).concatenate(outputs))  # on the model's device
