"""The playground's training session: data, model, training, snapshot, exports, compare."""

import math
import subprocess
import sys
import time

import pytest

import bricks
import bricks.io
from bricks.backend import xp
from bricks.playground import frames, schema
from bricks.playground.data import feature_matrix, make_dataset
from bricks.playground.schema import SchemaError
from bricks.playground.session import Session
from bricks.train import Trainer

ALL_FEATURES = ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"]


def test_defaults_are_tf_playground():
    s = Session()
    c = s.config
    assert (c["dataset"], c["hidden"], c["activation"], c["lr"], c["batch_size"],
            c["train_ratio"], c["noise"], c["features"]) == (
        "circle", [4, 2], ["tanh", "tanh"], 0.03, 10, 50, 0, ["x1", "x2"])
    assert len(s.y_train) == 250 and len(s.y_test) == 250
    assert [tuple(lin.weight.shape) for lin in s.linears] == [(4, 2), (2, 4), (1, 2)]
    assert s.epoch == 0 and s.status == "paused"


def test_feature_matrix_columns():
    X = xp.asarray([[1.0, 2.0], [-0.5, 3.0]], dtype=xp.float32)
    F = feature_matrix(X, ALL_FEATURES)
    expect = [[1, 2, 1, 4, 2, math.sin(1), math.sin(2)],
              [-0.5, 3, 0.25, 9, -1.5, math.sin(-0.5), math.sin(3)]]
    assert xp.allclose(F, xp.asarray(expect), atol=1e-6)


@pytest.mark.parametrize("name", schema.CLASSIFICATION_DATASETS + schema.REGRESSION_DATASETS)
def test_datasets_fit_the_plane(name):
    X, y, task, k = make_dataset(name, 300, 0.1, 3, n_classes=3)
    assert X.shape == (300, 2) and abs(X).max() <= schema.DOMAIN
    assert task == ("regression" if name in schema.REGRESSION_DATASETS else "classification")
    if task == "classification":
        assert set(y.tolist()) == set(range(k))


def test_same_seed_same_data_and_weights():
    a, b = Session({"seed": 5}), Session({"seed": 5})
    assert xp.array_equal(a.X, b.X) and xp.array_equal(a.is_test, b.is_test)
    assert all(xp.array_equal(p.data, q.data) for p, q in zip(a.weights, b.weights))
    c = Session({"seed": 6})
    assert not xp.array_equal(a.X, c.X)


def test_xor_reaches_90_percent():
    s = Session({"dataset": "xor", "hidden": [8], "optimizer": "adam",
                 "lr": 0.03})
    s.step(40)
    frame = s.snapshot()
    assert frame["epoch"] == 40
    assert frame["test_accuracy"] > 0.9


def test_spiral_reaches_90_percent():
    s = Session({"dataset": "spiral", "hidden": [8, 8], "features": ALL_FEATURES,
                 "optimizer": "adam", "lr": 0.03})
    first = s.test_loss
    s.step(60)
    frame = s.snapshot()
    assert frame["test_loss"] < first
    assert frame["test_accuracy"] > 0.9
    assert frame["history"]["epoch"][-1] == 60 and len(frame["history"]["test_loss"]) == 61


def test_multiclass_spiral_with_softmax_cross_entropy():
    s = Session({"dataset": "spiral", "n_classes": 3, "loss": "cross_entropy",
                 "hidden": [8], "optimizer": "adam", "lr": 0.03,
                 "features": ALL_FEATURES})
    assert s.linears[-1].weight.shape == (3, 8)
    s.step(30)
    f = s.snapshot()
    assert f["layers"] == [7, 8, 3]
    assert len(f["confusion"]["test"]) == 3
    assert sum(map(sum, f["confusion"]["test"])) == len(s.y_test)
    assert set(f["heatmap"]["labels"]) <= {0, 1, 2} and len(set(f["heatmap"]["labels"])) == 3
    assert f["test_accuracy"] > 0.6


def test_regression_plane():
    s = Session({"dataset": "plane", "hidden": [4], "lr": 0.01})
    s.step(10)
    f = s.snapshot()
    assert f["train_accuracy"] is None and f["confusion"] is None
    assert f["test_loss"] < 0.05
    with pytest.raises(SchemaError, match="cross_entropy"):
        s.update_config({"loss": "cross_entropy"})


