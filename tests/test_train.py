"""bricks.train: fit, evaluate, predict, History, closure optimizers, schedulers, progress."""

import io
import json
import sys

import numpy as np
import pytest

import bricks
import bricks.data
from bricks import nn, optim
from bricks.optim import lr_scheduler
from bricks.train import History, Trainer, evaluate, fit, predict


def moons(n=400, noise=0.15, seed=0):
    """Two interleaving half circles (scikit-learn's make_moons, written out)."""
    rng = np.random.default_rng(seed)
    half = n // 2
    t_out, t_in = np.linspace(0, np.pi, half), np.linspace(0, np.pi, n - half)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    X += noise * rng.normal(size=X.shape)
    y = np.concatenate([np.zeros(half), np.ones(n - half)]).astype(np.int64)
    order = rng.permutation(n)
    return X[order], y[order]


def gaussians(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.5, -1.5)
    return X, y


def mlp(hidden=32, dropout=0.0, seed=0):
    bricks.manual_seed(seed)
    layers = [nn.Linear(2, hidden), nn.Tanh()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(hidden, 2))


def test_fit_learns_moons_and_fills_history():
    X, y = moons()
    Xv, yv = moons(200, seed=1)
    model = mlp()
    opt = optim.Adam(model.parameters(), lr=0.02)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=(Xv, yv), epochs=30,
            batch_size=32, metrics=["accuracy", "f1"], seed=0, verbose=False)
    assert isinstance(h, History)
    assert h.epoch == list(range(30))
    assert list(h.history) == ["loss", "accuracy", "f1", "val_loss", "val_accuracy",
                               "val_f1", "lr"]
    assert all(len(v) == 30 for v in h.history.values())
    assert h["val_accuracy"][-1] >= 0.97
    assert h["loss"][-1] < 0.3 * h["loss"][0]
    assert h["lr"] == [0.02] * 30
    assert h.stopped_reason is None
    d = json.loads(json.dumps(h.to_dict()))  # JSON-able, and round trips
    assert History.from_dict(d).history == h.history
    assert all(isinstance(v, float) for v in h["loss"] + h["val_accuracy"])
    # the epoch's val numbers are evaluate()'s numbers on the final model
    ev = evaluate(model, (Xv, yv), nn.CrossEntropyLoss(), ["accuracy"])
    assert ev["accuracy"] == h["val_accuracy"][-1]
    assert ev["loss"] == pytest.approx(h["val_loss"][-1], rel=1e-6)


def test_train_metrics_are_on_the_batches_seen():
    X, y = gaussians()
    model = mlp()
    seen = []

    class Spy(bricks.train.Callback):
        def on_batch_end(self, step, logs):
            seen.append(logs)

    h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
            epochs=2, batch_size=64, metrics=["accuracy"], callbacks=[Spy()], verbose=False)
    assert len(seen) == 2 * 4  # ceil(200 / 64) batches per epoch
    assert [s["step"] for s in seen[:4]] == [0, 1, 2, 3]
    assert seen[-1]["global_step"] == 8
    sizes = [64, 64, 64, 8]
    mean = sum(s["loss"] * n for s, n in zip(seen[4:], sizes)) / 200
    assert h["loss"][1] == pytest.approx(mean, rel=1e-12)


def test_evaluate_and_predict():
    X, y = gaussians(100)
    model = mlp()
    model.train()
    out = predict(model, X, batch_size=7)
    assert out.shape == (100, 2) and not out.requires_grad and out.dtype == bricks.float32
    with bricks.no_grad():
        direct = model.eval()(bricks.tensor(X.astype(np.float32)))
    model.train()
    np.testing.assert_allclose(out.numpy(), direct.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(predict(model, (X, y), batch_size=7).numpy(), out.numpy())
    assert model.training  # predict restores the mode
    res = evaluate(model, (bricks.tensor(X), bricks.tensor(y)), nn.CrossEntropyLoss(),
                   ["accuracy", "confusion_matrix"], batch_size=13)
    loss = nn.CrossEntropyLoss()(direct, bricks.tensor(y)).item()
    assert res["loss"] == pytest.approx(loss, rel=1e-5)
    assert res["accuracy"] == bricks.train.metrics.accuracy(y, direct.numpy())
    assert np.array(res["confusion_matrix"]).sum() == 100
    assert evaluate(model, (X, y)) == {}  # no loss, no metrics: nothing to report
    with pytest.raises(ValueError, match="predict"):
        evaluate(model, X, nn.CrossEntropyLoss())


def test_eval_mode_and_no_grad_during_evaluation():
    X, y = gaussians(60)
    modes = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, x):
            modes.append((self.training, bricks.is_grad_enabled()))
            return self.lin(x)

    model = Probe()
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
        val_data=(X, y), epochs=1, batch_size=60, verbose=False)
    assert modes == [(True, True), (False, False)]
    assert model.training


