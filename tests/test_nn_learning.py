"""An MLP snapped together from bricks learns: XOR to 100%, two moons to >= 97%.

There is no optimizer in this test on purpose: the loop is the lecture's plain gradient
descent, ``w <- w - lr * dL/dw``, written out with ``no_grad`` and ``sub_``.
"""

import math
import time

import numpy as np
import pytest

import bricks
import bricks.nn as nn


def _activation(name):
    # bricks.nn.Tanh / ReLU when the activation module is there; otherwise the same thing
    # built from the engine's own ops, so this test only measures Module + Linear + autograd.
    if hasattr(nn, name):
        return getattr(nn, name)()

    class Act(nn.Module):
        def forward(self, x):
            return x.tanh() if name == "Tanh" else x.relu()

    return Act()


def mlp(sizes, act):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(_activation(act))
    return nn.Sequential(*layers)


def cross_entropy(logits, labels):
    # -mean log softmax(logits)[label], written with engine ops (losses live in nn.loss).
    onehot = bricks.tensor(np.eye(logits.shape[1], dtype=np.float32)[labels])
    return -(logits.log_softmax(dim=1) * onehot).sum(dim=1).mean()


def train(model, x, y, lr, steps):
    losses = []
    for _ in range(steps):
        model.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        with bricks.no_grad():
            for p in model.parameters():
                p.sub_(lr * p.grad)
        losses.append(loss.item())
    return losses


def accuracy(model, x, y):
    with bricks.no_grad():
        pred = model(x).argmax(dim=1).numpy()
    return float((pred == y).mean())


def two_moons(n=400, noise=0.15, seed=0):
    """Two interleaving half circles (scikit-learn's make_moons), in NumPy."""
    rng = np.random.default_rng(seed)
    t_out = rng.uniform(0, math.pi, n // 2)
    t_in = rng.uniform(0, math.pi, n - n // 2)
    outer = np.stack([np.cos(t_out), np.sin(t_out)], axis=1)
    inner = np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1)
    x = np.concatenate([outer, inner]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n // 2, dtype=np.int64), np.ones(n - n // 2, dtype=np.int64)])
    return x.astype(np.float32), y


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("act", ["Tanh", "ReLU"])
def test_mlp_learns_xor(act):
    bricks.manual_seed(0)
    model = mlp([2, 8, 2], act)
    x = bricks.tensor(XOR_X)
    losses = train(model, x, XOR_Y, lr=0.5, steps=400)
    assert accuracy(model, x, XOR_Y) == 1.0
    assert losses[-1] < 0.05 < losses[0]


def test_xor_is_not_linearly_separable_for_a_single_linear_layer():
    # The reason for the hidden layer: the same loop on a linear model cannot reach 100%.
    bricks.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2))
    x = bricks.tensor(XOR_X)
    train(model, x, XOR_Y, lr=0.5, steps=500)
    assert accuracy(model, x, XOR_Y) <= 0.75


def test_training_is_reproducible_under_manual_seed():
    runs = []
    for _ in range(2):
        bricks.manual_seed(3)
        model = mlp([2, 8, 2], "Tanh")
        runs.append(train(model, bricks.tensor(XOR_X), XOR_Y, lr=0.5, steps=50))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("act", ["Tanh", "ReLU"])
def test_mlp_learns_two_moons(act):
    x_np, y = two_moons(400, noise=0.15, seed=0)
    bricks.manual_seed(0)
    model = mlp([2, 32, 32, 2], act)
    x = bricks.tensor(x_np)
    start = time.perf_counter()
    losses = train(model, x, y, lr=0.5, steps=500)
    elapsed = time.perf_counter() - start
    assert accuracy(model, x, y) >= 0.97
    assert losses[-1] < losses[0] / 5
    assert elapsed < 10

    # it generalizes: a fresh draw of the same distribution is classified as well
    x_test, y_test = two_moons(400, noise=0.15, seed=1)
    model.eval()
    assert accuracy(model, bricks.tensor(x_test), y_test) >= 0.95