def test_learning_rate_change_takes_effect_mid_run():
    s = Session({"optimizer": "sgd"})
    s.step(2)
    assert s.update_config({"lr": 1e-9}) == "none"
    assert s.epoch == 2 and s.optimizer.param_groups[0]["lr"] == 1e-9
    before = [w.data.copy() for w in s.weights]
    s.step(1)
    assert max(float(abs(w.data - b).max()) for w, b in zip(s.weights, before)) < 1e-6
    s.update_config({"lr": 1.0})
    before = [w.data.copy() for w in s.weights]
    s.step(1)
    assert max(float(abs(w.data - b).max()) for w, b in zip(s.weights, before)) > 1e-3
    assert s.epoch == 4


def test_learning_rate_change_while_playing():
    s = Session()
    s.play()
    try:
        s.update_config({"lr": 0.5})
        assert s.is_running()
        assert s.optimizer.param_groups[0]["lr"] == 0.5
        deadline = time.monotonic() + 10
        while s.epoch < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        s.pause()
    assert s.status == "paused" and s.epoch > 0


def test_config_reset_kinds():
    s = Session()
    s.step(3)
    assert s.update_config({"hidden": [3, 3, 3]}) == "model"
    assert s.epoch == 0 and s.config["activation"] == ["tanh"] * 3
    assert [lin.weight.shape[0] for lin in s.linears] == [3, 3, 3, 1]
    y = s.y.copy()
    assert s.update_config({"noise": 20}) == "data"
    assert not xp.array_equal(y, s.y)  # circle's noise flips labels near the boundary
    with pytest.raises(SchemaError, match="hidden"):
        s.update_config({"hidden": [9]})
    assert s.config["hidden"] == [3, 3, 3]  # a rejected update changes nothing


def test_stop_after_max_epochs_and_target_loss():
    s = Session({"max_epochs": 5})
    s.play()
    s.wait(20)
    assert s.status == "stopped" and s.stop_reason == "max_epochs" and s.epoch == 5
    t = Session({"dataset": "gauss", "target_loss": 0.2, "lr": 0.1})
    t.play()
    t.wait(20)
    assert t.stop_reason == "target_loss" and t.test_loss <= 0.2


def test_upload_rows_and_training_on_them():
    s = Session()
    X, y, _, _ = make_dataset("xor", 200, 0.0, 1)
    text = "x1,x2,label\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(X.tolist(),
                                                                            y.tolist()))
    rows, task, has_split = schema.parse_csv(text.encode())
    assert task == "classification" and not has_split and len(rows) == 200
    s.load_rows(rows, task, has_split)
    assert s.config["dataset"] == "custom"
    assert len(s.y_train) + len(s.y_test) == 200 and len(s.y_train) == 100
    s.update_config({"hidden": [8], "optimizer": "adam"})
    s.step(40)
    assert s.snapshot()["test_accuracy"] > 0.85
    assert s.update_config({"train_ratio": 80}) == "data"
    assert len(s.y_train) == 160  # custom points are re-split, not regenerated


def test_add_and_clear_points():
    s = Session()
    s.clear_points()
    assert len(s.y) == 0 and s.config["dataset"] == "custom"
    s.add_points([(1.0, 1.0, 0, False), (-1.0, -1.0, 2, False), (0.5, 0.5, 1, True)])
    assert (len(s.y_train), len(s.y_test)) == (2, 1)
    assert s.n_classes == 3 and s.linears[-1].weight.shape[0] == 3
    s.step(1)
    assert s.epoch == 1


def test_weight_edit():
    s = Session()
    s.set_weight(0, 1, 0, 2.5)
    s.set_weight(2, 0, None, -1.25)
    assert float(s.linears[0].weight.data[1, 0]) == 2.5
    f = s.snapshot()
    assert f["weights"][0]["w"][1][0] == 2.5 and f["weights"][2]["b"][0] == -1.25
    assert "2.5*x1" in f["formulas"][1][1] and f["formulas"][-1][0].endswith("- 1.25)")


def test_snapshot_shapes_and_gradient_flow():
    s = Session({"hidden": [4, 3], "heatmap_size": 40})
    s.step(1)
    f = s.snapshot()
    assert f["heatmap"]["size"] == 40 and len(f["heatmap"]["values"]) == 1600
    assert all(0.0 <= v <= 1.0 for v in f["heatmap"]["values"])
    thumbs = f["neurons"]["layers"]
    assert [len(layer) for layer in thumbs] == [2, 4, 3, 1]
    assert all(len(t) == f["neurons"]["size"] ** 2 for layer in thumbs for t in layer)
    assert [len(layer) for layer in f["formulas"]] == [2, 4, 3, 1]
    assert len(f["grad_norms"]) == 3 and all(g > 0 for g in f["grad_norms"])
    # The heatmap's top-left cell is the model at (x1, x2) = (-6, 6).
    with_grid = frames.grid(40)
    assert with_grid[0].tolist() == [-6.0, 6.0] and with_grid[-1].tolist() == [6.0, -6.0]
    # The first input's thumbnail is x1 itself: it grows left to right.
    row = thumbs[0][0][: f["neurons"]["size"]]
    assert row[0] == -6.0 and row[-1] == 6.0


