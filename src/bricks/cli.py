"""The ``bricks`` command: train, evaluate and use a model without writing code.

    bricks train                      an MLP on the bundled MNIST digits, ~97% in seconds
    bricks train --data moons --model mlp:16,16 --epochs 50 --out runs/moons
    bricks evaluate runs/run-001      loss and metrics on the run's held-out test split
    bricks predict runs/run-001 digit.png
    bricks datasets                   what ``--data`` accepts

A run folder holds ``checkpoint.safetensors`` (weights, optimizer, scaler, random state and,
in its metadata, the configuration and data description that rebuild the model),
``config.toml``, ``history.csv``, ``history.json`` and PNG plots.  See docs/cli.md.

Errors the user can fix (a bad option, an unknown dataset, a missing or corrupt file) end
with one line ``bricks: error: ...`` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import os
import sys
import time
from pathlib import Path

from bricks.backend import manual_seed, xp

__all__ = ["main", "build_parser", "DEFAULTS"]

CHECKPOINT = "checkpoint.safetensors"

DEFAULTS = {
    "data": "mnist",
    "target": None,
    "task": None,
    "model": "mlp:512,256",
    "activation": "relu",
    "dropout": 0.2,
    "batch_norm": False,
    "optimizer": "adam",
    "lr": None,            # None: the optimizer's own default (OPTIMIZERS)
    "epochs": 30,
    "batch_size": 128,
    "seed": 0,
    "test_size": 0.15,
    "scaler": "standard",
    "augment": None,       # None: shift by 1 pixel for image data, nothing otherwise
    "image_size": None,    # --data FOLDER: resize every image to HxW (None: keep)
    "image_mode": "RGB",   # --data FOLDER: RGB or L (grey)
    "schedule": "cosine",
    "threads": 1,
    "out": None,
    "quiet": False,
}
"""Every option of ``bricks train`` and its default; a ``--config`` file may set each."""

# name -> (class name in bricks.optim, default lr, extra keyword arguments)
OPTIMIZERS = {
    "sgd": ("SGD", 0.1, {}),
    "momentum": ("SGD", 0.05, {"momentum": 0.9}),
    "nesterov": ("SGD", 0.05, {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", 0.01, {}),
    "rmsprop": ("RMSprop", 0.001, {}),
    "adadelta": ("Adadelta", 1.0, {}),
    "adam": ("Adam", 0.002, {}),
    "adamw": ("AdamW", 0.002, {}),
    "lbfgs": ("LBFGS", 1.0, {}),
}
TASKS = ("classification", "regression")
SCALERS = ("standard", "minmax", "none")
AUGMENTS = ("shift", "rotate", "noise", "none")
SCHEDULES = ("cosine", "step", "none")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
# Options that a resumed run may change; the others must match the checkpoint.
RESUMABLE = ("epochs", "out", "quiet", "threads")


class CLIError(Exception):
    """A mistake the user can fix; printed as one line, exit status 2."""


# ---------------------------------------------------------------- argument parsing
class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (``bricks: error: ...``) and exit status 2."""

    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _add_train_options(p):
    S = argparse.SUPPRESS  # only options given on the command line reach the namespace
    d = DEFAULTS
    p.add_argument("--config", metavar="FILE.toml", default=S,
                   help="read options from a TOML file (command-line flags win)")
    p.add_argument("--data", default=S, metavar="NAME_OR_FILE",
                   help=f"a dataset name (see 'bricks datasets') or a .csv/.npz file "
                        f"(default: {d['data']})")
    p.add_argument("--target", default=S, metavar="COLUMN",
                   help="target column of a CSV file (name or 0-based index; default: the "
                        "last) or key of an NPZ file (default: y, features under X)")
    p.add_argument("--task", choices=TASKS, default=S,
                   help="classification or regression (default: from the dataset, or "
                        "inferred from the target values)")
    p.add_argument("--model", default=S, metavar="SPEC",
                   help=f"'mlp:W1,W2,...' hidden widths, or 'linear' (default: {d['model']})")
    p.add_argument("--activation", default=S,
                   help=f"hidden activation: relu, tanh, sigmoid, gelu, ... (default: "
                        f"{d['activation']})")
    p.add_argument("--dropout", type=float, default=S, metavar="P",
                   help="dropout probability after each hidden layer (default: 0.2)")
    p.add_argument("--batch-norm", dest="batch_norm", action="store_true", default=S,
                   help="batch normalization after each hidden linear layer")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), default=S,
                   help=f"update rule (default: {d['optimizer']})")
    p.add_argument("--lr", type=float, default=S,
                   help="learning rate (default: the optimizer's, e.g. 0.002 for adam)")
    p.add_argument("--epochs", type=_positive_int, default=S,
                   help=f"passes over the training data (default: {d['epochs']})")
    p.add_argument("--batch-size", dest="batch_size", type=_positive_int, default=S,
                   help=f"samples per update (default: {d['batch_size']}; lbfgs: all)")
    p.add_argument("--seed", type=int, default=S,
                   help=f"seed of the split, initialization, shuffling and augmentation "
                        f"(default: {d['seed']})")
    p.add_argument("--test-size", dest="test_size", type=float, default=S,
                   help=f"held-out test fraction, stratified for classification "
                        f"(default: {d['test_size']})")
    p.add_argument("--scaler", choices=SCALERS, default=S,
                   help="input normalization fitted on the training split (default: "
                        "standard)")
    p.add_argument("--augment", choices=AUGMENTS, default=S,
                   help="image augmentation (default: shift for images, none otherwise)")
    p.add_argument("--image-size", dest="image_size", default=S, metavar="HxW",
                   help="--data FOLDER: resize every image to H x W pixels (e.g. 64x64, or "
                        "64; needed when the images differ in size)")
    p.add_argument("--image-mode", dest="image_mode", choices=("RGB", "L"), default=S,
                   help="--data FOLDER: read images as RGB or grey (L) (default: RGB)")
    p.add_argument("--schedule", choices=SCHEDULES, default=S,
                   help=f"learning-rate schedule per epoch (default: {d['schedule']})")
    p.add_argument("--threads", type=_positive_int, default=S,
                   help="BLAS threads (default: 1; small layers gain nothing from more)")
    p.add_argument("--out", default=S, metavar="DIR",
                   help="run folder (default: runs/run-NNN, the next free number)")
    p.add_argument("--resume", default=S, metavar="RUN_OR_CHECKPOINT",
                   help="continue a run from its last checkpoint up to --epochs")
    p.add_argument("--quiet", action="store_true", default=S,
                   help="no progress output, only the result lines")


