"""Demo: the same deep sigmoid MLP with and without batch normalization.

Ten layers of sigmoid units on the 8x8 digits.  Without normalization the signal and the
gradient shrink from layer to layer (sigmoid' <= 1/4) and the inputs of the deeper layers
drift into the flat parts of the sigmoid: plain SGD sits at the loss of guessing, ln 10 =
2.30, for a long time.  Batch normalization re-centres and re-scales every layer's
pre-activations over the mini-batch (``(z - mean_B) / sqrt(var_B + eps)``, then a learned
scale and shift), so each sigmoid works in its steep middle range and the same optimizer,
learning rate, initial weights and batches train the network.
"""

from __future__ import annotations

import math
import time

import bricks
from bricks import nn
from bricks.data import train_test_split
from bricks.data.datasets import load_digits
from bricks.demos._common import DemoResult, new_figure, save_figure
from bricks.train import Callback, fit

NAME = "batchnorm"
TITLE = "A deep sigmoid MLP with and without batch normalization"
CLAIM = ("Batch normalization keeps every layer's inputs in a well-scaled range: the same "
         "deep sigmoid MLP, with the same optimizer and steps, reaches a far lower loss with "
         "BatchNorm1d than without it.")


class _BatchLosses(Callback):
    """The training loss of every mini-batch."""

    def __init__(self):
        self.losses = []

    def on_batch_end(self, step: int, logs: dict) -> None:
        self.losses.append(logs["loss"])


def deep_mlp(depth: int, width: int, batch_norm: bool, in_features: int = 64,
             classes: int = 10):
    """``depth`` Linear layers, each hidden one followed by [BatchNorm1d] and Sigmoid."""
    layers, d = [], in_features
    for _ in range(depth - 1):
        layers.append(nn.Linear(d, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.Sigmoid())
        d = width
    layers.append(nn.Linear(d, classes))
    return nn.Sequential(*layers)


def run(out_dir, fast: bool = False) -> DemoResult:
    start = time.perf_counter()
    X, y = load_digits(scale=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        seed=0)
    depth, width, batch_size, lr = 10, 32, 64, 0.02
    epochs = 5 if fast else 20

    results = {}
    for label, bn in (("without BN", False), ("with BN", True)):
        bricks.manual_seed(0)  # the Linear layers start from the same weights in both
        model = deep_mlp(depth, width, bn)
        opt = bricks.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        recorder = _BatchLosses()
        history = fit(model, nn.CrossEntropyLoss(), opt, (X_train, y_train),
                      (X_test, y_test), epochs=epochs, batch_size=batch_size,
                      metrics=["accuracy"], callbacks=[recorder], seed=0, verbose=False)
        results[label] = {"batch_losses": recorder.losses, "epoch_loss": history["loss"],
                          "val_accuracy": history["val_accuracy"]}

    plain, bn = results["without BN"], results["with BN"]
    steps = len(plain["batch_losses"])
    lines = [f"digits: {len(X_train)} to train, {len(X_test)} to test; {depth} Linear layers "
             f"of width {width}, sigmoid; SGD lr {lr}, momentum 0.9, batch {batch_size}, "
             f"{epochs} epochs = {steps} steps, same initial weights and batches.", "",
             f"{'':<12}" + "".join(f"{'epoch ' + str(e + 1):>10}" for e in range(epochs)
                                   if _shown(e, epochs)) + f"{'test acc':>10}"]
    for label, r in results.items():
        lines.append(f"{label:<12}" + "".join(f"{v:>10.3f}" for e, v in
                                              enumerate(r["epoch_loss"]) if _shown(e, epochs))
                     + f"{r['val_accuracy'][-1]:>10.1%}")
    lines.append(f"(rows: mean training loss per epoch; guessing gives ln 10 = {math.log(10):.3f})")
    figure = _plot(results, epochs, out_dir)
    lines.append(f"({time.perf_counter() - start:.1f} s)")
    checks = {
        "final_loss_without_bn": plain["epoch_loss"][-1],
        "final_loss_with_bn": bn["epoch_loss"][-1],
        "test_accuracy_without_bn": plain["val_accuracy"][-1],
        "test_accuracy_with_bn": bn["val_accuracy"][-1],
        "steps": steps,
        "steps_with_bn": len(bn["batch_losses"]),
    }
    return DemoResult(CLAIM, lines, [figure], checks)


def _shown(epoch: int, epochs: int) -> bool:
    """Every epoch up to 10, else about ten of them (always the last)."""
    return epochs <= 10 or epoch % max(1, epochs // 10) == 0 or epoch == epochs - 1


def _plot(results, epochs, out_dir):
    fig = new_figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    colors = {"without BN": "tab:red", "with BN": "tab:blue"}
    for label, r in results.items():
        losses = r["batch_losses"]
        ax1.plot(range(1, len(losses) + 1), losses, color=colors[label], alpha=0.25, lw=0.8)
        k = 10  # moving average over 10 mini-batches
        smooth = [sum(losses[max(0, i - k + 1):i + 1]) / len(losses[max(0, i - k + 1):i + 1])
                  for i in range(len(losses))]
        ax1.plot(range(1, len(losses) + 1), smooth, color=colors[label], label=label)
        ax2.plot(range(1, epochs + 1), r["val_accuracy"], "o-", color=colors[label],
                 label=label)
    ax1.axhline(math.log(10), color="gray", ls="--", lw=1, label="guessing (ln 10)")
    ax1.set_xlabel("SGD step (mini-batch of 64)")
    ax1.set_ylabel("training cross-entropy")
    ax1.set_title("Training loss (faint: per batch; line: mean of 10)")
    ax1.legend()
    ax1.grid(True, alpha=0.3)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("test accuracy")
    ax2.set_ylim(0, 1)
    ax2.set_title("Test accuracy")
    ax2.legend()
    ax2.grid(True, alpha=0.3)
    fig.suptitle("10-layer sigmoid MLP on the digits, same SGD: without vs with BatchNorm1d")
    return save_figure(fig, out_dir, "batchnorm_loss.png")
