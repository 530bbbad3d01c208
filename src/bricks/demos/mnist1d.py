"""Demo: the MNIST-1D benchmark table (Greydanus, 2020): which architecture fits 1-D digits.

MNIST-1D turns the ten digits into 1-D signals of 40 points that are shifted, scaled,
sheared and noised, so a model has to find a shape wherever it sits.  The paper trains four
models with the same recipe (Adam, learning rate 0.01, batches of 100, 6,000 steps) on its
4,000 training signals and reports the test accuracy on the other 1,000:

    logistic regression 32%, MLP 68%, CNN 94%, GRU 91%

A linear map cannot undo a shift; an MLP can only memorize shifted copies; a convolution
shares its filters across positions (translation equivariance) and a recurrent network reads
the signal step by step with shared weights, so those two generalize.  The models are the
paper's: an MLP with two hidden layers of 100 (the second residual), a CNN of three
stride-2 convolutions with 25 channels, and a bidirectional GRU with 6 hidden units whose
40 outputs feed a linear layer.
"""

from __future__ import annotations

import time

import bricks
from bricks import nn
from bricks.data.datasets import load_mnist1d
from bricks.demos._common import DemoResult, new_figure, save_figure

NAME = "mnist1d"
TITLE = "MNIST-1D: logistic regression, MLP, CNN and GRU on shifted 1-D digits"
CLAIM = ("On MNIST-1D, architectures that share weights across positions win: the paper "
         "reports logistic regression 32%, MLP 68%, CNN 94% and GRU 91% test accuracy, and "
         "bricks reproduces each within a few points with the same models and recipe.")

PAPER = {"logistic": 32.0, "MLP": 68.0, "CNN": 94.0, "GRU": 91.0}


class ResidualMLP(nn.Module):
    """The paper's MLP: h1 = relu(W1 x), h2 = h1 + relu(W2 h1), out = W3 h2."""

    def __init__(self, hidden: int = 100):
        super().__init__()
        self.linear1 = nn.Linear(40, hidden)
        self.linear2 = nn.Linear(hidden, hidden)
        self.linear3 = nn.Linear(hidden, 10)

    def forward(self, x):
        h = self.linear1(x).relu()
        h = h + self.linear2(h).relu()
        return self.linear3(h)


class ConvNet1d(nn.Module):
    """The paper's CNN: three stride-2 Conv1d layers (25 channels), then a linear layer."""

    def __init__(self, channels: int = 25):
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.linear = nn.Linear(channels * 5, 10)

    def forward(self, x):
        h = self.conv1(x.unsqueeze(1)).relu()
        h = self.conv2(h).relu()
        h = self.conv3(h).relu()
        return self.linear(h.flatten(1))


class BiGRU(nn.Module):
    """The paper's GRU: bidirectional, 6 hidden units, all 40 outputs into a linear layer."""

    def __init__(self, hidden: int = 6):
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden * 40, 10)

    def forward(self, x):
        out, _ = self.gru(x.unsqueeze(2))
        return self.linear(out.flatten(1))


def models():
    """The four models, in the paper's order."""
    return {"logistic": lambda: nn.Linear(40, 10), "MLP": ResidualMLP, "CNN": ConvNet1d,
            "GRU": BiGRU}


def train(model, X, y, X_test, y_test, steps: int, batch_size: int = 100, lr: float = 1e-2,
          eval_every: int = 250):
    """The paper's loop: Adam, batches taken in order (wrapping), test accuracy every
    ``eval_every`` steps; returns (steps, test accuracies in %)."""
    opt = bricks.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    Xt, yt = bricks.tensor(X), bricks.tensor(y)
    Xs, ys = bricks.tensor(X_test), bricks.tensor(y_test)
    curve_steps, curve = [], []
    n = len(X)
    for step in range(steps + 1):
        start = (step * batch_size) % n
        loss = loss_fn(model(Xt[start:start + batch_size]), yt[start:start + batch_size])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % eval_every == 0 or step == steps:
            with bricks.no_grad():
                acc = float((model(Xs).argmax(dim=1) == ys).float().mean()) * 100
            curve_steps.append(step)
            curve.append(acc)
    return curve_steps, curve


def run(out_dir, fast: bool = False) -> DemoResult:
    start = time.perf_counter()
    X, y = load_mnist1d("train")
    X_test, y_test = load_mnist1d("test")
    steps = 1000 if fast else 6000
    results, times = {}, {}
    for name, make in models().items():
        bricks.manual_seed(42)
        model = make()
        t0 = time.perf_counter()
        results[name] = train(model, X, y, X_test, y_test, steps)
        times[name] = time.perf_counter() - t0
    final = {name: curve[-1] for name, (_, curve) in results.items()}
    lines = [f"MNIST-1D: {len(X)} train / {len(X_test)} test signals of length 40; Adam lr "
             f"0.01, batch 100, {steps} steps (the paper: 6000).", "",
             f"{'model':<10}{'bricks':>9}{'paper':>8}{'diff':>8}{'params':>9}{'time':>8}"]
    for name in results:
        params = make_params(name)
        lines.append(f"{name:<10}{final[name]:>8.1f}%{PAPER[name]:>7.0f}%"
                     f"{final[name] - PAPER[name]:>+8.1f}{params:>9,}{times[name]:>7.1f}s")
    figure = _plot(results, final, out_dir)
    lines.append(f"({time.perf_counter() - start:.1f} s)")
    checks = {f"{name}_accuracy": final[name] for name in final}
    checks["steps"] = steps
    return DemoResult(CLAIM, lines, [figure], checks)


def make_params(name: str) -> int:
    return models()[name]().num_parameters()


def _plot(results, final, out_dir):
    fig = new_figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    names = list(results)
    xs = range(len(names))
    ax1.bar([x - 0.2 for x in xs], [final[n] for n in names], width=0.4, label="bricks",
            color="tab:blue")
    ax1.bar([x + 0.2 for x in xs], [PAPER[n] for n in names], width=0.4, label="paper",
            color="tab:gray")
    for x, n in zip(xs, names):
        ax1.text(x - 0.2, final[n] + 1, f"{final[n]:.0f}", ha="center", fontsize=9)
    ax1.set_xticks(list(xs))
    ax1.set_xticklabels(names)
    ax1.set_ylabel("test accuracy (%)")
    ax1.set_ylim(0, 105)
    ax1.set_title("Final test accuracy: bricks vs the MNIST-1D paper")
    ax1.legend()
    for n in names:
        steps, curve = results[n]
        ax2.plot(steps, curve, label=n)
    ax2.set_xlabel("training step (batch of 100)")
    ax2.set_ylabel("test accuracy (%)")
    ax2.set_title("Test accuracy during training")
    ax2.grid(True, alpha=0.3)
    ax2.legend()
    return save_figure(fig, out_dir, "mnist1d_accuracy.png")