def build_parser() -> argparse.ArgumentParser:
    """The ``bricks`` argument parser with its subcommands."""
    parser = _Parser(prog="bricks", description="Train, evaluate and use bricks models.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    train = sub.add_parser("train", help="train a model and write a run folder",
                           description="Train a model (default: an MLP on the bundled "
                                       "MNIST-10k) and write a run folder.")
    _add_train_options(train)

    ev = sub.add_parser("evaluate", help="loss and metrics of a trained model",
                        description="Evaluate a run on its held-out test split, or on all "
                                    "of --data.")
    ev.add_argument("run", metavar="RUN_OR_CHECKPOINT")
    ev.add_argument("--data", help="evaluate on all of this dataset or file instead")
    ev.add_argument("--target", help="target column/key of a --data file")
    ev.add_argument("--batch-size", dest="batch_size", type=_positive_int, default=512)
    ev.add_argument("--threads", type=_positive_int, default=1)

    pr = sub.add_parser("predict", help="predictions of a trained model",
                        description="Predict for the samples of a .npy or .csv file, "
                                    "for one image file (PNG, JPEG, ...), or, for a model "
                                    "trained on text (--data reviews), for a quoted text "
                                    "or a .txt file with one text per line.")
    pr.add_argument("run", metavar="RUN_OR_CHECKPOINT")
    pr.add_argument("input", metavar="INPUT")
    pr.add_argument("--output", metavar="FILE.csv", help="also write the predictions here")
    pr.add_argument("--batch-size", dest="batch_size", type=_positive_int, default=512)
    pr.add_argument("--threads", type=_positive_int, default=1)

    sub.add_parser("datasets", help="list the datasets --data accepts",
                   description="List the datasets that --data accepts by name.")

    demo = sub.add_parser("demo", help="run a lecture's claim as a demo (--list to see them)",
                          description="Run a demo that reproduces one claim a lecture makes: "
                                      "it prints the claim and the numbers that show it and "
                                      "saves its figures as PNG.")
    demo.add_argument("name", nargs="?", metavar="NAME", help="the demo to run")
    demo.add_argument("--list", action="store_true", help="list the demos")
    demo.add_argument("--out", default="demos", metavar="DIR",
                      help="folder for the figures (default: demos/NAME)")
    demo.add_argument("--fast", action="store_true",
                      help="the small setting the tests use (seconds)")
    demo.add_argument("--threads", type=_positive_int, default=1)
    demo.add_argument("--model", metavar="MODEL",
                      help="the model a demo uses where it offers a choice (text: ngram, "
                           "gru or lstm)")

    play = sub.add_parser("playground", help="train a network live in the browser",
                          description="Start the local playground server and open its page.")
    play.add_argument("--host", default="127.0.0.1",
                      help="address to bind (default: 127.0.0.1, this machine only)")
    play.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    play.add_argument("--no-browser", dest="open_browser", action="store_false",
                      help="do not open a browser tab")
    play.add_argument("--threads", type=_positive_int, default=1)
    return parser


