"""Network paralysis: gradients vanish through a deep sigmoid MLP, not through a ReLU one.

Backpropagation multiplies the gradient, layer by layer, by ``W^T`` and by the activation's
derivative.  The sigmoid's derivative is at most 1/4, so through a deep sigmoid MLP the
gradient reaching the first layers shrinks geometrically: they do not learn, and the whole
net stays at chance (the lecture's "network paralysis").  ReLU's derivative is 1 where the
unit is active, and with He initialization (variance 2 / fan_in) the gradient keeps its
size from the last layer to the first.  The demo measures each layer's gradient norm at
initialization and trains both nets with the same optimizer and steps on two moons.
"""

from __future__ import annotations

import math
import time

import bricks
from bricks import nn
from bricks.backend import to_numpy, xp
from bricks.data import datasets
from bricks.demos._common import DemoResult, compiled_loss, compiled_step, new_figure, save_figure

NAME = "vanishing-gradients"
TITLE = "Vanishing gradients: deep sigmoid MLP versus ReLU with He init"
CLAIM = ("In a deep sigmoid MLP the gradient shrinks by a factor (at most 1/4 per layer) on "
         "its way back: the first layer's gradient is many orders of magnitude below the "
         "last's and the net does not learn (network paralysis). The same net with ReLU and "
         "He initialization keeps gradients of the same order in every layer and learns.")

WIDTH = 32


def _build(activation: str, depth: int) -> nn.Sequential:
    """``depth`` hidden layers of WIDTH units, then a 2-way output layer."""
    layers, fan_in = [], 2
    for _ in range(depth):
        lin = nn.Linear(fan_in, WIDTH)
        if activation == "sigmoid, Xavier init":
            nn.init.xavier_normal_(lin.weight)
            nn.init.zeros_(lin.bias)
        elif activation == "ReLU, He init":
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
        layers += [lin, nn.ReLU() if activation.startswith("ReLU") else nn.Sigmoid()]
        fan_in = WIDTH
    layers.append(nn.Linear(fan_in, 2))
    return nn.Sequential(*layers)


def _linears(net):
    return [m for m in net if isinstance(m, nn.Linear)]


def _grad_norms(net, X, y, loss_fn):
    """Per layer, first to last, on all of X: the weight gradients |dL/dW_l| (Frobenius), and
    the backpropagated signal |dL/dz_l| at every hidden layer's pre-activation z_l."""
    h, zs = X, []
    for m in net:
        h = m(h)
        if isinstance(m, nn.Linear):
            zs.append(h)
    loss = loss_fn(h, y)
    weights = [m.weight for m in _linears(net)]
    grads = bricks.grad(loss, weights + zs[:-1])
    norms = [math.sqrt(float((g ** 2).sum())) for g in grads]
    return norms[:len(weights)], norms[len(weights):]


def _train(net, X, y, loss_fn, steps, batch, lr, every):
    """Mini-batch SGD with momentum; the full training loss every ``every`` steps."""
    opt = bricks.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    Xt, yt = bricks.tensor(X), bricks.tensor(y)
    rng = xp.random.default_rng(0)  # the same batches for every net
    update, full_loss = compiled_step(net, loss_fn, opt), compiled_loss(net, loss_fn)
    curve = []
    for step in range(steps + 1):
        if step % every == 0:
            curve.append((step, float(full_loss(Xt, yt))))
        if step == steps:
            break
        idx = rng.choice(len(y), batch, replace=False)
        update(bricks.tensor(X[idx]), bricks.tensor(y[idx]))
    with bricks.no_grad():
        acc = float((to_numpy(net(Xt).data).argmax(1) == y).mean())
    return curve, acc