def test_lbfgs_closure_path():
    X, y = moons(200)
    model = mlp(16)
    opt = optim.LBFGS(model.parameters(), lr=1, max_iter=20, line_search_fn="strong_wolfe")
    calls = []
    loss_fn = nn.CrossEntropyLoss()

    def counting_loss(out, target):
        calls.append(1)
        return loss_fn(out, target)

    h = fit(model, counting_loss, opt, (X, y), epochs=5, batch_size=200,
            metrics=["accuracy"], verbose=False)
    assert len(calls) > 5  # the closure was evaluated several times per step
    assert h["loss"][-1] < 0.1 < h["loss"][0]
    assert h["accuracy"][-1] >= 0.97


def test_newton_closure_without_backward():
    X, y = gaussians(100)
    bricks.manual_seed(0)
    model = nn.Linear(2, 1)
    opt = optim.Newton(model.parameters())
    h = fit(model, nn.BCEWithLogitsLoss(), opt, (X, y.astype(np.float32)[:, None]), epochs=4,
            batch_size=100, metrics=[lambda t, p: bricks.train.metrics.accuracy(t, p, 0.0)],
            verbose=False)
    assert h["loss"][-1] < h["loss"][0]
    assert h["<lambda>"][-1] >= 0.95


def test_scheduler_stepped_once_per_epoch():
    X, y = gaussians(64)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=4, batch_size=16,
            scheduler=lr_scheduler.StepLR(opt, step_size=1, gamma=0.5), verbose=False)
    assert h["lr"] == [0.1, 0.05, 0.025, 0.0125]  # the rate each epoch ran with
    assert opt.param_groups[0]["lr"] == 0.00625


@pytest.mark.parametrize("with_val", [True, False])
def test_reduce_on_plateau_gets_the_validation_loss(with_val):
    X, y = moons(100)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=3.0)  # large: the loss stalls and jumps
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y),
            val_data=moons(100, seed=5) if with_val else None, epochs=8, batch_size=20,
            scheduler=sched, verbose=False)
    twin_opt = optim.SGD([bricks.zeros(1, requires_grad=True)], lr=3.0)
    twin = lr_scheduler.ReduceLROnPlateau(twin_opt, patience=0, factor=0.5)
    expected = []
    for v in h["val_loss" if with_val else "loss"]:
        expected.append(twin_opt.param_groups[0]["lr"])
        twin.step(v)
    assert h["lr"] == expected
    assert len(set(expected)) > 1  # the rate did change


def test_reproducible_bit_for_bit_with_dropout():
    X, y = moons(200)

    def run(seed):
        model = mlp(dropout=0.3, seed=123)
        opt = optim.Adam(model.parameters(), lr=0.01)
        h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=(X, y), epochs=3,
                batch_size=16, metrics=["accuracy"], seed=seed, verbose=False)
        return h.history, [p.data.copy() for p in model.parameters()]

    (h1, w1), (h2, w2), (h3, _) = run(0), run(0), run(1)
    assert h1 == h2
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert h1["loss"] != h3["loss"]


def test_inputs_tensor_dataset_and_loader():
    X, y = gaussians(96)

    class Pairs:  # a map-style Dataset: __len__ and __getitem__
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return X[i].astype(np.float32), y[i]

    class Loader:  # anything with batch_size that yields (x, y) is used as it is
        batch_size = 32

        def __len__(self):
            return 3

        def __iter__(self):
            for i in range(0, 96, 32):
                yield bricks.tensor(X[i:i + 32]), bricks.tensor(y[i:i + 32])

    results = []
    loader = bricks.data.DataLoader(bricks.data.TensorDataset(X, y), batch_size=32)
    for data in [(X, y), (bricks.tensor(X), bricks.tensor(y)), Pairs(), Loader(), loader]:
        model = mlp(seed=4)
        h = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), data,
                epochs=2, batch_size=32, shuffle=False, verbose=False)
        results.append(h["loss"])
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], rtol=1e-6)


