"""bricks.train.callbacks: early stopping, checkpoints, scheduler stepping, loggers, NaNGuard."""

import csv
import json
import os
import re

import numpy as np
import pytest

import bricks
from bricks import nn, optim
from bricks.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    NaNGuard,
    TrainingDiverged,
    fit,
)


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.0, -1.0)
    return X, y


def model_and_opt(lr=0.1, seed=0):
    bricks.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    return model, optim.SGD(model.parameters(), lr=lr)


class Script(Callback):
    """Replaces the epoch's val_loss by scripted values (runs before the callbacks after it)."""

    def __init__(self, values, key="val_loss"):
        self.values, self.key = values, key

    def on_epoch_end(self, epoch, logs):
        logs[self.key] = self.values[epoch]


class Snapshots(Callback):
    def on_train_begin(self, logs):
        self.weights = []

    def on_epoch_end(self, epoch, logs):
        self.weights.append({k: v.data.copy() for k, v in self.model.state_dict().items()})


SCRIPT = [1.0, 0.8, 0.78, 0.77, 0.9, 0.95, 0.5, 0.4]


@pytest.mark.parametrize("min_delta, stop, best", [(0.0, 5, 3), (0.05, 3, 1)])
def test_early_stopping_epoch_and_restored_weights(min_delta, stop, best):
    X, y = data()
    model, opt = model_and_opt()
    snaps, es = Snapshots(), EarlyStopping(patience=2, min_delta=min_delta)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=(X, y), epochs=8,
            batch_size=16, callbacks=[Script(SCRIPT), snaps, es], verbose=False)
    assert h.epoch == list(range(stop + 1))
    assert (es.stopped_epoch, es.best_epoch, es.best) == (stop, best, SCRIPT[best])
    assert h.stopped_reason.startswith("EarlyStopping: val_loss did not improve for 2 epochs")
    assert f"at epoch {best + 1}" in h.stopped_reason
    final = model.state_dict()
    for k, v in snaps.weights[best].items():
        np.testing.assert_array_equal(final[k].data, v)
    assert not np.array_equal(final["0.weight"].data, snaps.weights[-1]["0.weight"])


def test_early_stopping_on_a_rising_validation_loss():
    X, y = data()
    model, opt = model_and_opt(lr=0.5)
    snaps, es = Snapshots(), EarlyStopping(patience=3)
    # validation labels flipped: the better the model learns, the worse it does there
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=(X, 1 - y), epochs=20,
            batch_size=16, callbacks=[snaps, es], verbose=False)
    assert np.all(np.diff(h["val_loss"]) > 0)
    assert len(h) == 4 and es.best_epoch == 0
    np.testing.assert_array_equal(model.state_dict()["2.bias"].data,
                                  snaps.weights[0]["2.bias"])


def test_early_stopping_max_mode_no_restore_and_errors():
    X, y = data()
    model, opt = model_and_opt()
    es = EarlyStopping(monitor="val_accuracy", patience=1, restore_best=False)
    assert es.mode == "max"
    snaps = Snapshots()
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=(X, y), epochs=6,
            metrics=["accuracy"], callbacks=[Script([0.5, 0.6, 0.6, 0.9, 0.9, 0.9],
                                                    "val_accuracy"), snaps, es],
            verbose=False)
    assert len(h) == 3 and es.best_epoch == 1
    np.testing.assert_array_equal(model.state_dict()["0.weight"].data,
                                  snaps.weights[-1]["0.weight"])  # the last, not the best
    with pytest.raises(KeyError, match="val_loss.*val_data"):
        fit(model, nn.CrossEntropyLoss(), opt, (X, y), callbacks=[EarlyStopping()],
            verbose=False)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_lr_scheduler_callback():
    X, y = data()
    model, opt = model_and_opt(lr=1.0)
    cb = LRSchedulerCallback(optim.lr_scheduler.MultiStepLR(opt, milestones=[2], gamma=0.1))
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=4, callbacks=[cb],
            verbose=False)
    assert h["lr"] == pytest.approx([1.0, 1.0, 0.1, 0.1], rel=1e-12)


