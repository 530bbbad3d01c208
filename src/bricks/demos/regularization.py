"""Demo: an over-fitting MLP tamed by L2, L1, dropout and early stopping.

A wide two-hidden-layer MLP has far more weights than the 60 noisy moons it trains on: left
alone it drives the training loss towards zero by memorizing the noise, and its validation
loss climbs (over-confident wrong answers cost a lot of cross-entropy).  Each regularizer
of the lecture is trained from the same initial weights on the same data:

* L2 (weight decay): ``loss + lambda * sum w^2`` over the weight matrices;
* L1: ``loss + lambda * sum |w|``;
* dropout: each hidden unit is zeroed with probability p during training;
* early stopping: train while the validation loss improves, keep the best weights.

The training loss in the curves and the table is the plain cross-entropy in eval mode (no
penalty, no dropout), so all five are measured alike.
"""

from __future__ import annotations

import time

import bricks
from bricks import nn
from bricks.data.datasets import make_moons
from bricks.demos._common import DemoResult, new_figure, save_figure
from bricks.train import Callback, EarlyStopping, evaluate, fit

NAME = "regularization"
TITLE = "Regularization: none, L2, L1, dropout, early stopping"
CLAIM = ("A network much larger than its data over-fits: its training loss falls while its "
         "validation loss rises. L2, L1, dropout and early stopping each shrink the gap "
         "between training and validation loss.")

VARIANTS = ("none", "L2", "L1", "dropout", "early stopping")


class _Penalized:
    """Cross-entropy plus ``reg * penalty(weights)`` while the model trains; plain
    cross-entropy in eval mode (so validation numbers carry no penalty)."""

    def __init__(self, model, penalty=None, reg: float = 0.0):
        self.model, self.penalty, self.reg = model, penalty, reg
        self.ce = nn.CrossEntropyLoss()
        self.weights = [p for name, p in model.named_parameters() if name.endswith("weight")]

    def __call__(self, outputs, targets):
        loss = self.ce(outputs, targets)
        if self.penalty is not None and self.model.training:
            loss = loss + self.reg * self.penalty(self.weights)
        return loss


class _TrainLoss(Callback):
    """Records the plain training loss and accuracy (eval mode) after every epoch."""

    def __init__(self, data):
        self.data, self.loss, self.accuracy = data, [], []

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        out = evaluate(self.model, self.data, nn.CrossEntropyLoss(), ["accuracy"])
        self.loss.append(out["loss"])
        self.accuracy.append(out["accuracy"])


def _model(width: int, p_drop: float = 0.0):
    layers = [nn.Linear(2, width), nn.ReLU()]
    if p_drop:
        layers.append(nn.Dropout(p_drop))
    layers += [nn.Linear(width, width), nn.ReLU()]
    if p_drop:
        layers.append(nn.Dropout(p_drop))
    layers.append(nn.Linear(width, 2))
    return nn.Sequential(*layers)


def run(out_dir, fast: bool = False) -> DemoResult:
    start = time.perf_counter()
    train = make_moons(60, noise=0.35, seed=3)
    val = make_moons(1000, noise=0.35, seed=4)
    width, epochs = (64, 200) if fast else (128, 400)
    settings = {
        "none": {},
        "L2": {"penalty": nn.l2_penalty, "reg": 3e-3},
        "L1": {"penalty": nn.l1_penalty, "reg": 1e-3},
        "dropout": {"p_drop": 0.5},
        "early stopping": {"patience": 30},
    }

    results = {}
    for name in VARIANTS:
        s = settings[name]
        bricks.manual_seed(0)  # the same initial weights for every variant
        model = _model(width, s.get("p_drop", 0.0))
        loss_fn = _Penalized(model, s.get("penalty"), s.get("reg", 0.0))
        recorder = _TrainLoss(train)
        callbacks = [recorder]
        if "patience" in s:
            stopper = EarlyStopping("val_loss", patience=s["patience"], restore_best=True)
            callbacks.append(stopper)
        opt = bricks.optim.Adam(model.parameters(), lr=0.01)
        history = fit(model, loss_fn, opt, train, val, epochs=epochs, batch_size=len(train[0]),
                      metrics=["accuracy"], callbacks=callbacks, seed=0, verbose=False)
        final_train = evaluate(model, train, nn.CrossEntropyLoss(), ["accuracy"])
        final_val = evaluate(model, val, nn.CrossEntropyLoss(), ["accuracy"])
        results[name] = {
            "train_curve": recorder.loss, "val_curve": history["val_loss"],
            "train_loss": final_train["loss"], "val_loss": final_val["loss"],
            "train_acc": final_train["accuracy"], "val_acc": final_val["accuracy"],
            "best_val": min(history["val_loss"]), "epochs": len(history),
        }
        results[name]["gap"] = results[name]["val_loss"] - results[name]["train_loss"]

    lines = [f"60 noisy moons (noise 0.35) to train, 1000 to validate; MLP 2-{width}-{width}-2 "
             f"(ReLU), Adam lr 0.01, full batch, {epochs} epochs; L2 3e-3, L1 1e-3, dropout "
             f"0.5, early stopping patience 30 (best weights restored).", "",
             f"{'':<16}{'train loss':>11}{'val loss':>10}{'gap':>9}{'best val':>10}"
             f"{'train acc':>11}{'val acc':>9}{'epochs':>8}"]
    for name, r in results.items():
        lines.append(f"{name:<16}{r['train_loss']:>11.4f}{r['val_loss']:>10.4f}"
                     f"{r['gap']:>9.4f}{r['best_val']:>10.4f}{r['train_acc']:>11.1%}"
                     f"{r['val_acc']:>9.1%}{r['epochs']:>8}")
    figure = _plot(results, out_dir)
    lines.append(f"({time.perf_counter() - start:.1f} s)")
    checks = {f"{k}_{name}": r[k] for name, r in results.items()
              for k in ("gap", "train_loss", "val_loss", "best_val", "val_acc", "epochs")}
    checks["max_gap_variant"] = max(results, key=lambda n: results[n]["gap"])
    checks["epochs"] = epochs
    return DemoResult(CLAIM, lines, [figure], checks)


def _plot(results, out_dir):
    fig = new_figure(figsize=(15, 3.6))
    axes = fig.subplots(1, len(results), sharex=True, sharey=True)
    top = 1.5 * max(max(r["val_curve"]) for r in results.values())
    for ax, (name, r) in zip(axes, results.items()):
        epochs = range(1, len(r["val_curve"]) + 1)
        ax.plot(epochs, r["train_curve"], color="tab:blue", label="train")
        ax.plot(epochs, r["val_curve"], color="tab:orange", label="validation")
        if r["epochs"] < len(results["none"]["val_curve"]):
            best = 1 + min(range(len(r["val_curve"])), key=r["val_curve"].__getitem__)
            ax.axvline(best, color="gray", ls="--", lw=1, label="best epoch (kept)")
        ax.set_title(f"{name}: gap {r['gap']:.3f}")
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.set_ylim(1e-3, top)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("cross-entropy loss")
    axes[0].legend()
    axes[-1].legend()
    fig.suptitle("An over-fitting MLP on 60 moons: training vs validation loss")
    return save_figure(fig, out_dir, "regularization_curves.png")