def test_errors():
    X, y = gaussians(10)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="10 samples but y has 9"):
        fit(model, nn.CrossEntropyLoss(), opt, (X, y[:9]), verbose=False)
    with pytest.raises(ValueError, match="no targets"):
        fit(model, nn.CrossEntropyLoss(), opt, X, verbose=False)
    with pytest.raises(TypeError, match="Dataset, a DataLoader or an"):
        fit(model, nn.CrossEntropyLoss(), opt, 42, verbose=False)
    with pytest.raises(TypeError, match="Callback"):
        Trainer(model, nn.CrossEntropyLoss(), opt, callbacks=[print])
    with pytest.raises(ValueError, match="unknown metric"):
        fit(model, nn.CrossEntropyLoss(), opt, (X, y), metrics=["acuracy"], verbose=False)


def _tiny_fit(verbose):
    X, y = gaussians(40)
    model = mlp()
    return fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
               val_data=(X, y), epochs=3, batch_size=8, metrics=["accuracy"], verbose=verbose)


def test_progress_silent_when_not_a_tty_or_not_verbose(capsys):
    _tiny_fit(verbose=False)
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    h = _tiny_fit(verbose=True)  # capsys' stderr is not a terminal: summary lines, no bar
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3 loss=")
    assert f"val_accuracy={h['val_accuracy'][2]:.4f}" in lines[2]
    assert "\r" not in out


def test_progress_bar_on_a_terminal(monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    _tiny_fit(verbose=True)
    text = term.getvalue()
    assert "epoch 1/3" in text and "5/5" in text and "val_loss=" in text
    assert capsys.readouterr().out == ""  # the bar replaces the summary lines


def test_progress_bar_ends_its_line_when_an_epoch_fails(monkeypatch):
    """A diverged batch or Ctrl-C mid-epoch closes the bar (a clean line for the error
    message that follows), and no summary for the unfinished epoch is shown."""
    from bricks.train import TrainingDiverged

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    X, y = gaussians(40)
    model = mlp()
    y_bad = np.full((len(y), 2), np.inf)
    try:
        with np.errstate(all="ignore"):
            fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), (X, y_bad),
                epochs=2, batch_size=8, callbacks=[bricks.train.NaNGuard(raise_error=True)])
    except TrainingDiverged:
        text = term.getvalue()  # read here: the bar is closed before the error arrives
    else:
        pytest.fail("NaNGuard did not raise")
    assert "epoch 1/2" in text and text.endswith("\n") and "epoch 2/2" not in text


def test_trainer_fit_from_an_initial_epoch():
    """``initial_epoch``: the caller restored the state itself (bricks train --resume); the
    loop runs the remaining epochs with their own numbers."""
    X, y = gaussians(40)
    model = mlp()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                      verbose=False)
    seen = []

    class Epochs(bricks.train.Callback):
        def on_epoch_begin(self, epoch, logs):
            seen.append(epoch)

    trainer.callbacks.append(Epochs())
    history = trainer.fit((X, y), epochs=4, batch_size=8, initial_epoch=2)
    assert seen == [2, 3] and history.epoch == [2, 3]


def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path):
    from bricks.train.callbacks import ModelCheckpoint

    rng = np.random.default_rng(3)
    X = rng.normal(size=(96, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)

    def run(epochs, resume=None, path=None, batch_size=16):
        bricks.manual_seed(0)
        model = bricks.nn.Sequential(bricks.nn.Linear(2, 16), bricks.nn.ReLU(),
                                     bricks.nn.Dropout(0.3), bricks.nn.Linear(16, 2))
        opt = bricks.optim.Adam(model.parameters(), lr=0.02)
        sched = bricks.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
        callbacks = [] if path is None else [ModelCheckpoint(path, save_best_only=False)]
        history = bricks.train.fit(model, bricks.nn.CrossEntropyLoss(), opt, (X, y),
                                   epochs=epochs, batch_size=batch_size, scheduler=sched,
                                   callbacks=callbacks, seed=5, verbose=False,
                                   resume=resume)
        return model, history

    full, full_history = run(4, path=str(tmp_path / "ckpt-{epoch}.safetensors"))
    resumed, history = run(4, resume=tmp_path / "ckpt-2.safetensors")
    for (name, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert np.array_equal(a.numpy(), b.numpy()), name
    assert history.history == full_history.history
    assert history.epoch == [0, 1, 2, 3]
    # and the check can fail: other batches after the same checkpoint give other weights
    other, _ = run(4, resume=tmp_path / "ckpt-2.safetensors", batch_size=8)
    assert not all(np.array_equal(a.numpy(), b.numpy()) for a, b in
                   zip(full.state_dict().values(), other.state_dict().values()))