def test_csv_and_json_loggers(tmp_path):
    X, y = data()
    model, opt = model_and_opt()
    csv_path, json_path = tmp_path / "log" / "h.csv", tmp_path / "h.json"
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=(X, y), epochs=3,
            metrics=["accuracy", "confusion_matrix"],
            callbacks=[CSVLogger(csv_path), JSONLogger(json_path)], verbose=False)
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["val_loss"]) for r in rows] == h["val_loss"]  # exact: repr round trips
    assert [float(r["accuracy"]) for r in rows] == h["accuracy"]
    saved = json.loads(json_path.read_text())
    assert saved == h.to_dict()
    assert saved["history"]["val_confusion_matrix"][-1] == h["val_confusion_matrix"][-1]
    assert sorted(os.listdir(tmp_path)) == ["h.json", "log"]  # no temporary files left


def test_csv_logger_is_rewritten_each_epoch(tmp_path):
    X, y = data()
    model, opt = model_and_opt()
    path = tmp_path / "h.csv"
    lines = []

    class Peek(Callback):
        def on_epoch_end(self, epoch, logs):
            lines.append(len(path.read_text().splitlines()))

    fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=3,
        callbacks=[CSVLogger(path), Peek()], verbose=False)
    assert lines == [2, 3, 4]


def _diverging(callbacks, lr=1e3):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)) * 10
    y = X @ np.array([1.0, -2.0, 3.0])
    bricks.manual_seed(0)
    model = nn.Linear(3, 1)
    losses = []

    class Record(Callback):
        def on_batch_end(self, step, logs):
            losses.append((logs["epoch"], step, logs["loss"]))

    h = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=lr), (X, y[:, None]),
            epochs=5, batch_size=8, callbacks=[Record(), *callbacks], shuffle=False,
            verbose=False)
    return h, losses


QUIET = pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value")


@QUIET
def test_nan_guard_stops_and_names_step_and_last_finite_loss():
    with pytest.warns(RuntimeWarning, match="NaNGuard"):
        h, losses = _diverging([NaNGuard()])
    epoch, step, bad = losses[-1]
    assert not np.isfinite(bad)
    assert all(np.isfinite(loss) for _, _, loss in losses[:-1]) and len(losses) > 1
    last_epoch, last_step, last = losses[-2]
    msg = h.stopped_reason
    assert f"at epoch {epoch + 1}, step {step + 1} (global step {len(losses)})" in msg
    assert f"the last finite loss was {last:.6g} (epoch {last_epoch + 1}, step " \
           f"{last_step + 1})" in msg
    assert len(h) == epoch + 1  # the failing epoch is the last one recorded
    # Without a guard, fit adds one: training on NaN never goes on silently (issue 18.8).
    with pytest.warns(RuntimeWarning, match="NaNGuard"):
        h_free, losses_free = _diverging([])
    assert len(h_free) == len(h) and losses_free == losses
    assert h_free.stopped_reason == msg


@QUIET
def test_nan_guard_stops_on_nonfinite_weights_and_checkpoints_skip_them(tmp_path):
    import warnings

    from bricks.io import load_checkpoint
    from bricks.train.callbacks import nonfinite_parameters

    class Poison(Callback):  # the loss stays finite, but a weight turns inf after epoch 2
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                self.model.bias.data[...] = np.inf

    model = nn.Linear(2, 1)
    path = str(tmp_path / "ckpt.safetensors")
    ckpt = ModelCheckpoint(path, save_best_only=False)
    X = np.random.default_rng(0).normal(size=(16, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01),
                (X, X[:, :1]), epochs=5, callbacks=[Poison(), ckpt], verbose=False)
    messages = [str(w.message) for w in caught]
    assert any("ModelCheckpoint: not saved after epoch 2" in m for m in messages), messages
    assert "after epoch 2 the weights bias" in h.stopped_reason and len(h) == 2
    assert nonfinite_parameters(model) == ["bias"]
    saved = nn.Linear(2, 1)
    assert load_checkpoint(path, model=saved)["epoch"] == 0  # the last finite epoch
    assert nonfinite_parameters(saved) == []


