"""Exports of a playground session: its weights (safetensors), its points (CSV) and a
runnable bricks script that rebuilds its data, model and optimizer.
"""

from __future__ import annotations

import io

import bricks.optim as optim
from bricks.backend import xp
from bricks.playground.data import feature_code
from bricks.playground.model import ACTIVATION_MODULES, INITIALIZERS, layer_specs, optimizer_options

__all__ = ["weights", "points_csv", "script", "DOWNLOADS"]

# A layer of model.layer_specs as the code that builds it in the script.
_MODULE_CODE = {
    "linear": lambda arg: f"nn.Linear({arg[0]}, {arg[1]})",
    "batch_norm": lambda arg: f"nn.BatchNorm1d({arg})",
    "activation": lambda arg: f"nn.{ACTIVATION_MODULES[arg].__name__}()",
    "dropout": lambda arg: f"nn.Dropout({arg})",
}


def weights(s) -> bytes:
    """The model's ``state_dict`` as safetensors bytes (read with ``bricks.io.load``); the
    caller holds the session's lock."""
    from safetensors.numpy import save as st_save

    # xp.array, not ascontiguousarray: that one turns a 0-d buffer (batch norm's
    # num_batches_tracked) into shape (1,), which load_state_dict then refuses.
    state = {k: xp.array(v.data, order="C") for k, v in s.model.state_dict().items()}
    meta = {"format": "bricks", "source": "bricks playground",
            "features": ",".join(s.config["features"]), "epoch": str(s.epoch)}
    return st_save(state, metadata=meta)


def points_csv(s) -> str:
    """Train and test points as CSV: ``x1,x2,label,split`` (the caller holds the lock)."""
    buf = io.StringIO()
    buf.write("x1,x2,label,split\n")
    for (x1, x2), y, t in zip(s.X.tolist(), s.y.tolist(), s.is_test.tolist()):
        label = y if s.task == "classification" else f"{y:.6g}"
        buf.write(f"{x1:.6g},{x2:.6g},{label},{'test' if t else 'train'}\n")
    return buf.getvalue()


