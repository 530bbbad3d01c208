"""Training: the fit loop, metrics, callbacks, progress and plots.

``fit(model, loss_fn, optimizer, train_data, val_data, epochs, ...)`` trains and returns a
:class:`History`; ``evaluate`` and ``predict`` use a trained model.  Reading order:
``trainer.py`` (the loop), then ``callbacks.py`` and ``metrics.py``.  Plots live in
:mod:`bricks.train.plots` (needs matplotlib; imported on use).

``bricks train`` runs are library code too (imported on use): ``run_config.py`` (the
options), ``run_data.py`` (the data of a run), ``run.py`` (train one with
:meth:`Trainer.fit` into a run folder), ``saved_run.py`` (read one back), ``run_folder.py``
(locks and guards).
"""

from bricks.train import metrics
from bricks.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    NaNGuard,
    TrainingDiverged,
)
from bricks.train.trainer import History, Trainer, evaluate, fit, predict

__all__ = [
    "fit", "evaluate", "predict", "Trainer", "History", "metrics",
    "Callback", "EarlyStopping", "ModelCheckpoint", "LRSchedulerCallback", "CSVLogger",
    "JSONLogger", "NaNGuard", "TrainingDiverged",
]