# ---------------------------------------------------------------- configuration
def _read_toml(path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise CLIError("reading --config needs Python 3.11+ or the tomli package "
                           "(pip install tomli)") from None
    from bricks.io import read_bytes

    try:
        data = tomllib.loads(read_bytes(path, max_bytes=2**20, what="config file")
                             .decode("utf-8"))
    except FileNotFoundError:
        raise CLIError(f"config file not found: {path}") from None
    except UnicodeDecodeError as err:
        raise CLIError(f"{path} is not UTF-8 text: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise CLIError(f"bad TOML in {path}: {err}") from None
    except RecursionError:
        raise CLIError(f"bad TOML in {path}: nested too deeply") from None
    if isinstance(data.get("train"), dict):  # a [train] table, or top-level keys
        data = {**{k: v for k, v in data.items() if k != "train"}, **data["train"]}
    out = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in DEFAULTS and name != "resume":
            raise CLIError(f"{path}: unknown option {key!r}; options: "
                           f"{', '.join(k.replace('_', '-') for k in DEFAULTS)}")
        out[name] = value
    return out


def _check_config(cfg: dict) -> dict:
    """Types and ranges of every option (a config file skips argparse's checks)."""
    def need(ok, what):
        if not ok:
            raise CLIError(what)

    for key in ("epochs", "batch_size", "threads"):
        v = cfg[key]
        need(isinstance(v, int) and not isinstance(v, bool) and v >= 1,
             f"{key.replace('_', '-')} must be a positive integer, got {v!r}")
    need(isinstance(cfg["seed"], int) and not isinstance(cfg["seed"], bool)
         and 0 <= cfg["seed"] < 2**32,
         f"seed must be an integer from 0 to 2**32-1, got {cfg['seed']!r}")
    for key in ("dropout", "test_size"):
        v = cfg[key]
        need(isinstance(v, (int, float)) and not isinstance(v, bool),
             f"{key.replace('_', '-')} must be a number, got {v!r}")
        cfg[key] = float(v)
    need(0.0 <= cfg["dropout"] < 1.0, f"dropout must be in [0, 1), got {cfg['dropout']}")
    need(0.0 < cfg["test_size"] < 1.0,
         f"test-size must be a fraction in (0, 1), got {cfg['test_size']}")
    if cfg["lr"] is not None:
        need(isinstance(cfg["lr"], (int, float)) and not isinstance(cfg["lr"], bool)
             and math.isfinite(cfg["lr"]) and cfg["lr"] > 0,
             f"lr must be a positive finite number, got {cfg['lr']!r}")
        cfg["lr"] = float(cfg["lr"])
    for key, choices in (("optimizer", OPTIMIZERS), ("scaler", SCALERS),
                         ("schedule", SCHEDULES)):
        need(cfg[key] in choices, f"{key} must be one of {', '.join(choices)}, got "
                                  f"{cfg[key]!r}")
    need(cfg["task"] is None or cfg["task"] in TASKS,
         f"task must be classification or regression, got {cfg['task']!r}")
    need(cfg["augment"] is None or cfg["augment"] in AUGMENTS,
         f"augment must be one of {', '.join(AUGMENTS)}, got {cfg['augment']!r}")
    for key in ("batch_norm", "quiet"):
        need(isinstance(cfg[key], bool), f"{key.replace('_', '-')} must be true or false, "
                                         f"got {cfg[key]!r}")
    for key in ("data", "model", "activation"):
        need(isinstance(cfg[key], str), f"{key} must be a string, got {cfg[key]!r}")
    need(cfg["image_mode"] in ("RGB", "L"), f"image-mode must be RGB or L, got "
                                            f"{cfg['image_mode']!r}")
    if cfg["image_size"] is not None:
        cfg["image_size"] = _image_size(cfg["image_size"])
    if cfg["target"] is not None:
        cfg["target"] = str(cfg["target"])
    return cfg


def _image_size(value) -> str:
    """'64' or '64x48' (or an int from a config file) -> 'HxW', checked."""
    text = str(value).strip().lower()
    parts = text.split("x") if "x" in text else [text, text]
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise CLIError(f"image-size must be HxW or one size in pixels (e.g. 64x64), got "
                       f"{value!r}")
    return f"{int(parts[0])}x{int(parts[1])}"


def _saved_config(cfg: dict) -> dict:
    """The options a run folder records: all but where it was written (``out``), which a
    resumed or rerun run must never take from a file."""
    return {k: v for k, v in cfg.items() if k not in ("out", "resume")}


def _toml_text(cfg: dict, run: str) -> str:
    from bricks.io import toml_dumps

    return toml_dumps({k.replace("_", "-"): v for k, v in _saved_config(cfg).items()},
                      comment=f"bricks train configuration; rerun with: bricks train "
                              f"--config {os.path.join(run, 'config.toml')}")


@contextlib.contextmanager
def _blas_threads(n: int):
    """Limit BLAS to ``n`` threads: for layers this small, extra threads mostly wait (and
    on a busy machine they slow training down many times)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


# ---------------------------------------------------------------- data
def _is_file_spec(data: str) -> bool:
    return data.lower().endswith((".csv", ".npz", ".npy")) or os.sep in data or (
        os.path.exists(data) and not os.path.isdir(data))


def _read_csv(path):
    """(header or None, rows of strings); a first row with any non-number is a header."""
    from bricks.io import open_regular

    try:
        with open_regular(path, what="CSV file") as raw, \
                io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except FileNotFoundError:
        raise CLIError(f"file not found: {path}") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise CLIError(f"cannot read {path} as CSV: {err}") from None
    if not rows:
        raise CLIError(f"{path} holds no data rows")
    header = None
    if not all(_is_number(c) for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise CLIError(f"{path} holds no data rows")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise CLIError(f"{path}: row {i + 1 + (header is not None)} has {len(row)} "
                           f"columns, expected {width}")
    return header, rows


def _is_number(text) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _float_matrix(rows, path):
    try:
        return xp.asarray([[float(c) for c in row] for row in rows], dtype=xp.float32)
    except ValueError as err:
        raise CLIError(f"{path}: features must be numbers ({err})") from None


def _load_file(path: str, target):
    """(X, y_raw) from a CSV or NPZ file with a target column/key."""
    if not os.path.exists(path):
        raise CLIError(f"file not found: {path}")
    if path.lower().endswith(".npz"):
        from bricks.io import read_npz

        arrays = read_npz(path)  # checked for bombs and pickles before allocating
        key = target or "y"
        xkey = next((k for k in ("X", "x", "inputs", "features") if k in arrays), None)
        if key not in arrays or xkey is None:
            raise CLIError(f"{path}: expected features under 'X' and targets under "
                           f"{key!r}; the file has {', '.join(arrays) or 'no arrays'}")
        return arrays[xkey].astype(xp.float32), arrays[key]
    if not path.lower().endswith(".csv"):
        raise CLIError(f"--data file must be .csv or .npz, got {path}")
    header, rows = _read_csv(path)
    width = len(rows[0])
    if width < 2:
        raise CLIError(f"{path}: needs at least one feature column and a target column")
    if target is None:
        col = width - 1
    elif header is not None and target in header:
        col = header.index(target)
    elif target.lstrip("-").isdigit() and -width <= int(target) < width:
        col = int(target) % width
    else:
        names = ", ".join(header) if header else f"indices 0..{width - 1}"
        raise CLIError(f"{path}: no target column {target!r}; columns: {names}")
    features = [[c for j, c in enumerate(r) if j != col] for r in rows]
    X = _float_matrix(features, path)
    y = [r[col].strip() for r in rows]
    if all(_is_number(v) for v in y):
        y = xp.asarray([float(v) for v in y])
    else:
        y = xp.asarray(y)
    return X, y


def _labels(y_raw, task, where):
    """(task, y ready for the loss, class names or None)."""
    if y_raw.dtype.kind in "US":
        if task == "regression":
            raise CLIError(f"{where}: the target holds text; it cannot be a regression target")
        task = "classification"
    elif task is None:
        whole = bool(xp.all(xp.mod(y_raw, 1) == 0)) if y_raw.size else False
        task = "classification" if whole and len(xp.unique(y_raw)) <= 50 else "regression"
    if task == "regression":
        return task, y_raw.astype(xp.float32).reshape(-1, 1), None
    if y_raw.ndim != 1:
        raise CLIError(f"{where}: class targets must be one label per sample, got shape "
                       f"{y_raw.shape}")
    names, y = xp.unique(y_raw, return_inverse=True)
    return task, y.astype(xp.int64), [_plain(v) for v in names.tolist()]


def _plain(v):
    return int(v) if isinstance(v, float) and v.is_integer() else v


def load_data(cfg: dict):
    """The data a config names, as a dict: X (N, ...) float32, y, task, classes, info."""
    from bricks.data.datasets import DATASETS, load_dataset

    data = cfg["data"]
    if os.path.isdir(data):  # one sub-folder of images per class
        from bricks.data.image_folder import ImageFolder

        size = cfg.get("image_size")
        size = tuple(int(v) for v in size.split("x")) if size else None
        mode = cfg.get("image_mode") or "RGB"
        folder = ImageFolder(data, mode=mode, size=size)
        X, y = folder.to_arrays()
        if mode == "L":
            X = X[:, 0]  # (N, H, W), as the MNIST digits
        task, classes = "classification", list(folder.classes)
        info = {"folder": os.path.abspath(data), "image_mode": mode,
                "image_size": list(folder.image_shape[1:]), "skipped": len(folder.skipped)}
    elif _is_file_spec(data):
        X, y_raw = _load_file(data, cfg.get("target"))
        task, y, classes = _labels(y_raw, cfg.get("task"), data)
        info = {"file": os.path.abspath(data), "target": cfg.get("target")}
    else:
        try:  # generated sets (toy, ...) draw fresh entropy without a seed
            X, y_raw = load_dataset(data, seed=cfg["seed"])
        except TypeError:
            X, y_raw = load_dataset(data)
        spec = DATASETS[data.strip().lower().replace("_", "-")]
        task = cfg.get("task") or spec.task
        if task == "classification":
            y, classes = y_raw.astype(xp.int64), list(spec.classes or range(
                spec.n_classes or int(y_raw.max()) + 1))
        else:
            y, classes = y_raw.astype(xp.float32).reshape(-1, 1), None
        info = {"name": spec.name}
        if spec.n_train is not None:  # the dataset's own train/test split
            info["n_train"] = spec.n_train
        if spec.vectorizer is not None:  # text: how `predict` turns new text into features
            info["text"] = spec.vectorizer().state_dict()
    if len(X) != len(y):
        raise CLIError(f"{data}: {len(X)} samples but {len(y)} targets")
    if len(X) < 4:
        raise CLIError(f"{data}: too few samples to split ({len(X)})")
    X = X.astype(xp.float32)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if not xp.all(xp.isfinite(X)):
        raise CLIError(f"{data}: the features hold NaN or infinite values")
    return {"X": X, "y": y, "task": task, "classes": classes, "info": info,
            "sample_shape": list(X.shape[1:]), "image": X.ndim in (3, 4)}


def split_data(d: dict, cfg: dict):
    from bricks.data import train_test_split

    n = d["info"].get("n_train")
    if n is not None:  # a dataset with its own split (--test-size does not apply)
        return d["X"][:n], d["X"][n:], d["y"][:n], d["y"][n:]
    stratify = d["y"] if d["task"] == "classification" else None
    try:
        return train_test_split(d["X"], d["y"], test_size=cfg["test_size"],
                                stratify=stratify, seed=cfg["seed"])
    except ValueError:
        if stratify is None:
            raise
        # a class too small to appear in both parts: split without stratification
        return train_test_split(d["X"], d["y"], test_size=cfg["test_size"],
                                seed=cfg["seed"])


def _flat(X):
    return X.reshape(len(X), -1)


def _make_scaler(kind):
    from bricks.data import MinMaxScaler, StandardScaler

    return {"standard": StandardScaler, "minmax": MinMaxScaler}.get(kind, lambda: None)()


class _Pipeline:
    """Batch inputs -> (augmented) -> flat -> scaled, as the model sees them."""

    def __init__(self, scaler, augment=None):
        self.scaler, self.augment = scaler, augment

    def __call__(self, x):
        from bricks.tensor import Tensor

        data = x.data if isinstance(x, Tensor) else xp.asarray(x)
        if self.augment is not None:
            data = self.augment(data, batched=True)
        data = _flat(data).astype(xp.float32)
        if self.scaler is not None:
            data = self.scaler.transform(data).astype(xp.float32)
        return Tensor(data)


def _augmentation(kind):
    from bricks.data import transforms as T

    return {"shift": lambda: T.RandomShift(1), "rotate": lambda: T.RandomRotation(10),
            "noise": lambda: T.GaussianNoise(0.05)}.get(kind, lambda: None)()


# ---------------------------------------------------------------- model, optimizer
def _build(cfg: dict, meta: dict):
    from bricks import nn, optim
    from bricks.models import build_mlp

    out = len(meta["classes"]) if meta["task"] == "classification" else 1
    model = build_mlp(cfg["model"], math.prod(meta["sample_shape"]), out, cfg["activation"],
                      cfg["dropout"], cfg["batch_norm"])
    cls_name, lr, kwargs = OPTIMIZERS[cfg["optimizer"]]
    optimizer = getattr(optim, cls_name)(model.parameters(), lr=cfg["lr"] or lr, **kwargs)
    scheduler = None
    if cfg["schedule"] == "cosine":
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg["epochs"])
    elif cfg["schedule"] == "step":
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=max(1, cfg["epochs"] // 3),
                                              gamma=0.1)
    loss_fn = nn.CrossEntropyLoss() if meta["task"] == "classification" else nn.MSELoss()
    return model, optimizer, scheduler, loss_fn


def _metrics(task):
    return ["accuracy"] if task == "classification" else ["mse", "mae", "r2"]


# ---------------------------------------------------------------- run folders
def _checkpoint_path(run: str) -> str:
    if os.path.isdir(run):
        path = os.path.join(run, CHECKPOINT)
        if not os.path.exists(path):
            raise CLIError(f"{run} holds no {CHECKPOINT}; is it a bricks run folder?")
        return path
    if not os.path.exists(run):
        raise CLIError(f"no such run folder or checkpoint: {run}")
    return run


def _new_run_folder(out):
    if out is not None:
        if os.path.lexists(os.path.join(out, CHECKPOINT)):
            raise CLIError(f"{out} already holds a run; choose another --out or continue it "
                           f"with --resume {out}")
        os.makedirs(out, exist_ok=True)
        return out
    os.makedirs("runs", exist_ok=True)
    for i in range(1, 100000):
        path = os.path.join("runs", f"run-{i:03d}")
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        return path
    raise CLIError("runs/ is full; pass --out")  # pragma: no cover


def _read_checkpoint(path):
    from bricks.io import load_checkpoint

    ckpt = load_checkpoint(path, restore_rng=False)
    meta = ckpt.get("metadata")
    if not isinstance(meta, dict) or "config" not in meta or "data" not in meta:
        raise CLIError(f"{path} is a bricks checkpoint but not from 'bricks train' (no "
                       f"model description in its metadata)")
    return ckpt, meta


def _restore(path, *, restore_rng=False):
    """(model, scaler, meta) of a trained run, the weights and scaler loaded."""
    from bricks.io import load_checkpoint

    _, meta = _read_checkpoint(path)
    cfg = {**DEFAULTS, **meta["config"]}
    model, optimizer, scheduler, loss_fn = _build(cfg, meta["data"])
    scaler = _make_scaler(cfg["scaler"])
    load_checkpoint(path, model=model, scaler=scaler, restore_rng=restore_rng)
    _check_finite(model, path)
    model.eval()
    return model, scaler, loss_fn, cfg, meta


def _check_finite(model, path):
    from bricks.train.callbacks import nonfinite_parameters

    bad = nonfinite_parameters(model)
    if bad:
        raise CLIError(f"{path}: the weights {', '.join(bad[:3])}"
                       f"{' ...' if len(bad) > 3 else ''} hold NaN or infinite values (a "
                       f"diverged run?); retrain with a smaller learning rate")


# ---------------------------------------------------------------- bricks train
def _say(cfg, *lines):
    if not cfg["quiet"]:
        for line in lines:
            print(line, flush=True)


def _config_for(args: argparse.Namespace) -> tuple[dict, dict]:
    """(config, options given explicitly) from defaults < --config file < flags."""
    given = dict(vars(args))
    given.pop("command", None)
    from_file = _read_toml(given.pop("config")) if "config" in given else {}
    explicit = {**from_file, **given}
    return _check_config({**DEFAULTS, **explicit}), explicit


def cmd_train(args) -> int:
    from bricks.train.run_folder import check_run_folder

    cfg, explicit = _config_for(args)
    resume = explicit.get("resume")
    ckpt_in = None
    if resume:
        ckpt_in = _checkpoint_path(resume)
        _, old = _read_checkpoint(ckpt_in)
        changed = [k for k in explicit if k not in RESUMABLE and k != "resume"
                   and explicit[k] != old["config"].get(k, DEFAULTS.get(k))]
        if changed:
            raise CLIError(f"--resume continues a run with its own settings; only "
                           f"{', '.join('--' + k for k in RESUMABLE)} may change (got "
                           f"{', '.join('--' + k.replace('_', '-') for k in changed)})")
        cfg = _check_config({**DEFAULTS, **old["config"],
                             **{k: v for k, v in explicit.items() if k in RESUMABLE}})
        # Resume writes into the run it was given (or an explicit --out), never into a
        # folder named inside the checkpoint, which anyone may have edited or moved.
        source = os.path.dirname(os.path.abspath(ckpt_in))
        cfg["out"] = explicit.get("out")
        run = cfg["out"] or source
        if os.path.abspath(run) != source:
            _new_run_folder(run)  # an explicit --out must not hold another run
        check_run_folder(run)
        if "epochs" in explicit and cfg["schedule"] != "none" and \
                explicit["epochs"] != old["config"]["epochs"]:
            print(f"bricks: note: the {cfg['schedule']} schedule was planned for "
                  f"{old['config']['epochs']} epochs; the extra epochs continue it",
                  file=sys.stderr)
    else:
        run = None  # made once the data has loaded, so a typo leaves no empty folder
        if cfg["out"] is not None and os.path.exists(os.path.join(cfg["out"], CHECKPOINT)):
            _new_run_folder(cfg["out"])  # the error about an existing run

    with _blas_threads(cfg["threads"]):
        return _train(cfg, explicit, run, ckpt_in)


def _train(cfg, explicit, run, ckpt_in) -> int:
    from bricks.train.run_folder import RunLock, check_run_folder

    t0 = time.perf_counter()
    d = load_data(cfg)
    X_train, X_test, y_train, y_test = split_data(d, cfg)
    if run is None:
        run = _new_run_folder(cfg["out"])
    check_run_folder(run)
    with RunLock(run):
        if ckpt_in is None and os.path.lexists(os.path.join(run, CHECKPOINT)):
            _new_run_folder(run)  # another run finished there since we looked: refuse
        return _train_into(run, cfg, explicit, ckpt_in, d, X_train, X_test, y_train, y_test,
                           t0)


def _train_into(run, cfg, explicit, ckpt_in, d, X_train, X_test, y_train, y_test, t0):
    from bricks.data import DataLoader, TensorDataset
    from bricks.io import atomic_write, load_checkpoint, save_checkpoint
    from bricks.train import (
        CSVLogger,
        History,
        JSONLogger,
        NaNGuard,
        Trainer,
        TrainingDiverged,
        evaluate,
    )
    from bricks.train.callbacks import nonfinite_parameters
    from bricks.train.progress import EpochProgress

    start = 0
    if d["task"] == "classification" and cfg["optimizer"] == "lbfgs" and "batch_size" not in \
            explicit:
        cfg["batch_size"] = len(X_train)  # L-BFGS wants the full batch
    if "text" in d["info"] and "scaler" not in explicit:
        cfg["scaler"] = "none"  # TF-IDF rows are already unit length
    augment_kind = cfg["augment"] or ("shift" if d["image"] else "none")
    if augment_kind != "none" and not d["image"]:
        raise CLIError(f"--augment {augment_kind} needs image data; {cfg['data']} has "
                       f"samples of shape {tuple(d['sample_shape'])}")
    meta = {"task": d["task"], "classes": d["classes"], "sample_shape": d["sample_shape"],
            "image": d["image"], "source": d["info"], "n_train": len(X_train),
            "n_test": len(X_test)}
    scaler = _make_scaler(cfg["scaler"])
    if scaler is not None:
        scaler.fit(_flat(X_train))
    X_test_in = _Pipeline(scaler)(X_test)

    manual_seed(cfg["seed"])
    model, optimizer, scheduler, loss_fn = _build(cfg, meta)
    history = History()
    if ckpt_in is not None:
        ckpt = load_checkpoint(ckpt_in, model=model, optimizer=optimizer, scheduler=scheduler,
                               scaler=scaler)  # and the random state, for identical epochs
        _check_finite(model, ckpt_in)
        start = int(ckpt["epoch"]) + 1
        history = History.from_dict(ckpt["history"])
        X_test_in = _Pipeline(scaler)(X_test)

    # Shuffling, augmentation and dropout all draw from the global generator, which the
    # checkpoint saves: a resumed run repeats the uninterrupted one exactly.
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=cfg["batch_size"],
                        shuffle=True, transform=_Pipeline(scaler, _augmentation(augment_kind)))
    # NaNGuard first, raising: a diverged epoch is neither logged nor saved.
    callbacks = [NaNGuard(raise_error=True), CSVLogger(os.path.join(run, "history.csv")),
                 JSONLogger(os.path.join(run, "history.json"))]
    trainer = Trainer(model, loss_fn, optimizer, _metrics(d["task"]), callbacks,
                      verbose=not cfg["quiet"])
    trainer.history = history
    with atomic_write(os.path.join(run, "config.toml"), "w") as f:
        f.write(_toml_text(cfg, run))
    source = cfg["data"] if "name" not in d["info"] else d["info"]["name"]
    _say(cfg, f"bricks train: {source} ({len(X_train)} train / {len(X_test)} test, "
              f"{d['task']}), model {cfg['model']} {cfg['activation']}, {cfg['optimizer']}, "
              f"{cfg['epochs']} epochs -> {run}")
    if start >= cfg["epochs"]:
        _say(cfg, f"the checkpoint already has {start} epochs; nothing to train")
    ckpt_path = os.path.join(run, CHECKPOINT)
    saved = start - 1 if ckpt_in is not None else None  # the last epoch on disk
    for cb in trainer.callbacks:
        cb.on_train_begin({})
    # Overflow is expected when training diverges; it is reported once, below, instead of
    # as NumPy warnings.
    with xp.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(start, cfg["epochs"]):
            lr = optimizer.param_groups[0]["lr"]
            progress = EpochProgress(epoch, cfg["epochs"], len(loader), not cfg["quiet"])
            try:
                logs = trainer.train_epoch(loader, epoch, progress)
                bad = nonfinite_parameters(model)
                if bad:
                    raise TrainingDiverged(f"after epoch {epoch + 1} the weights "
                                           f"{', '.join(bad[:3])} hold NaN or infinite "
                                           f"values. Try a smaller learning rate.")
                val = evaluate(model, (X_test_in, y_test), loss_fn, _metrics(d["task"]), 512)
                if not math.isfinite(val["loss"]):
                    raise TrainingDiverged(f"the held-out loss became {val['loss']} after "
                                           f"epoch {epoch + 1}. Try a smaller learning rate.")
                logs.update({"val_" + k: v for k, v in val.items()})
                logs["lr"] = float(lr)
                trainer.history.append(epoch, logs)
                progress.close(logs)
                for cb in trainer.callbacks:
                    cb.on_epoch_end(epoch, logs)
            except TrainingDiverged as err:
                if progress.bar is not None:
                    progress.bar.close()
                kept = ("nothing was saved" if saved is None else
                        f"{ckpt_path} keeps epoch {saved + 1}, the last finite one")
                print(f"bricks: error: training diverged: {err} ({kept})", file=sys.stderr)
                return 1
            if scheduler is not None:
                scheduler.step()
            save_checkpoint(ckpt_path, model, optimizer, scheduler, scaler, epoch=epoch,
                            history=trainer.history.to_dict(),
                            metadata={"config": _saved_config(cfg), "data": meta})
            saved = epoch
            if trainer.stop_training:
                break
    for cb in trainer.callbacks:
        cb.on_train_end({})
    if trainer.history.stopped_reason:
        print(f"bricks: training stopped: {trainer.history.stopped_reason}", file=sys.stderr)
    elapsed = time.perf_counter() - t0

    result = evaluate(model, (X_test_in, y_test), loss_fn, _metrics(d["task"]), 512)
    _plots(run, trainer.history, model, scaler, d, X_test, X_test_in, y_test)
    print(_result_line(result, d["task"], len(X_test)) + f" ({elapsed:.1f} s)")
    _say(cfg, f"run folder: {run}", *(f"  {p}" for p in sorted(os.listdir(run))
                                     if not p.startswith(".")))
    return 0


def _result_line(result, task, n):
    if task == "classification":
        return (f"test accuracy: {100 * result['accuracy']:.2f}% "
                f"(loss {result['loss']:.4f}, {n} held-out samples)")
    return (f"test mse: {result['mse']:.4g}  mae: {result['mae']:.4g}  r2: {result['r2']:.4f} "
            f"({n} held-out samples)")


def _plots(run, history, model, scaler, d, X_test, X_test_in, y_test):
    try:
        from bricks.train import metrics, plots, predict
    except ImportError:  # pragma: no cover
        return []
    written = []
    try:
        written.append(plots.plot_history(history, os.path.join(run, "curves.png")))
        if d["task"] == "classification":
            logits = predict(model, X_test_in, 512).data
            cm = metrics.confusion_matrix(y_test, logits, num_classes=len(d["classes"]))
            written.append(plots.plot_confusion_matrix(
                cm, os.path.join(run, "confusion_matrix.png"), labels=d["classes"]))
            if d["image"]:
                written.append(plots.plot_misclassified(
                    X_test, y_test, logits, os.path.join(run, "misclassified.png")))
            elif d["sample_shape"] == [2]:
                written.append(plots.plot_decision_boundary(
                    _scaled_model(model, scaler), X_test, y_test,
                    os.path.join(run, "decision_boundary.png")))
    except ImportError as err:
        print(f"bricks: no plots ({err})", file=sys.stderr)
    return written


def _scaled_model(model, scaler):
    from bricks import nn

    class Scaled(nn.Module):
        """The model with the run's scaler in front (raw inputs in, outputs out)."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(_Pipeline(scaler)(x))

    return Scaled()



# ---------------------------------------------------------------- evaluate, predict
def cmd_evaluate(args) -> int:
    from bricks.train import evaluate

    path = _checkpoint_path(args.run)
    model, scaler, loss_fn, cfg, meta = _restore(path)
    dmeta = meta["data"]
    if args.data is None:
        d = load_data(cfg)
        _, X, _, y = split_data(d, cfg)
        what = f"the test split of {cfg['data']}"
    else:
        d = load_data({**cfg, "data": args.data, "target": args.target})
        X, y = d["X"], d["y"]
        what = f"all of {args.data}"
        if d["task"] == "classification" and dmeta["task"] == "classification" and \
                d["classes"] != dmeta["classes"] and "file" in d["info"]:
            mapping = {c: i for i, c in enumerate(dmeta["classes"])}
            unknown = [c for c in d["classes"] if c not in mapping]
            if unknown:
                raise CLIError(f"{args.data}: classes {unknown} were not in the training data")
            y = xp.asarray([mapping[d["classes"][i]] for i in y], dtype=xp.int64)
    _check_shape(d["X"], dmeta, args.data or cfg["data"])
    result = evaluate(model, (_Pipeline(scaler)(X), y), loss_fn, _metrics(dmeta["task"]),
                      args.batch_size)
    print(f"evaluate {path} on {what}:")
    print(_result_line(result, dmeta["task"], len(X)))
    return 0


def _check_shape(X, dmeta, where):
    want = math.prod(dmeta["sample_shape"])
    got = math.prod(X.shape[1:])
    if got != want:
        raise CLIError(f"{where}: samples have {got} features ({tuple(X.shape[1:])}); the "
                       f"model expects {want} ({tuple(dmeta['sample_shape'])})")


def _read_image(path, shape):
    """A grayscale image in [0, 1] resized to ``shape``, light digit on dark like MNIST."""
    from bricks.io import limit, open_regular

    try:
        from PIL import Image
    except ImportError:
        raise CLIError("reading images needs Pillow: pip install 'bricks[plots]' (or "
                       "pip install pillow)") from None
    max_pixels = limit("BRICKS_MAX_PIXELS")
    with open_regular(path, what="image") as f:
        try:
            with Image.open(f) as im:
                # The size comes from the header; nothing is decoded until the check passes.
                if im.width * im.height > max_pixels:
                    raise CLIError(f"{path}: a {im.width}x{im.height} image has "
                                   f"{im.width * im.height:,} pixels, over the limit "
                                   f"BRICKS_MAX_PIXELS={max_pixels:,} (raise it in the "
                                   f"environment if you mean it)")
                mode = im.mode
                if mode not in ("L", "RGB", "RGBA", "I", "F") and not mode.startswith("I;16"):
                    im, mode = im.convert("RGBA"), "RGBA"
                img = xp.asarray(im, dtype=xp.float64)
        except CLIError:
            raise
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
            raise CLIError(f"cannot read image {path}: {err}") from None
    if mode.startswith("I;16"):
        img = img / 65535.0
    elif mode in ("I", "F"):
        img = img / max(float(img.max()), 1.0)
    else:
        img = img / 255.0
    if img.ndim == 3:
        img = img[..., :3].mean(axis=-1) if img.shape[-1] >= 3 else img[..., 0]
    if img.ndim != 2:
        raise CLIError(f"{path}: not a 2-D image (shape {img.shape})")
    img = _resize(img, shape)
    if img.mean() > 0.5:  # dark ink on light paper: invert to MNIST's white on black
        img = 1.0 - img
    return img.astype(xp.float32)[None]


def _resize(img, shape):
    """Area-average (shrinking) or nearest (growing) resize, NumPy only."""
    h, w = shape
    rows = (xp.arange(h + 1) * img.shape[0] / h).astype(int)
    cols = (xp.arange(w + 1) * img.shape[1] / w).astype(int)
    out = xp.empty((h, w))
    for i in range(h):
        r0, r1 = rows[i], max(rows[i + 1], rows[i] + 1)
        for j in range(w):
            c0, c1 = cols[j], max(cols[j + 1], cols[j] + 1)
            out[i, j] = img[r0:r1, c0:c1].mean()
    return out


def _read_inputs(path, dmeta):
    text = dmeta.get("source", {}).get("text")
    if text is not None and not path.lower().endswith((".npy", ".csv")):
        from bricks.data.text import vectorizer_from_state

        if os.path.isfile(path) and path.lower().endswith(".txt"):
            with open(path, encoding="utf-8") as f:  # one text per line
                texts = [line.strip() for line in f if line.strip()]
        else:
            texts = [path]  # the text itself
        if not texts:
            raise CLIError(f"{path} holds no text")
        return vectorizer_from_state(text).transform(texts).astype(xp.float32)
    if not os.path.exists(path):
        raise CLIError(f"file not found: {path}")
    low = path.lower()
    if low.endswith(".npy"):
        from bricks.io import read_npy

        X = read_npy(path)
        if X.dtype.kind not in "fiub":
            raise CLIError(f"{path}: expected numbers, got dtype {X.dtype}")
        X = X.astype(xp.float32)
        if X.ndim == len(dmeta["sample_shape"]) and list(X.shape) == dmeta["sample_shape"]:
            X = X[None]  # one sample
        if X.ndim == 1 and dmeta["sample_shape"] != [1]:
            X = X[None]
    elif low.endswith(".csv"):
        header, rows = _read_csv(path)
        X = _float_matrix(rows, path)
    elif low.endswith(IMAGE_SUFFIXES) and "folder" in dmeta.get("source", {}):
        from bricks.data.image_folder import load_image

        src = dmeta["source"]  # decoded exactly as the training folder was
        X = load_image(path, src["image_mode"], tuple(src["image_size"]))
        X = X[None, 0] if src["image_mode"] == "L" else X[None]
    elif low.endswith(IMAGE_SUFFIXES):
        if not dmeta["image"]:
            raise CLIError(f"{path} is an image, but this model takes samples of shape "
                           f"{tuple(dmeta['sample_shape'])}")
        X = _read_image(path, dmeta["sample_shape"])
    else:
        raise CLIError(f"INPUT must be a .npy, .csv or image file, got {path}")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    _check_shape(X, dmeta, path)
    if not xp.all(xp.isfinite(X)):
        raise CLIError(f"{path}: the inputs hold NaN or infinite values")
    return X


def cmd_predict(args) -> int:
    from bricks.train import predict

    path = _checkpoint_path(args.run)
    model, scaler, _, cfg, meta = _restore(path)
    dmeta = meta["data"]
    X = _read_inputs(args.input, dmeta)
    out = predict(model, _Pipeline(scaler)(X), args.batch_size).data.astype(xp.float64)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if dmeta["task"] == "classification":
        e = xp.exp(out - out.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
        classes = dmeta["classes"]
        writer.writerow(["index", "prediction", "probability",
                         *(f"p_{c}" for c in classes)])
        for i, p in enumerate(probs):
            k = int(p.argmax())
            writer.writerow([i, classes[k], f"{p[k]:.4f}", *(f"{v:.6g}" for v in p)])
        shown = [f"{i}: {classes[int(p.argmax())]} ({100 * p.max():.1f}%)"
                 for i, p in enumerate(probs)]
    else:
        writer.writerow(["index", "prediction"])
        for i, v in enumerate(out.reshape(len(out), -1)[:, 0]):
            writer.writerow([i, f"{v:.6g}"])
        shown = [f"{i}: {v:.6g}" for i, v in enumerate(out.reshape(len(out), -1)[:, 0])]
    if args.output:
        from bricks.io import atomic_write

        folder = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(folder):
            raise CLIError(f"--output folder does not exist: {folder}")
        with atomic_write(args.output, "w", newline="") as f:
            f.write(buf.getvalue())
    for line in shown[:50]:
        print(line)
    if len(shown) > 50:
        print(f"... {len(shown) - 50} more" + (f" in {args.output}" if args.output else
                                                " (use --output FILE.csv)"))
    elif args.output:
        print(f"wrote {args.output}")
    return 0


# ---------------------------------------------------------------- bricks datasets
def cmd_datasets(args) -> int:
    from bricks.data.datasets import list_datasets

    rows = [("name", "task", "samples", "shape", "classes", "description")]
    for r in list_datasets():
        rows.append((r.name, r.task, "-" if r.samples is None else f"{r.samples:,}",
                     "x".join(map(str, r.shape)), "-" if r.classes is None else
                     str(r.classes), r.description))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:5], widths)) + "  " + row[5])
    print("\nor a file: --data table.csv [--target COLUMN], --data arrays.npz (X, y)")
    return 0