def test_zero_init_keeps_neurons_symmetric():
    s = Session({"zero_init": True, "hidden": [4]})
    assert all(float(abs(w.data).max()) == 0 for w in s.weights)
    s.step(3)
    W = s.linears[0].weight.data
    assert xp.allclose(W, W[0:1])  # every hidden neuron has the same weights


@pytest.mark.parametrize("optimizer", list(schema.OPTIMIZERS))
def test_every_optimizer_trains(optimizer):
    lr = 1.0 if optimizer in ("lbfgs", "adadelta") else 0.03
    s = Session({"optimizer": optimizer, "lr": lr, "dataset": "gauss"})
    start = s.train_loss
    s.step(3)
    assert s.train_loss is not None and s.train_loss < start


@pytest.mark.parametrize("activation", schema.ACTIVATIONS)
def test_every_activation_and_initializer_runs(activation):
    init = schema.INITIALIZERS[schema.ACTIVATIONS.index(activation) % len(schema.INITIALIZERS)]
    s = Session({"activation": [activation, "tanh"], "init": init, "dropout": [0.1, 0],
                 "batch_norm": [True, False]})
    s.step(1)
    f = s.snapshot()
    assert f["train_loss"] is not None and f["formulas"][1][0].startswith(f"h1_0 = {activation}")


def test_l1_and_l2_regularization_shrink_weights():
    norms = {}
    for reg in ("none", "l1", "l2"):
        s = Session({"regularization": reg, "reg_rate": 0.05, "hidden": [8],
                     "lr": 0.1})
        s.step(10)
        norms[reg] = sum(float(abs(w.data).sum()) for w in s.weights)
    assert norms["l1"] < norms["none"] and norms["l2"] < norms["none"]


def test_export_weights_load_with_bricks_io(tmp_path):
    s = Session({"hidden": [3]})
    s.step(2)
    path = tmp_path / "w.safetensors"
    path.write_bytes(s.export("weights"))
    loaded = bricks.io.load(path)
    state = s.model.state_dict()
    assert sorted(loaded) == sorted(state)
    for k, v in state.items():
        assert xp.array_equal(bricks.io.load(path)[k].data
                              if hasattr(loaded[k], "data") else loaded[k], v.data)