def run(out_dir, fast: bool = False) -> DemoResult:
    """Gradient norms per layer at init and training curves, sigmoid versus ReLU."""
    start = time.perf_counter()
    depth = 10 if fast else 15
    steps = 150 if fast else 400
    lr, batch = 0.05, 64
    X, y = datasets.make_moons(400, noise=0.1, seed=0)
    X = ((X - X.mean(0)) / X.std(0)).astype(xp.float32)
    Xt, yt = bricks.tensor(X), bricks.tensor(y)
    loss_fn = nn.CrossEntropyLoss()

    kinds = ["sigmoid, default init", "sigmoid, Xavier init", "ReLU, He init"]
    norms, signals, curves, accs = {}, {}, {}, {}
    for kind in kinds:
        bricks.manual_seed(0)
        net = _build(kind, depth)
        norms[kind], signals[kind] = _grad_norms(net, Xt, yt, loss_fn)
        curves[kind], accs[kind] = _train(net, X, y, loss_fn, steps, batch, lr, every=5)

    ratio = {k: norms[k][0] / norms[k][-1] for k in kinds}
    signal_ratio = {k: signals[k][0] / signals[k][-1] for k in kinds}
    final = {k: curves[k][-1][1] for k in kinds}
    col = 24
    lines = [f"two moons (400 points), MLP with {depth} hidden layers of {WIDTH} units, "
             f"cross-entropy; chance loss ln 2 = {math.log(2):.3f}",
             "",
             "at initialization, per layer (1 = input side): the weight gradient |dL/dW| and "
             "the backpropagated",
             "signal |dL/dz| at the hidden layer's pre-activation z (layer "
             f"{depth + 1} is the output layer):",
             f"{'layer':>8}" + "".join(f"{k:>{col}}" for k in kinds)]
    for i in range(depth + 1):
        cells = []
        for k in kinds:
            sig = f"{signals[k][i]:.1e}" if i < depth else "-".center(7)
            cells.append(f"{norms[k][i]:.1e} | {sig}".rjust(col))
        lines.append(f"{i + 1:>8}" + "".join(cells))
    lines += ["first/last" + "".join(
                  f"{ratio[k]:.1e} | {signal_ratio[k]:.1e}".rjust(col) for k in kinds)[2:],
              "",
              f"training: SGD (lr {lr}, momentum 0.9), batches of {batch}, {steps} steps, "
              f"the same batches for every net:",
              f"  {'network':<24}{'initial loss':>14}{'final loss':>12}{'accuracy':>10}"]
    for k in kinds:
        lines.append(f"  {k:<24}{curves[k][0][1]:>14.3f}{final[k]:>12.4f}{accs[k]:>10.0%}")

    fig = new_figure(figsize=(16, 4.8), layout="constrained")
    ax1, ax2, ax3 = (fig.add_subplot(1, 3, i) for i in (1, 2, 3))
    layers = list(range(1, depth + 2))
    styles = {kinds[0]: ("tab:red", "o"), kinds[1]: ("tab:orange", "^"),
              kinds[2]: ("tab:green", "s")}
    for k in kinds:
        color, marker = styles[k]
        ax1.semilogy(layers, norms[k], marker=marker, color=color,
                     label=f"{k} (first/last {ratio[k]:.0e})")
        ax2.semilogy(layers[:-1], signals[k], marker=marker, color=color,
                     label=f"{k} (first/last {signal_ratio[k]:.0e})")
        steps_k, losses = zip(*curves[k])
        ax3.plot(steps_k, losses, color=color, label=k)
    for ax, what in ((ax1, "weight gradient |dL/dW| (log)"),
                     (ax2, "backpropagated signal |dL/dz| (log)")):
        ax.set_xlabel("layer (1 = input side; gradients flow right to left)")
        ax.set_ylabel(what)
        ax.set_xticks(layers if ax is ax1 else layers[:-1])
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_title(f"Per-layer weight gradients at init, {depth} hidden layers")
    ax2.set_title("Per-layer backpropagated signal at init")
    ax3.axhline(math.log(2), color="0.5", ls=":", label="chance (ln 2)")
    ax3.set_xlabel("SGD step")
    ax3.set_ylabel("training loss (cross-entropy)")
    ax3.set_title("Training curves: the sigmoid nets are paralysed")
    ax3.set_ylim(bottom=0)
    ax3.grid(True, alpha=0.3)
    ax3.legend(fontsize=8)
    figures = [save_figure(fig, out_dir, "vanishing_gradients.png")]

    seconds = time.perf_counter() - start
    lines.append(f"\n({seconds:.1f} s)")
    checks = {
        "depth": depth,
        "sigmoid_grad_ratio": ratio[kinds[0]],
        "sigmoid_xavier_grad_ratio": ratio[kinds[1]],
        "relu_grad_ratio": ratio[kinds[2]],
        "sigmoid_signal_ratio": signal_ratio[kinds[0]],
        "relu_signal_ratio": signal_ratio[kinds[2]],
        "sigmoid_final_loss": final[kinds[0]],
        "relu_final_loss": final[kinds[2]],
        "sigmoid_accuracy": accs[kinds[0]],
        "relu_accuracy": accs[kinds[2]],
        "seconds": seconds,
    }
    return DemoResult(CLAIM, lines, figures, checks)