# ---------------------------------------------------------------- bricks demo
def cmd_demo(args) -> int:
    from bricks import demos

    if args.list or not args.name:
        rows = demos.list_demos()
        width = max(len(name) for name, _ in rows)
        for name, title in rows:
            print(f"{name.ljust(width)}  {title}")
        if not args.list:
            print("\nrun one with: bricks demo NAME")
        return 0
    start = time.perf_counter()
    options = {} if args.model is None else {"model": args.model}
    result = demos.run_demo(args.name, Path(args.out) / args.name, fast=args.fast, **options)
    print(result.report())
    print(f"\n({time.perf_counter() - start:.1f} s)")
    return 0


# ---------------------------------------------------------------- bricks playground
def cmd_playground(args) -> int:
    from bricks.playground import playground_main

    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be in 0..65535, got {args.port}")
    return playground_main(host=args.host, port=args.port, open_browser=args.open_browser)


# ---------------------------------------------------------------- entry point
COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "datasets": cmd_datasets, "demo": cmd_demo, "playground": cmd_playground}


def main(argv=None) -> int:
    """Run the ``bricks`` command with ``argv`` (default ``sys.argv[1:]``); return the
    exit status: 0 on success, 2 for a usage or data error (one line on stderr)."""
    from bricks.data.datasets import DatasetError
    from bricks.io import CheckpointError

    parser = build_parser()
    args = None
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        with _blas_threads(getattr(args, "threads", None) or DEFAULTS["threads"]):
            return COMMANDS[args.command](args)
    except SystemExit as stop:  # --help, --version
        return stop.code if isinstance(stop.code, int) else 0
    except (CLIError, CheckpointError, DatasetError, FileNotFoundError, ValueError,
            KeyError, OSError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        text = " ".join(str(message).split())
        print(f"bricks: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = " (continue with: bricks train --resume RUN_FOLDER)" if getattr(
            args, "command", None) == "train" else ""
        print(f"bricks: interrupted{hint}", file=sys.stderr)
        return 130