@pytest.mark.parametrize("config", [
    {"dataset": "spiral", "n_classes": 3, "loss": "cross_entropy", "optimizer": "adam",
     "features": ["x1", "x2", "sinx1"], "batch_norm": True, "dropout": 0.1},
    {"dataset": "multi_gauss", "optimizer": "lbfgs", "lr": 1.0,
     "regularization": "l2", "reg_rate": 0.001},
    {"dataset": "circle", "loss": "cross_entropy", "zero_init": True, "optimizer": "nesterov"},
])
def test_export_script_runs(tmp_path, config):
    s = Session(config)
    s.step(3)
    script = tmp_path / "model.py"
    script.write_text(s.export("script"))
    out = subprocess.run([sys.executable, str(script), "--retrain", "--epochs", "2"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "epoch 2: train loss" in out.stdout
    # By default it loads the exported weights and reproduces the session's numbers.
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "no weights at" in out.stderr and "--retrain" in out.stderr
    (tmp_path / "bricks_playground.safetensors").write_bytes(s.export("weights"))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    shown = dict(part.rsplit(" ", 1) for part in out.stdout.split(": ", 1)[1].split(", "))
    assert float(shown["train loss"]) == pytest.approx(s.train_loss, rel=1e-5, abs=1e-7)
    assert float(shown["test loss"]) == pytest.approx(s.test_loss, rel=1e-5, abs=1e-7)
    if s.task == "classification":
        assert float(shown["test accuracy"]) == float((s._pred_test == s.y_test).mean())


def test_export_data_csv_round_trips():
    s = Session({"n_points": 40})
    text = s.export("data")
    rows, task, has_split = schema.parse_csv(text.encode())
    assert has_split and task == "classification" and len(rows) == 40
    assert sum(r[3] for r in rows) == len(s.y_test)


def test_compare_mode_same_data_independent_training():
    a = Session({"dataset": "xor", "noise": 10})
    b = Session(schema.validate_config({"optimizer": "adam"}, a.config),
                data=a.data_tuple())
    assert xp.array_equal(a.X_train, b.X_train) and xp.array_equal(a.y_test, b.y_test)
    b.step(5)
    assert a.epoch == 0 and b.epoch == 5
    a.add_points([(1.0, 1.0, 1, False)])
    assert len(b.y) == len(a.y) - 1  # b owns a copy of the data


def test_play_without_training_points_is_an_error():
    s = Session()
    s.clear_points()
    with pytest.raises(SchemaError, match="no training points"):
        s.play()


def test_an_error_in_training_stops_the_session_with_a_reason(monkeypatch):
    s = Session()

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(s, "_train_epoch", broken)
    s.play()
    deadline = time.time() + 5
    while s.status == "playing" and time.time() < deadline:
        time.sleep(0.01)
    assert s.status == "stopped"
    assert s.stop_reason == "error: RuntimeError: boom"


def test_two_sessions_train_at_once_in_threads():
    # Grad mode is per thread: one session's no_grad snapshot must not break the other.
    a, b = Session({"seed": 1}), Session({"seed": 2})
    a.play()
    b.play()
    deadline = time.time() + 10
    while (a.epoch < 20 or b.epoch < 20) and time.time() < deadline:
        a.snapshot()
        time.sleep(0.01)
    a.pause()
    b.pause()
    assert a.epoch >= 20 and b.epoch >= 20
    assert a.status == "paused" and b.status == "paused"


# ------------------------------------------------------- one training loop (issue 17)
@pytest.mark.parametrize("config", [
    {},
    {"optimizer": "adam", "regularization": "l2", "reg_rate": 0.01, "n_points": 101,
     "batch_size": 7},
    {"optimizer": "momentum", "dataset": "spiral", "n_classes": 3, "loss": "cross_entropy"},
    {"optimizer": "lbfgs", "lr": 1.0, "dataset": "gauss",
     "regularization": "l1", "reg_rate": 0.001},
])
def test_training_is_the_lectures_loop_bit_for_bit(config):
    # The session trains through bricks.train.Trainer; a hand-written lecture loop on an
    # identical session (same seed: same data, weights and batch order) ends in the same bits.
    a, b = Session(config), Session(config)
    assert isinstance(a.trainer, Trainer) and a.trainer.optimizer is a.optimizer
    a.step(3)
    n, bs = len(b.F_train), b.config["batch_size"]
    for _ in range(3):
        b.model.train()
        if b.config["optimizer"] == "lbfgs":
            def closure():
                b.optimizer.zero_grad()
                loss = b._objective(b.model(bricks.tensor(b.F_train)),
                                    bricks.tensor(b.T_train))
                loss.backward()
                return loss
            b.optimizer.step(closure)
            continue
        order = b._batch_rng.permutation(n)
        for s in range(0, n, bs):
            idx = order[s:s + bs]
            b.optimizer.zero_grad()
            loss = b._objective(b.model(bricks.tensor(b.F_train[idx])),
                                bricks.tensor(b.T_train[idx]))
            loss.backward()
            b.optimizer.step()
    assert a.epoch == 3
    for (key, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert xp.array_equal(p.data, q.data), key


def test_grad_norms_are_shown_when_the_last_batch_is_a_skipped_single_row():
    # 21 training points in batches of 5 end in one row, which batch norm cannot take; the
    # page used to show zero gradients for every layer then.
    s = Session({"batch_norm": [True, True], "n_points": 42, "batch_size": 5})
    assert len(s.F_train) == 21
    s.step(1)
    assert all(g > 0 for g in s.snapshot()["grad_norms"])


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # NumPy's, on the way to inf
def test_a_diverging_loss_stops_a_step_as_diverged():
    # Trainer's NaNGuard: a NaN/inf batch loss ends the run at once (no epochs on NaN
    # weights), in a step as in play, and the page is told why.
    s = Session({"lr": 10.0, "dataset": "plane", "activation": "relu"})
    done = s.step(5)
    assert done < 5 and s.status == "stopped" and s.stop_reason == "diverged"
    assert s.summary() == {"status": "stopped", "epoch": s.epoch, "stop_reason": "diverged"}
    assert s.snapshot()["train_loss"] is None


def test_dataset_constants_describe_the_data():
    from bricks.playground import data
    X, y, _, k = make_dataset("blobs", 2000, 0.0, 0, n_classes=4)
    for c in range(k):
        pts = X[y == c]
        assert abs(float(xp.hypot(*pts.mean(0))) - data.BLOB_RADIUS) < 0.1
        assert abs(float(pts.std(0).mean()) - data.BLOB_STD) < 0.05
    # Each random stream of the seed is its own: a new split keeps the initial weights.
    a, b = Session({"seed": 4}), Session({"seed": 4, "train_ratio": 70})
    assert not xp.array_equal(a.is_test, b.is_test)
    assert all(xp.array_equal(p.data, q.data) for p, q in zip(a.weights, b.weights))
    assert xp.array_equal(a.is_test, data.split_mask(len(a.y), 50, 4))


# ------------------------------------------------------- one optimizer factory (issue 17)
@pytest.mark.parametrize("name", schema.OPTIMIZERS)
def test_the_optimizer_is_bricks_optim_create_with_the_page_settings(name):
    s = Session({"optimizer": name, "lr": 0.3, "momentum": 0.5})
    spec = bricks.optim.OPTIMIZERS[name]
    assert type(s.optimizer) is spec.cls
    group = s.optimizer.param_groups[0]
    assert group["lr"] == 0.3
    assert group.get("momentum", 0) == (0.5 if name in ("momentum", "nesterov") else 0)
    assert group.get("nesterov", False) == (name == "nesterov")


def test_momentum_is_used_as_given_and_nesterov_without_momentum_is_refused():
    s = Session({"optimizer": "momentum", "momentum": 0})
    assert s.optimizer.param_groups[0]["momentum"] == 0  # plain SGD, as asked
    s = Session({"optimizer": "nesterov", "momentum": 0.25})
    assert s.optimizer.param_groups[0]["momentum"] == 0.25
    s.update_config({"momentum": 0.001})
    assert s.optimizer.param_groups[0]["momentum"] == 0.001  # live, not max(m, 1e-3)
    # Nesterov needs a momentum: refused with the field's name, never silently raised.
    with pytest.raises(SchemaError, match="momentum: must be > 0 for nesterov"):
        s.update_config({"momentum": 0})
    assert s.config["momentum"] == 0.001
    with pytest.raises(SchemaError, match="momentum"):
        Session({"optimizer": "nesterov", "momentum": 0})


# ------------------------------------------------------- bricks.compile (issue 11)
def _train_with_live_changes(config, compile):  # noqa: A002
    bricks.manual_seed(0)  # dropout
    s = Session(config, compile=compile)
    s.step(2)
    s.update_config({"lr": 0.1, "momentum": 0.5})  # read live by the plan's step()
    s.step(1)
    s.update_config({"regularization": "l2", "reg_rate": 0.01})  # a new plan
    s.step(1)
    s.update_config({"batch_size": 25})  # new shapes: a new plan
    s.set_weight(0, 0, 0, 0.5)  # an edited weight is read by the plan
    s.step(2)
    return s


@pytest.mark.parametrize("config", [{"optimizer": name} for name in schema.OPTIMIZERS] + [
    {"activation": ["prelu", "step"]}, {"activation": "relu", "regularization": "l1",
                                        "reg_rate": 0.01},
    {"dataset": "spiral", "n_classes": 3, "loss": "cross_entropy", "hidden": [8, 8]},
    {"dataset": "plane", "loss": "mse"}, {"loss": "cross_entropy", "dropout": [0.2, 0.1]},
    {"n_points": 103, "batch_size": 7},
    {"batch_norm": [True, False]},
])
def test_compiled_training_equals_eager_bit_for_bit(config):
    eager = _train_with_live_changes(config, compile=False)
    compiled = _train_with_live_changes(config, compile=True)
    uses_plan = (not bricks.optim.OPTIMIZERS[config.get("optimizer", "sgd")].full_batch
                 and "batch_norm" not in config)
    assert (compiled.trainer._compiled is not None) == uses_plan
    if uses_plan:
        assert compiled.trainer._compiled.plans and compiled.trainer._compiled.fallback_reason \
            is None
    for (key, p), q in zip(eager.model.state_dict().items(),
                           compiled.model.state_dict().values()):
        assert xp.array_equal(p.data, q.data), key
    assert eager.history == compiled.history and eager.grad_norms == compiled.grad_norms