def script(s) -> str:
    """A runnable bricks script that rebuilds the data, model and optimizer of session ``s``
    (the caller holds its lock): by default it loads the exported weights and prints their
    losses, with ``--retrain`` it trains from new initial weights."""
    c = s.config
    # The points exactly as the session holds them (float32 values round-trip through
    # their shortest repr), so the loaded weights reproduce the playground's numbers.
    X_tr = s.X_train.tolist()
    X_te = s.X_test.tolist()
    cast = lambda v: v.tolist()  # noqa: E731
    lines = [f"    {_MODULE_CODE[kind](arg)}," for kind, arg in layer_specs(c, s.n_outputs)]
    init_name, init_kwargs = INITIALIZERS[c["init"]]
    kw = "".join(f", {k}={v!r}" for k, v in init_kwargs.items())
    if c["zero_init"]:
        init_line = "        nn.init.zeros_(m.weight)"
    else:
        init_line = f"        nn.init.{init_name}(m.weight{kw}, generator=rng)"
    options = optimizer_options(c)
    opt = "".join(f", {k}=" + ("LR" if k == "lr" else repr(v)) for k, v in options.items())
    opt = f"optim.create({c['optimizer']!r}, model.parameters(){opt})"
    feats = ", ".join(feature_code(f) for f in c["features"])
    if s.task == "regression":
        target = "y.astype(xp.float32)[:, None]"
        loss = "F.mse_loss(z, t)"
    elif s.n_classes == 2 and c["loss"] == "mse":
        target = "(2.0 * y - 1.0).astype(xp.float32)[:, None]"
        loss = "F.mse_loss(z.tanh(), t)"
    elif s.n_classes == 2:
        target = "y.astype(xp.float32)[:, None]"
        loss = "F.binary_cross_entropy_with_logits(z, t)"
    elif c["loss"] == "mse":
        target = f"xp.eye({s.n_classes}, dtype=xp.float32)[y]"
        loss = "F.mse_loss(z.softmax(dim=1), t)"
    else:
        target = "y.astype(xp.int64)"
        loss = "F.cross_entropy(z, t)"
    if c["regularization"] != "none" and c["reg_rate"] > 0:
        pen = "l1_penalty" if c["regularization"] == "l1" else "l2_penalty"
        penalty = (f"    loss = loss + {c['reg_rate']!r} * nn.{pen}"
                   f"([m.weight for m in model if isinstance(m, nn.Linear)])\n")
    else:
        penalty = ""
    if s.task == "classification":
        pred = ("(zt.data[:, 0] > 0).astype(xp.int64)" if s.n_classes == 2
                else "zt.data.argmax(1)")
        metric = ("        acc = float((" + pred + " == y_test).mean()) if len(y_test) "
                  "else float('nan')\n"
                  '        print(f"epoch {epoch}: train loss {tr:.4f}, test loss {te:.4f}, '
                  'test accuracy {acc:.3f}")')
    else:
        metric = '        print(f"epoch {epoch}: train loss {tr:.4f}, test loss {te:.4f}")'
    if s.task == "classification":
        metric_loaded = ("    acc = float((" + pred + " == y_test).mean()) if len(y_test) "
                         "else float('nan')\n"
                         '    print(f"loaded {path}: train loss {tr!r}, test loss {te!r}, '
                         'test accuracy {acc!r}")')
    else:
        metric_loaded = '    print(f"loaded {path}: train loss {tr!r}, test loss {te!r}")'
    if optim.OPTIMIZERS[c["optimizer"]].full_batch:
        loop = """        def closure():
            optimizer.zero_grad()
            loss = objective(F_train, T_train)
            loss.backward()
            return loss
        optimizer.step(closure)
"""
    else:
        loop = f"""        order = rng.permutation(len(F_train))
        for s in range(0, len(order), {c['batch_size']}):
            idx = order[s:s + {c['batch_size']}]
            optimizer.zero_grad()
            loss = objective(F_train[idx], T_train[idx])
            loss.backward()
            optimizer.step()
"""
    ydt = "xp.int64" if s.task == "classification" else "xp.float32"
    return f'''"""A network exported from the bricks playground.

Data set: {c["dataset"]} ({len(s.y_train)} train / {len(s.y_test)} test points),
features: {", ".join(c["features"])}, hidden layers: {c["hidden"]},
optimizer: {c["optimizer"]}, learning rate: {c["lr"]}, loss: {c["loss"]}.
Run: python this_script.py                 # load the exported weights, evaluate them
     python this_script.py --retrain --epochs 100   # train from new initial weights
The weights are the playground's "weights (.safetensors)" export, looked for next to this
script as bricks_playground.safetensors (or give --weights PATH).
"""

import argparse
import sys
from pathlib import Path

import bricks
import bricks.io
import bricks.nn as nn
import bricks.nn.functional as F
import bricks.optim as optim
from bricks.backend import xp

LR = {c["lr"]!r}
SEED = {c["seed"]!r}

X_train = xp.asarray({X_tr!r}, dtype=xp.float32).reshape(-1, 2)
y_train = xp.asarray({cast(s.y_train)!r}, dtype={ydt})
X_test = xp.asarray({X_te!r}, dtype=xp.float32).reshape(-1, 2)
y_test = xp.asarray({cast(s.y_test)!r}, dtype={ydt})


def features(X):
    """The input features: {", ".join(c["features"])}."""
    return xp.stack([{feats}], axis=1).astype(xp.float32)


def targets(y):
    return {target}


def objective(F_batch, T_batch):
    z = model(bricks.tensor(F_batch))
    t = bricks.tensor(T_batch)
    loss = {loss}
{penalty}    return loss


model = nn.Sequential(
{chr(10).join(lines)}
)
rng = xp.random.default_rng(SEED)
with bricks.no_grad():
    for m in model:
        if not isinstance(m, nn.Linear):
            continue
{init_line}
        nn.init.zeros_(m.bias)
optimizer = {opt}

F_train, T_train = features(X_train), targets(y_train)
F_test, T_test = features(X_test), targets(y_test)


def evaluate(F_eval, T_eval):
    model.eval()
    with bricks.no_grad():
        z = model(bricks.tensor(F_eval))
        t = bricks.tensor(T_eval)
        value = float({loss}.item()) if len(F_eval) else float("nan")
    model.train()
    return value, z


def train(epochs):
    for epoch in range(1, epochs + 1):
        model.train()
{loop}        tr, _ = evaluate(F_train, T_train)
        te, zt = evaluate(F_test, T_test)
{metric}
    return model


def load_weights(path):
    """Put the playground's exported weights (a safetensors state_dict) into the model."""
    if not Path(path).is_file():
        print(f"no weights at {{path}}: download them from the playground (Export, "
              f"weights .safetensors), pass --weights PATH, or train with --retrain",
              file=sys.stderr)
        sys.exit(2)
    model.load_state_dict(bricks.io.load(path))
    tr, _ = evaluate(F_train, T_train)
    te, zt = evaluate(F_test, T_test)
{metric_loaded}
    return model


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(Path(__file__).with_name(
        "bricks_playground.safetensors")), help="the exported weights (safetensors)")
    parser.add_argument("--retrain", action="store_true",
                        help="train from new initial weights instead of loading them")
    parser.add_argument("--epochs", type=int, default=100, help="epochs with --retrain")
    args = parser.parse_args()
    if args.retrain:
        train(args.epochs)
    else:
        load_weights(args.weights)
'''


# The downloads (GET /api/sessions/{id}/export/{kind}): kind -> (the function of the
# session, media type, file name).
DOWNLOADS = {
    "script": (script, "text/x-python", "bricks_playground_model.py"),
    "weights": (weights, "application/octet-stream", "bricks_playground.safetensors"),
    "data": (points_csv, "text/csv", "bricks_playground_data.csv"),
}