@QUIET
def test_nan_guard_can_raise():
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf) at epoch \d+, step \d+"
                       r".*last finite loss was") as info:
        _diverging([NaNGuard(raise_error=True)])
    assert info.value.history is not None
    assert re.search("smaller learning rate", str(info.value))


def test_model_checkpoint_best_and_every_epoch(tmp_path):
    import bricks.io as bio

    X, y = data()
    model, opt = model_and_opt()
    snaps = Snapshots()
    best = ModelCheckpoint(tmp_path / "best.safetensors")
    every = ModelCheckpoint(str(tmp_path / "ep{epoch}.safetensors"), save_best_only=False)
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=(X, y), epochs=5,
        callbacks=[Script([0.9, 0.5, 0.7, 0.6, 0.8]), snaps, best, every], verbose=False)
    assert best.saved == [str(tmp_path / "best.safetensors")] * 2 and best.best_epoch == 1
    assert every.saved == [str(tmp_path / f"ep{e}.safetensors") for e in range(1, 6)]
    fresh, fresh_opt = model_and_opt(seed=99)
    state = bio.load_checkpoint(tmp_path / "best.safetensors", model=fresh,
                                optimizer=fresh_opt, restore_rng=False)
    assert state["epoch"] == 1
    for k, v in snaps.weights[1].items():
        np.testing.assert_array_equal(fresh.state_dict()[k].data, v)
    last = bio.load_checkpoint(tmp_path / "ep5.safetensors", model=fresh, restore_rng=False)
    assert len(last["history"]["epoch"]) == 5
    np.testing.assert_array_equal(fresh.state_dict()["0.weight"].data,
                                  snaps.weights[4]["0.weight"])


def test_model_checkpoint_saves_scaler_extra_metadata_and_random_state(tmp_path):
    """What `bricks train` saves (issue 17.1): the input scaler, extra and metadata go into
    every file, with the global random state; ``saved_epoch`` names the last file's epoch."""
    import bricks.io as bio
    from bricks.data import StandardScaler

    X, y = data()
    scaler = StandardScaler().fit(X)
    model, opt = model_and_opt()
    path = tmp_path / "ckpt.safetensors"
    ckpt = ModelCheckpoint(path, save_best_only=False, scaler=scaler, extra={"note": [1, 2]},
                           metadata={"config": {"epochs": 3}})
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=3, callbacks=[ckpt], verbose=False)
    assert ckpt.saved_epoch == 2
    after = bricks.rand(3).numpy()  # the draw that follows the last save
    restored = StandardScaler()
    state = bio.load_checkpoint(path, scaler=restored)  # restores the global random state
    np.testing.assert_array_equal(bricks.rand(3).numpy(), after)
    np.testing.assert_array_equal(restored.mean_, scaler.mean_)
    assert state["extra"] == {"note": [1, 2]} and state["metadata"] == {"config": {"epochs": 3}}


@QUIET
def test_nan_guard_can_check_the_validation_loss():
    """Finite weights whose outputs overflow on the validation data: only
    ``check_val_loss=True`` calls it diverged."""
    X, y = data()
    model, opt = model_and_opt(lr=0.0)
    huge = (X * 1e300, y)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=huge, epochs=2,
            callbacks=[NaNGuard()], verbose=False)
    assert len(h) == 2 and not np.isfinite(h.history["val_loss"][0])
    with pytest.raises(TrainingDiverged, match="validation loss became (nan|inf) after "
                                               "epoch 1"):
        fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=huge, epochs=2,
            callbacks=[NaNGuard(raise_error=True, check_val_loss=True)], verbose=False)
